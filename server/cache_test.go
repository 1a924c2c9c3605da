package server

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/relink/relink/health"
	"github.com/relink/relink/store"
)

func TestDuplicatesAreAnsweredOKAndStoredOnce(t *testing.T) {
	e := newEnv(t)
	e.addCobalt("clinic_1")
	it := e.addPlaid()
	link := "7d2c5f3e-1111-4e0b-9a51-2b9c1a7e0d11"

	check := func(name, path string, body []byte, header func() http.Header, count func() int) {
		t.Run(name, func(t *testing.T) {
			before := count()
			answers := map[string]int{}
			var mu sync.Mutex
			var wg sync.WaitGroup
			for range 16 { // retries racing each other
				wg.Go(func() {
					req, _ := http.NewRequest(http.MethodPost, e.base+path, strings.NewReader(string(body)))
					for k, v := range header() {
						req.Header[k] = v
					}
					resp, err := e.client.Do(req)
					if err != nil {
						t.Error(err)
						return
					}
					defer resp.Body.Close()
					var b strings.Builder
					fmt.Fprint(&b, resp.StatusCode, " ")
					buf := make([]byte, 128)
					n, _ := resp.Body.Read(buf)
					b.Write(buf[:n])
					mu.Lock()
					answers[strings.TrimSpace(b.String())]++
					mu.Unlock()
				})
			}
			wg.Wait()
			status, answer := e.post(path, body, header()) // and a late retry
			answers[fmt.Sprint(status, " ", strings.TrimSpace(answer))]++
			if answers["200 stored"] != 1 || answers["200 duplicate: already stored"] != 16 || len(answers) != 2 {
				t.Errorf("answers %v", answers)
			}
			if got := count(); got != before+1 {
				t.Errorf("%d rows stored, want 1", got-before)
			}
		})
	}
	count := func(prov string) func() int {
		return func() int {
			var n int
			e.ro.QueryRow(`SELECT COUNT(*) FROM events WHERE provider = ?`, prov).Scan(&n)
			return n
		}
	}
	cb := cobaltBody(t, "evt_dup", "clinic_1", "access_token.login_required", time.Now(), loginRequired("clinic_1"))
	check("cobalt", "/webhooks/cobalt", cb, func() http.Header { return e.cobaltHeader(cb) }, count("cobalt"))
	pb := plaidError(it.ID, "ITEM_LOGIN_REQUIRED")
	check("plaid (each retry signed afresh)", "/webhooks/plaid", pb, func() http.Header { return e.plaidHeader(pb) }, count("plaid"))
	bb := belvoBody(t, "wh_dup", "LINK", "invalid_credentials", link, map[string]any{"error_code": "login_error"})
	check("belvo", "/webhooks/belvo", bb, e.belvoHeader, count("belvo"))

	if got := e.srv.m.requests[routeCobalt][resDuplicate].Load(); got != 16 {
		t.Errorf("cobalt duplicates counted %d", got)
	}
}

func TestOlderEventsDoNotRollHealthBack(t *testing.T) {
	e := newEnv(t)
	e.addCobalt("clinic_1")
	now := time.Now()
	send := func(id string, created time.Time, errType string) {
		t.Helper()
		data := loginRequired("clinic_1")
		if errType != "" {
			data["error_type"] = errType
		}
		b := cobaltBody(t, id, "clinic_1", "access_token.login_required", created, data)
		if status, answer := e.post("/webhooks/cobalt", b, e.cobaltHeader(b)); status != 200 || answer != "stored\n" {
			t.Fatalf("%s: %d %q", id, status, answer)
		}
		if _, _, _, ok := e.event("cobalt", id); !ok {
			t.Fatalf("%s is not in the history", id)
		}
	}
	send("evt_a", now.Add(-10*time.Minute), "")
	if got := e.category("cobalt", "clinic_1"); got != health.LoginRequired {
		t.Fatalf("after evt_a: %s", got)
	}
	send("evt_b", now.Add(-20*time.Minute), "password_expired") // delivered late
	if got := e.category("cobalt", "clinic_1"); got != health.LoginRequired {
		t.Fatalf("an older event rolled health back to %s", got)
	}
	cb := linkResult("clinic_1", time.Now())
	if status, answer := e.post("/callbacks/cobalt", cb, e.cobaltHeader(cb)); status != 200 {
		t.Fatalf("callback: %d %q", status, answer)
	}
	if got := e.category("cobalt", "clinic_1"); got != health.Healthy {
		t.Fatalf("after the callback: %s", got)
	}
	send("evt_c", now.Add(-5*time.Minute), "") // a retry of an old failure
	if got := e.category("cobalt", "clinic_1"); got != health.Healthy {
		t.Fatalf("an event older than the repair broke the connection again: %s", got)
	}
	send("evt_d", time.Now().Add(time.Second), "")
	if got := e.category("cobalt", "clinic_1"); got != health.LoginRequired {
		t.Fatalf("a newer failure: %s", got)
	}
}

