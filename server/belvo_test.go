package server

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/relink/relink/health"
	"github.com/relink/relink/provider/sandbox"
)

func belvoBody(t testing.TB, id, typ, code, linkID string, data any) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{"webhook_id": id, "webhook_type": typ, "webhook_code": code,
		"process_type": "recurrent_update", "link_id": linkID, "request_id": "req-1", "external_id": nil, "data": data})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (e *env) belvoHeader() http.Header {
	return http.Header{"Authorization": {e.belvo.WebhookAuthorization()}}
}

func TestBelvoWebhooksFromTheEmulatorUpdateTheCache(t *testing.T) {
	// Belvo webhooks carry no time: each is observed when received, by a
	// server clock that moves a second before each step (and stays in the
	// past, so the recheck's poll, at the real now, is newer).
	clock := newTestClock(time.Now().Add(-time.Hour))
	e := newEnv(t, func(c *Config) { c.Now = clock.Now })
	link, err := e.belvo.AddConnection(sandbox.Connection{UserRef: "user-1"})
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name string
		act  func() error
		want health.Category
	}{
		// Belvo lists its links itself: the first webhook registers the link.
		{"invalid credentials", func() error { return e.belvo.Break(link.ID, "invalid", "") }, health.LoginRequired},
		{"token required", func() error { return e.belvo.Break(link.ID, "token_required", "") }, health.MFARequired},
		{"locked, by the login rules", func() error {
			return e.belvo.Break(link.ID, "invalid", "Your account is locked, contact your bank")
		}, health.AccountLocked},
	}
	for _, s := range steps {
		clock.Advance(time.Second) // distinct event times
		if err := s.act(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if got := e.category("belvo", link.ID); got != s.want {
			t.Fatalf("%s: category %s, want %s", s.name, got, s.want)
		}
	}
	// Belvo sends no "valid again" webhook: the historical update after a
	// widget repair asks for a recheck, which reads the link back healthy.
	if err := e.belvo.Repair(link.ID); err != nil {
		t.Fatal(err)
	}
	// A recheck is counted once it has stored what it read: wait for the
	// count, not just for its effect, before reading it.
	e.eventually("the recheck after the historical update", func() bool {
		return e.srv.m.rechecks[recheckOK].Load()+e.srv.m.rechecks[recheckFailed].Load() > 0
	})
	if got := e.category("belvo", link.ID); got != health.Healthy {
		t.Errorf("after the recheck: category %s, want %s", got, health.Healthy)
	}
	if got := e.srv.m.rechecks[recheckOK].Load(); got != 1 {
		t.Errorf("%d rechecks, want 1", got)
	}
	var verified string
	if err := e.ro.QueryRow(`SELECT DISTINCT verified FROM events WHERE provider = 'belvo' AND event_id IS NOT NULL`).Scan(&verified); err != nil || verified != "authorization" {
		t.Errorf("verified %q (%v)", verified, err)
	}
	if strings.Contains(e.logs.String(), e.belvo.WebhookAuthorization()) {
		t.Error("the log holds the Authorization value")
	}
}

func TestBelvoBadInputChangesNothing(t *testing.T) {
	e := newEnv(t)
	link, err := e.belvo.AddConnection(sandbox.Connection{})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.belvo.Break(link.ID, "invalid", ""); err != nil {
		t.Fatal(err)
	}
	auth := e.belvo.WebhookAuthorization()
	valid := belvoBody(t, "wh_forged", "LINK", "token_required", link.ID, map[string]any{"error_code": "token_required"})
	cases := []struct {
		name string
		auth string
		body []byte
		want int
	}{
		{"no Authorization", "", valid, 401},
		{"wrong Authorization", "Bearer not-the-token", valid, 401},
		{"Authorization with a suffix", auth + "x", valid, 401},
		{"Basic instead of the Bearer value", "Basic dXNlcjpwYXNz", valid, 401},
		{"malformed JSON", auth, []byte(`{"webhook_id": "wh_1"`), 400},
		{"no webhook_id", auth, belvoBody(t, "", "LINK", "invalid_credentials", link.ID, nil), 400},
		{"no link_id", auth, belvoBody(t, "wh_3", "LINK", "invalid_credentials", "", nil), 400},
		{"no webhook_code", auth, belvoBody(t, "wh_4", "LINK", "", link.ID, nil), 400},
		{"webhook_id not a string", auth, []byte(`{"webhook_id": 7, "webhook_type": "LINK", "webhook_code": "token_required", "link_id": "` + link.ID + `"}`), 400},
		{"LINK data not an object", auth, belvoBody(t, "wh_5", "LINK", "token_required", link.ID, "oops"), 400},
		{"body over the limit", auth, belvoBody(t, "wh_6", "LINK", "token_required", link.ID, map[string]any{"error_message": strings.Repeat("x", 70<<10)}), 413},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			events, refused := e.events(), e.logs.lines("refused")
			h := http.Header{}
			if c.auth != "" {
				h.Set("Authorization", c.auth)
			}
			status, answer := e.post("/webhooks/belvo", c.body, h)
			checkRefusal(t, status, answer, c.want)
			if got := e.events(); got != events {
				t.Errorf("events %d → %d", events, got)
			}
			if got := e.category("belvo", link.ID); got != health.LoginRequired {
				t.Errorf("category became %s", got)
			}
			if e.logs.lines("refused") != refused+1 {
				t.Errorf("no refusal log line")
			}
		})
	}
	if strings.Contains(e.logs.String(), auth) {
		t.Error("the log holds the Authorization value")
	}
}
