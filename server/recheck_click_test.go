package server

import (
	"context"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/relink/relink/backend"
	"github.com/relink/relink/health"
	"github.com/relink/relink/provider/sandbox"
	"github.com/relink/relink/store"
	"github.com/relink/relink/ticket"
)

// fakeTimers is an AfterFunc clock that moves only when the test moves it.
type fakeTimers struct {
	mu  sync.Mutex
	now time.Duration
	ts  []*fakeTimer
}

type fakeTimer struct {
	at   time.Duration
	f    func()
	done bool
}

func (c *fakeTimers) AfterFunc(d time.Duration, f func()) func() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{at: c.now + d, f: f}
	c.ts = append(c.ts, t)
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		stopped := !t.done
		t.done = true
		return stopped
	}
}

// Advance moves the clock by d and fires what came due, each in its own
// goroutine, as time.AfterFunc does.
func (c *fakeTimers) Advance(d time.Duration) {
	c.mu.Lock()
	c.now += d
	var due []*fakeTimer
	for _, t := range c.ts {
		if !t.done && t.at <= c.now {
			t.done = true
			due = append(due, t)
		}
	}
	c.mu.Unlock()
	for _, t := range due {
		go t.f()
	}
}

// elapsed is how far the clock has moved.
func (c *fakeTimers) elapsed() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// waiting counts the timers not yet fired or stopped.
func (c *fakeTimers) waiting() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, t := range c.ts {
		if !t.done {
			n++
		}
	}
	return n
}

// clickEnv is env with durable links and return pages served, and the
// rechecks after a click on a clock the test moves.
func clickEnv(t *testing.T) (*env, *fakeTimers) {
	t.Helper()
	clock := &fakeTimers{}
	e := newEnv(t, func(c *Config) {
		c.Reconnect = c.Backend.(*backend.Backend)
		c.Returns = c.Backend.(*backend.Backend)
		c.AfterFunc = clock.AfterFunc
	})
	signer, err := ticket.LoadOrCreate(ticket.KeyPath(e.dbPath))
	if err != nil {
		t.Fatal(err)
	}
	e.desk.Tickets, e.desk.PublicURL, e.desk.Clicks = signer, e.base, backend.NewClickGuard()
	return e, clock
}

// click opens a durable link for ref as a browser would, up to the
// provider page it redirects to, and returns that page.
func (e *env) click(ref string) string {
	e.t.Helper()
	l, err := e.desk.DurableLink(context.Background(), ref)
	if err != nil {
		e.t.Fatal(err)
	}
	c := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(l.URL)
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		e.t.Fatalf("click on %s: %d, want a redirect to the provider", ref, resp.StatusCode)
	}
	return resp.Header.Get("Location")
}

func (e *env) rechecked() int64 { return e.srv.m.rechecks[recheckOK].Load() }

