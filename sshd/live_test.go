package sshd

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/relink/relink/server"
	"github.com/relink/relink/ui"
)

// Stopping the hub (SIGTERM cancels serve's context) tells every open
// session, in one line after its terminal is restored, that the hub is
// going down, and ends it.
func TestStopTellsEverySessionTheHubIsGoingDown(t *testing.T) {
	dana, sam := newKey(t), newKey(t)
	h := newHub(t, 2, []Person{{Name: "dana", Role: ui.RoleLead, Keys: []gossh.PublicKey{dana.pub}},
		{Name: "sam", Role: ui.RoleViewer, Keys: []gossh.PublicKey{sam.pub}}}, nil)
	td, ts := h.open(dana, 100, 30), h.open(sam, 100, 30)
	td.dashboard()
	ts.dashboard()
	h.shutdown()
	for _, tm := range []*term{td, ts} {
		tm.ended("the hub stopping")
		text := strings.TrimRight(tm.text(), "\r\n ")
		if !strings.HasSuffix(text, "relink: the hub is going down; reconnect in a minute.") {
			t.Fatalf("the session's last words:\n%s", text[max(0, len(text)-300):])
		}
	}
}

// A webhook stored by the hub's server shows on every open session's screen
// at once: the server's OnStored is the hub's Notify, and the session
// re-reads on the notice. The periodic re-read is an hour away, so only
// the notice can have done it; the new tab's count comes from the
// sessions' shared reads, which the notice must have made read again.
func TestAStoredWebhookShowsOnOpenScreensAtOnce(t *testing.T) {
	dana, sam := newKey(t), newKey(t)
	h := newHub(t, 3, []Person{{Name: "dana", Role: ui.RoleLead, Keys: []gossh.PublicKey{dana.pub}},
		{Name: "sam", Role: ui.RoleViewer, Keys: []gossh.PublicKey{sam.pub}}}, func(o *Options) {
		dash := o.Dashboard
		o.Dashboard = func(p Person) ui.Options {
			d := dash(p)
			d.RefreshInterval = time.Hour
			return d
		}
	})
	srv, err := server.New(server.Config{Store: h.st, PlaidVerifier: h.pc.NewWebhookVerifier(), OnStored: h.srv.Notify})
	if err != nil {
		t.Fatal(err)
	}
	web := httptest.NewServer(srv.Handler())
	t.Cleanup(func() { web.Close(); srv.Close() })

	td, ts := h.open(dana, 120, 35), h.open(sam, 120, 35)
	td.dashboard()
	ts.dashboard()
	if strings.Contains(td.text(), "account_locked") {
		t.Fatal("account_locked on screen before the webhook")
	}

	// User 0000's bank locked the account: a new category, a new tab.
	body, _ := json.Marshal(map[string]any{"webhook_type": "ITEM", "webhook_code": "ERROR", "item_id": "item-0000",
		"environment": "sandbox", "error": map[string]any{"error_type": "ITEM_ERROR", "error_code": "ITEM_LOCKED",
			"error_message": "the account is locked", "display_message": nil, "status": 400}})
	sig, err := h.emu.SignWebhook(body)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", web.URL+"/webhooks/plaid", bytes.NewReader(body))
	req.Header.Set("Plaid-Verification", sig)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("the webhook: %s", resp.Status)
	}
	start := time.Now()
	td.waitText("the lock's tab on dana's screen", "account_locked 1")
	ts.waitText("the lock's tab on sam's screen", "account_locked 1")
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("the webhook took %v to show", d)
	}
}

// Notify never blocks and coalesces: a flood leaves each session one
// notice to take, whatever its size.
func TestNotifyCoalescesAFlood(t *testing.T) {
	dana := newKey(t)
	h := newHub(t, 1, []Person{{Name: "dana", Role: ui.RoleLead, Keys: []gossh.PublicKey{dana.pub}}}, nil)
	tm := h.open(dana, 100, 30)
	tm.dashboard()
	h.srv.mu.Lock()
	var se *session
	for s := range h.srv.sessions {
		se = s
	}
	h.srv.mu.Unlock()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 10000 {
			h.srv.Notify()
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Notify blocked")
	}
	if n := len(se.changed); n > 1 {
		t.Fatalf("%d notices queued for one session", n)
	}
	tm.press("j")
	tm.waitText("the dashboard still answering", "›  User")
}

// Notify tells the sessions at once, then at most once every NoticeEvery:
// the changes within it are told together at its end, so a flood of
// stored webhooks costs each session a few re-reads a second.
func TestNotifyTellsAtMostOnceEveryNoticeEvery(t *testing.T) {
	srv, err := New(Options{HostKeyFile: filepath.Join(t.TempDir(), "host"), NoticeEvery: time.Hour,
		Dashboard: func(Person) ui.Options { return ui.Options{} }})
	if err != nil {
		t.Fatal(err)
	}
	var due []func()
	srv.after = func(_ time.Duration, f func()) { due = append(due, f) }
	se := &session{changed: make(chan struct{}, 1)}
	srv.sessions[se] = struct{}{}
	told := func() bool {
		select {
		case <-se.changed:
			return true
		default:
			return false
		}
	}

	srv.Notify()
	if !told() {
		t.Fatal("the first change was not told at once")
	}
	srv.Notify()
	srv.Notify()
	srv.Notify()
	if told() {
		t.Fatal("a change within NoticeEvery of the last notice was told at once")
	}
	if len(due) != 1 {
		t.Fatalf("%d notices scheduled for three changes within NoticeEvery, want 1", len(due))
	}
	due[0]()
	if !told() {
		t.Fatal("the changes within NoticeEvery were not told at its end")
	}
	srv.Notify()
	if told() || len(due) != 2 {
		t.Fatalf("a change right after the notice due: told at once, or not scheduled (%d scheduled)", len(due))
	}
}
