package server

import (
	"context"
	"database/sql"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/relink/relink/provider/plaid"
)

// When Plaid's key endpoint cannot be reached, the unauthenticated caller
// gets a plain sentence (Plaid retries a 503); plaid.base_url and the dial
// error go to the log only.
func TestPlaidKeyLookupFailureAnswersAPlainSentence(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String() // nothing listens there
	ln.Close()
	e := newEnv(t, func(c *Config) {
		pc, err := plaid.New(plaid.Config{BaseURL: dead, ClientID: "client-id", Secret: "plaid-secret-SECRET",
			ClientName: "Acme", HostedLink: true, Timeout: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		c.PlaidVerifier = plaid.NewVerifier(pc)
	})
	body := plaidError("item_1", "ITEM_LOGIN_REQUIRED")
	status, answer := e.post("/webhooks/plaid", body, e.plaidHeader(body))
	checkRefusal(t, status, answer, http.StatusServiceUnavailable)
	if answer != "could not verify the webhook right now; retry later\n" {
		t.Errorf("answer %q", answer)
	}
	for _, leak := range []string{ln.Addr().String(), "127.0.0.1", "http", "dial", "refused", "base_url", "SECRET"} {
		if strings.Contains(answer, leak) {
			t.Errorf("the answer %q holds %q", answer, leak)
		}
	}
	if e.logs.lines(`"level":"ERROR"`, "verification key", ln.Addr().String()) == 0 {
		t.Errorf("the log does not keep the detail:\n%s", e.logs.String())
	}
	if strings.Contains(e.logs.String(), "plaid-secret-SECRET") {
		t.Error("the log holds the Plaid secret")
	}
}

// ageProbe makes the next /healthz check the write again.
func ageProbe(s *Server) {
	s.probe.mu.Lock()
	s.probe.at = s.probe.at.Add(-time.Hour)
	s.probe.mu.Unlock()
}

func probeWrites(s *Server) int {
	s.probe.mu.Lock()
	defer s.probe.mu.Unlock()
	return s.probe.writes
}

// /healthz reports a database that answers reads but takes no write (here
// another process holds the write lock, as a stuck import would), since
// then every webhook gets 503; it checks the write at most once per
// healthzWriteEvery however often it is polled.
func TestHealthzReportsAStoreThatCannotWrite(t *testing.T) {
	e := newEnv(t)
	if status, answer := e.get("/healthz"); status != 200 || answer != "ok\n" {
		t.Fatalf("%d %q", status, answer)
	}
	other, err := sql.Open("sqlite", "file:"+e.dbPath+"?_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	other.SetMaxOpenConns(1)
	tx, err := other.BeginTx(context.Background(), nil) // BEGIN IMMEDIATE: the write lock
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	ageProbe(e.srv)
	status, answer := e.get("/healthz")
	checkRefusal(t, status, answer, http.StatusServiceUnavailable)
	if !strings.HasPrefix(answer, "database cannot write: ") || !strings.Contains(answer, "locked") {
		t.Errorf("answer %q", answer)
	}
	if e.logs.lines(`"level":"ERROR"`, "does not take a write") != 1 {
		t.Error("no log line")
	}
	tx.Rollback()
	// Polling gets the last answer, without writing, until it is due.
	writes := probeWrites(e.srv)
	for range 50 {
		if status, _ := e.get("/healthz"); status != http.StatusServiceUnavailable {
			t.Fatalf("a poll within %v: %d", healthzWriteEvery, status)
		}
	}
	if got := probeWrites(e.srv); got != writes {
		t.Errorf("50 polls wrote %d times", got-writes)
	}
	ageProbe(e.srv)
	if status, answer := e.get("/healthz"); status != 200 || answer != "ok\n" {
		t.Fatalf("after the lock is released: %d %q", status, answer)
	}
	var v int
	if err := e.ro.QueryRow("PRAGMA user_version").Scan(&v); err != nil || v == 0 {
		t.Errorf("user_version %d %v after the probe", v, err)
	}
}