func TestEventsForUnregisteredConnectionsWaitForTheImport(t *testing.T) {
	e := newEnv(t)
	cb := cobaltBody(t, "evt_early", "clinic_new", "access_token.login_required", time.Now(), loginRequired("clinic_new"))
	status, answer := e.post("/webhooks/cobalt", cb, e.cobaltHeader(cb))
	if status != 200 || !strings.Contains(answer, "waits") {
		t.Fatalf("cobalt: %d %q", status, answer)
	}
	pb := plaidError("item_new", "ITEM_LOCKED")
	if status, answer := e.post("/webhooks/plaid", pb, e.plaidHeader(pb)); status != 200 || !strings.Contains(answer, "waits") {
		t.Fatalf("plaid: %d %q", status, answer)
	}
	if e.category("cobalt", "clinic_new") != "" || e.category("plaid", "item_new") != "" {
		t.Fatal("a webhook created a registry entry")
	}
	if conn, _, _, ok := e.event("cobalt", "evt_early"); !ok || conn != 0 {
		t.Fatalf("the early event: stored %v, connection %d", ok, conn)
	}

	e.register(store.Registration{Provider: "cobalt", ProviderID: "clinic_new", AccessToken: "tok-c"},
		store.Registration{Provider: "plaid", ProviderID: "item_new", AccessToken: "access-sandbox-x"})
	if got := e.category("cobalt", "clinic_new"); got != health.LoginRequired {
		t.Errorf("cobalt after the import: %s", got)
	}
	if got := e.category("plaid", "item_new"); got != health.AccountLocked {
		t.Errorf("plaid after the import: %s", got)
	}
	if conn, _, _, _ := e.event("cobalt", "evt_early"); conn != e.connection("cobalt", "clinic_new").ID {
		t.Errorf("the early event is attached to %d", conn)
	}
}

func TestConcurrentWebhooksShareTransactions(t *testing.T) {
	e := newEnv(t)
	e.addCobalt("clinic_1")
	const n = 400
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			b := cobaltBody(t, fmt.Sprintf("evt_%d", i), "clinic_1", "access_token.login_required",
				time.Now().Add(-time.Duration(i)*time.Millisecond), loginRequired("clinic_1"))
			req, _ := http.NewRequest(http.MethodPost, e.base+"/webhooks/cobalt", strings.NewReader(string(b)))
			req.Header = e.cobaltHeader(b)
			resp, err := e.client.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Errorf("status %d", resp.StatusCode)
			}
		})
	}
	wg.Wait()
	if got := e.events(); got != n {
		t.Errorf("%d events stored, want %d", got, n)
	}
	batches, events := e.srv.m.batches.Load(), e.srv.m.batchEvents.Load()
	t.Logf("%d events in %d transactions", events, batches)
	if events != n || batches >= n {
		t.Errorf("%d events in %d transactions: no group commit", events, batches)
	}
}

// linkResult is the body of a Cobalt update-mode callback.
func linkResult(ref string, completed time.Time) []byte {
	return []byte(`{"access_token_reference_id":"` + ref + `","completed_at":"` + completed.UTC().Format(time.RFC3339) + `"}`)
}