// TestClickIsRecheckedWithoutAWebhook: after a durable link sends a user to
// Plaid's Hosted Link, which sends no webhook for an update-mode session
// (the link token's webhook "will not have an effect" in update mode,
// 2020-09-14.yml; LOGIN_REPAIRED is for repairs made outside it), serve
// reads the Item again at serve.recheck_after (1m, 5m, 15m, 1h) and finds
// it repaired; once it is healthy, no more reads are spent on it.
func TestClickIsRecheckedWithoutAWebhook(t *testing.T) {
	e, clock := clickEnv(t)
	ctx := context.Background()
	e.plaid.SetWebhookURL("") // whatever the emulator would send, nothing reaches serve
	it, err := e.plaid.AddConnection(sandbox.Connection{ID: "item-quiet", Code: "ITEM_LOGIN_REQUIRED"})
	if err != nil {
		t.Fatal(err)
	}
	e.register(store.Registration{Provider: "plaid", ProviderID: it.ID, AccessToken: it.AccessToken, UserRef: "u1"})
	if err := e.desk.Check(ctx, "plaid:"+it.ID); err != nil {
		t.Fatal(err)
	}
	page := e.click("plaid:" + it.ID)
	if n := clock.waiting(); n != 4 {
		t.Fatalf("%d rechecks scheduled after the click, want 4 (1m, 5m, 15m, 1h)", n)
	}
	resp, err := http.PostForm(page, url.Values{}) // the user completes the session
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if c, _ := e.plaid.Connection(it.ID); c.Code != "" {
		t.Fatalf("the emulator did not repair the Item: %+v", c)
	}

	clock.Advance(59 * time.Second)
	// Rechecks start only from these timers: none came due, none can run.
	if n := clock.waiting(); n != 4 {
		t.Fatalf("%d of the 4 rechecks still waiting before a minute: one fired early", n)
	}
	if got := e.category("plaid", it.ID); got != health.LoginRequired || e.rechecked() != 0 {
		t.Fatalf("before a minute: %s, %d rechecks", got, e.rechecked())
	}
	clock.Advance(time.Second)
	e.eventually("the recheck a minute after the click", func() bool {
		return e.category("plaid", it.ID) == health.Healthy && e.rechecked() == 1
	})
	c := e.connection("plaid", it.ID)
	if c.Health.Source != health.SourcePoll {
		t.Errorf("healthy by %s, want a poll (the recheck)", c.Health.Source)
	}

	// At 5 minutes the connection is healthy: the series ends without a read.
	clock.Advance(4 * time.Minute)
	e.eventually("the series to end", func() bool { return e.srv.re.scheduled() == 0 && clock.waiting() == 0 })
	clock.Advance(2 * time.Hour) // no timer is left to fire
	if got := e.rechecked(); got != 1 {
		t.Errorf("%d rechecks, want 1: a healthy connection is not read again", got)
	}
}

// TestClickRecheckNeverClearsCobaltLoginRequired: rechecks of a Cobalt
// connection read its event history, at every delay of the series; a read
// is a poll, so a login_required stays, even once the EHR login works again,
// until a completed Link session says otherwise (COBALT.md §6.2). A second
// click starts the series again.
func TestClickRecheckNeverClearsCobaltLoginRequired(t *testing.T) {
	e, clock := clickEnv(t)
	ctx := context.Background()
	e.cobalt.SetOnRepairedURL("") // no callback of our own Link page
	cc, err := e.cobalt.AddConnection(sandbox.Connection{ID: "clinic-locked", Code: "login_required"})
	if err != nil {
		t.Fatal(err)
	}
	e.register(store.Registration{Provider: "cobalt", ProviderID: cc.ID, AccessToken: cc.AccessToken, UserRef: "u2", OrgID: e.cobalt.OrgID()})
	ref := "cobalt:" + cc.ID
	if err := e.desk.Check(ctx, ref); err != nil {
		t.Fatal(err)
	}
	if got := e.category("cobalt", cc.ID); got != health.LoginRequired {
		t.Fatalf("before: %s", got)
	}
	e.click(ref)
	clock.Advance(30 * time.Second)
	e.click(ref) // a second click, 30 s later: the series starts again from it
	if n := clock.waiting(); n != 4 {
		t.Fatalf("%d rechecks waiting after two clicks, want 4", n)
	}
	clock.Advance(40 * time.Second)   // 70 s after the first click, 40 s after the second
	if n := clock.waiting(); n != 4 { // the first click's series was stopped: nothing came due
		t.Fatalf("%d of the second series' 4 rechecks still waiting 40 s after it: one fired early", n)
	}
	if got := e.rechecked(); got != 0 {
		t.Fatalf("%d rechecks 40 s after the second click, want 0", got)
	}
	clock.Advance(20 * time.Second)
	e.eventually("the recheck a minute after the second click", func() bool { return e.rechecked() == 1 })

	if err := e.cobalt.Repair(cc.ID); err != nil { // the EHR login works again; Cobalt says nothing
		t.Fatal(err)
	}
	for i, at := range []time.Duration{5 * time.Minute, 15 * time.Minute, time.Hour} {
		clock.Advance(at - clock.elapsed() + 30*time.Second)
		e.eventually("a recheck of the series", func() bool { return e.rechecked() == int64(i+2) })
		if got := e.category("cobalt", cc.ID); got != health.LoginRequired {
			t.Fatalf("after the recheck at %v: %s; a history read must not clear login_required", at, got)
		}
	}
	if n := e.srv.re.scheduled(); n != 0 {
		t.Errorf("%d series left after the last delay", n)
	}
}
