package backend_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/relink/relink/backend"
	"github.com/relink/relink/store"
	"github.com/relink/relink/vault"
)

// A burst of clicks on one link (a user clicking again and again, a mail
// client's link-preview bot) mints one provider token, however the clicks
// arrive: all at once or one after another.
func TestBurstOfClicksOnOneLinkMintsOneToken(t *testing.T) {
	w := newLinkWorld(t)
	ctx := context.Background()
	l, err := w.desk.DurableLink(ctx, "plaid:item-broken")
	if err != nil {
		t.Fatal(err)
	}
	tk := ticketOf(t, l.URL)
	const concurrent, sequential = 300, 50
	urls := make([]string, concurrent)
	var wg sync.WaitGroup
	for i := range concurrent {
		wg.Go(func() {
			r, err := w.desk.Redeem(ctx, tk)
			if err != nil || r.Outcome != backend.Redirect {
				t.Errorf("click %d: %+v %v", i, r, err)
			}
			urls[i] = r.URL
		})
	}
	wg.Wait()
	for i := range sequential {
		r, err := w.desk.Redeem(ctx, tk)
		if err != nil || r.Outcome != backend.Redirect || !r.Reused {
			t.Fatalf("click %d after the burst: %+v %v", i, r, err)
		}
		urls = append(urls, r.URL)
	}
	if n := w.mints.Load(); n != 1 {
		t.Fatalf("%d clicks minted %d provider tokens, want 1", concurrent+sequential, n)
	}
	for i, u := range urls {
		if u != urls[0] || !strings.HasPrefix(u, w.emu.URL()+"/hosted/") {
			t.Fatalf("click %d went to %q, click 0 to %q", i, u, urls[0])
		}
	}
	conn, _ := w.st.Connection(ctx, "plaid", "item-broken")
	links, _ := w.st.Links(ctx, conn.ID, 10)
	direct := 0
	for _, l := range links {
		if l.Kind == store.LinkDirect {
			direct++
		}
		if l.Kind == store.LinkDurable && l.Clicks != concurrent+sequential {
			t.Errorf("the durable link counted %d clicks, want %d", l.Clicks, concurrent+sequential)
		}
	}
	if direct != 1 {
		t.Errorf("%d minted tokens recorded, want 1", direct)
	}
}

// Each link mints once per token lifetime, and a connection mints at most
// 3 tokens at once, then one per 20 s, however many links it has: beyond
// that the click is asked to wait a minute or use the latest email's link.
func TestMintsPerConnectionAreLimited(t *testing.T) {
	w := newLinkWorld(t)
	ctx := context.Background()
	var tickets []string
	for range 5 {
		l, err := w.desk.DurableLink(ctx, "plaid:item-broken")
		if err != nil {
			t.Fatal(err)
		}
		tickets = append(tickets, ticketOf(t, l.URL))
	}
	for i, tk := range tickets[:3] {
		if r, err := w.desk.Redeem(ctx, tk); err != nil || r.Outcome != backend.Redirect || r.Reused {
			t.Fatalf("link %d: %+v %v", i, r, err)
		}
	}
	r, err := w.desk.Redeem(ctx, tickets[3])
	if err != nil || r.Outcome != backend.TooManyClicks || r.Connection != "plaid:item-broken" {
		t.Fatalf("a fourth link within the minute: %+v %v", r, err)
	}
	for _, want := range []string{"wait a minute", "the link from the latest email"} {
		if !strings.Contains(r.Reason, want) {
			t.Errorf("reason %q does not say %q", r.Reason, want)
		}
	}
	if n := w.mints.Load(); n != 3 {
		t.Fatalf("%d tokens minted, want 3", n)
	}
	// A link that has its token still goes there: nothing is minted.
	if r, err := w.desk.Redeem(ctx, tickets[0]); err != nil || r.Outcome != backend.Redirect || !r.Reused {
		t.Fatalf("the first link again: %+v %v", r, err)
	}
	*w.clock = w.clock.Add(20 * time.Second)
	if r, err := w.desk.Redeem(ctx, tickets[3]); err != nil || r.Outcome != backend.Redirect || r.Reused {
		t.Fatalf("the fourth link 20 s later: %+v %v", r, err)
	}
	if r, _ := w.desk.Redeem(ctx, tickets[4]); r.Outcome != backend.TooManyClicks {
		t.Fatalf("the fifth link at once: %+v", r)
	}
	if n := w.mints.Load(); n != 4 {
		t.Fatalf("%d tokens minted, want 4", n)
	}
	// Another connection has its own budget.
	if err := w.emu.Break("item-fine", "ITEM_LOGIN_REQUIRED", ""); err != nil {
		t.Fatal(err)
	}
	w.desk.Check(ctx, "plaid:item-fine")
	l, _ := w.desk.DurableLink(ctx, "plaid:item-fine")
	if r, err := w.desk.Redeem(ctx, ticketOf(t, l.URL)); err != nil || r.Outcome != backend.Redirect {
		t.Fatalf("another connection: %+v %v", r, err)
	}
	conn, _ := w.st.Connection(ctx, "plaid", "item-broken")
	hist, _ := w.st.History(ctx, conn.ID, 50)
	refused := 0
	for _, h := range hist {
		if h.Kind == "click" && strings.Contains(h.Summary, "refused, over 3 update-mode tokens") {
			refused++
		}
		if strings.Contains(h.Summary, "link-sandbox") || strings.Contains(h.Summary, "/hosted/") {
			t.Errorf("history holds a token: %q", h.Summary)
		}
	}
	if refused != 2 {
		t.Errorf("%d refused clicks in the history, want 2", refused)
	}
}

// A click on a link whose connection's access token the configured secret
// key does not open fails as that (naming the connection, not the token),
// without asking the provider.
func TestRedeemWithTheWrongSecretKey(t *testing.T) {
	w := newLinkWorld(t)
	ctx := context.Background()
	l, err := w.desk.DurableLink(ctx, "plaid:item-broken")
	if err != nil {
		t.Fatal(err)
	}
	other, _, _ := vault.Generate()
	st, err := store.Open(ctx, w.path, store.Options{Sealer: other})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	wrong := *w.desk
	wrong.Store = st
	r, err := wrong.Redeem(ctx, ticketOf(t, l.URL))
	t.Logf("%+v %v", r, err)
	if !errors.Is(err, backend.ErrSecretKey) || r.Connection != "plaid:item-broken" {
		t.Fatalf("wrong key: %+v %v", r, err)
	}
	if msg := err.Error(); !strings.Contains(msg, "plaid:item-broken") || !strings.Contains(msg, "secret key does not open") ||
		strings.Contains(msg, "SECRET") {
		t.Errorf("error %q", msg)
	}
	if n := w.mints.Load(); n != 0 {
		t.Errorf("%d tokens minted", n)
	}
	conn, _ := st.Connection(ctx, "plaid", "item-broken")
	hist, _ := st.History(ctx, conn.ID, 5)
	if len(hist) == 0 || hist[0].Kind != "click" || !strings.Contains(hist[0].Summary, "secret key does not open") {
		t.Errorf("history %+v", hist)
	}
	// A connection not in the cache is not taken for a key problem.
	if _, err := wrong.DirectLink(ctx, "plaid:item-gone"); errors.Is(err, backend.ErrSecretKey) || err == nil {
		t.Errorf("unknown connection: %v", err)
	}
}
