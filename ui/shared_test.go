package ui

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/relink/relink/health"
	"github.com/relink/relink/store"
)

// breakOne makes a healthy connection of newStore's login_required, as a
// webhook would, behind the dashboards' backs.
func breakOne(t *testing.T, st *store.Store) {
	t.Helper()
	sig := health.Signal{Effect: health.SetPrimary, Category: health.LoginRequired, ProviderCode: "ITEM_LOGIN_REQUIRED",
		Source: health.SourceWebhook, ObservedAt: epoch}
	if _, err := st.Apply(context.Background(), []store.Observation{{Provider: "belvo", ProviderID: "belvo-0030",
		EventID: "evt-shared", Kind: "webhook", Signal: sig, ReceivedAt: epoch}}); err != nil {
		t.Fatal(err)
	}
}

func loginRequired(h *harness) int { return h.m.counts.ByCategory[health.LoginRequired] }

// TestSharedReadsOnePerHub: two sessions of one hub share their counts: a
// re-read by the second after the first read them is served from that
// read, until the hub says the cache changed (Changed) or the result is
// older than the max age; then the next re-read reads the store again.
func TestSharedReadsOnePerHub(t *testing.T) {
	st := newStore(t)
	now := epoch
	shared := NewSharedReads(st, time.Minute, func() time.Time { return now })
	a := newHarness(t, st, Options{Shared: shared}, 120, 35)
	b := newHarness(t, st, Options{Shared: shared}, 120, 35)
	if loginRequired(a) != 14 || loginRequired(b) != 14 {
		t.Fatalf("login_required: %d and %d, want 14 (the seed)", loginRequired(a), loginRequired(b))
	}
	breakOne(t, st)
	b.advance(3 * time.Second) // b's re-read
	if got := loginRequired(b); got != 14 {
		t.Fatalf("b's re-read before any notice says %d login_required; want 14, served from the shared read", got)
	}
	shared.Changed()
	b.advance(3 * time.Second)
	if got := loginRequired(b); got != 15 {
		t.Fatalf("b's re-read after Changed says %d login_required, want 15 (read again)", got)
	}
	if !strings.Contains(b.screen(), "15") {
		t.Fatalf("b's tabs do not show 15:\n%s", b.screen())
	}

	// Without a notice, the max age bounds how long a result serves.
	breakTwo := health.Signal{Effect: health.SetPrimary, Category: health.LoginRequired, ProviderCode: "ITEM_LOGIN_REQUIRED",
		Source: health.SourceWebhook, ObservedAt: epoch}
	if _, err := st.Apply(context.Background(), []store.Observation{{Provider: "belvo", ProviderID: "belvo-0036",
		EventID: "evt-shared-2", Kind: "webhook", Signal: breakTwo, ReceivedAt: epoch}}); err != nil {
		t.Fatal(err)
	}
	a.advance(3 * time.Second)
	if got := loginRequired(a); got != 15 {
		t.Fatalf("a's re-read within the max age says %d, want 15 (served)", got)
	}
	now = now.Add(time.Minute)
	a.advance(3 * time.Second)
	if got := loginRequired(a); got != 16 {
		t.Fatalf("a's re-read past the max age says %d, want 16 (read again)", got)
	}
}

// TestSharedReadsCopies: what one session gets is its own: changing it
// changes nothing another session gets.
func TestSharedReadsCopies(t *testing.T) {
	st := newStore(t)
	shared := NewSharedReads(st, time.Minute, nil)
	ctx := context.Background()
	c1, err := shared.Counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c1.ByCategory[health.LoginRequired] = 999
	c2, err := shared.Counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c2.ByCategory[health.LoginRequired] != 14 {
		t.Fatalf("a second reader got %d login_required, changed by the first; want 14", c2.ByCategory[health.LoginRequired])
	}
}

// TestSharedReadsOfAnotherStore: a dashboard refuses shared reads of a
// store other than its own.
func TestSharedReadsOfAnotherStore(t *testing.T) {
	_, err := New(Options{Store: newStore(t), Shared: NewSharedReads(newStore(t), 0, nil)})
	if err == nil || !strings.Contains(err.Error(), "another store") {
		t.Fatalf("New with another store's shared reads: %v, want an error saying so", err)
	}
}

// TestSharedReadsWaitForASlot: with every read slot taken (the sessions'
// reads under way), another read waits, and gives up when its context
// ends, rather than take one more of the store's connections.
func TestSharedReadsWaitForASlot(t *testing.T) {
	shared := NewSharedReads(newStore(t), time.Minute, nil)
	for range sharedReadSlots {
		shared.slots <- struct{}{}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := shared.Page(ctx, store.PageQuery{Group: store.Group{Kind: store.GroupAllFailing}, Limit: 5}); err != context.Canceled {
		t.Fatalf("a page read with every slot taken: %v, want it to wait (context.Canceled)", err)
	}
	if _, err := shared.Counts(ctx); err != context.Canceled {
		t.Fatalf("a shared read with every slot taken: %v, want it to wait (context.Canceled)", err)
	}
	<-shared.slots
	rows, err := shared.Page(context.Background(), store.PageQuery{Group: store.Group{Kind: store.GroupAllFailing}, Limit: 5})
	if err != nil || len(rows) != 5 {
		t.Fatalf("a page read with a slot free: %d rows, %v; want 5", len(rows), err)
	}
}

// TestSharedInsightsSettle: after Changed the counts are read again at
// once, the insights (here the breakdown) only once their read is
// insightsSettle old: a flood of notices re-reads them once a second.
func TestSharedInsightsSettle(t *testing.T) {
	st := newStore(t)
	ctx := context.Background()
	now := epoch
	shared := NewSharedReads(st, time.Minute, func() time.Time { return now })
	total := func() int {
		bs, err := shared.Breakdown(ctx, health.LoginRequired, 10)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, b := range bs {
			n += b.N
		}
		return n
	}
	if got := total(); got != 14 {
		t.Fatalf("breakdown of login_required sums to %d, want 14 (the seed)", got)
	}
	breakOne(t, st)
	shared.Changed()
	if c, err := shared.Counts(ctx); err != nil || c.ByCategory[health.LoginRequired] != 15 {
		t.Fatalf("counts after Changed: %v %v, want 15 login_required", c.ByCategory, err)
	}
	now = now.Add(insightsSettle / 2)
	if got := total(); got != 14 {
		t.Fatalf("breakdown within insightsSettle of its read sums to %d, want 14 (served)", got)
	}
	now = now.Add(insightsSettle / 2)
	if got := total(); got != 15 {
		t.Fatalf("breakdown insightsSettle after its read sums to %d, want 15 (read again)", got)
	}
}

// TestSharedPagesServeTheSameWindowOnce: sessions showing the same window
// of a group share one read of it until the hub says the cache changed; a
// window of its own is read for itself; and each gets its own copy.
func TestSharedPagesServeTheSameWindowOnce(t *testing.T) {
	st := newStore(t)
	ctx := context.Background()
	shared := NewSharedReads(st, time.Minute, func() time.Time { return epoch })
	q := store.PageQuery{Group: store.Group{Kind: store.GroupCategory, Category: health.LoginRequired}, Limit: 50}
	page := func(q store.PageQuery) []store.Connection {
		t.Helper()
		rows, err := shared.Page(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		return rows
	}
	if n := len(page(q)); n != 14 {
		t.Fatalf("first read: %d login_required rows, want 14 (the seed)", n)
	}
	breakOne(t, st)
	if n := len(page(q)); n != 14 {
		t.Fatalf("the same window before any notice: %d rows, want 14, served from the shared read", n)
	}
	own := q
	own.Offset = 1
	if n := len(page(own)); n != 14 {
		t.Fatalf("another window: %d rows, want 14 (15 from the store, less the one skipped)", n)
	}
	shared.Changed()
	rows := page(q)
	if len(rows) != 15 {
		t.Fatalf("after Changed: %d rows, want 15 (read again)", len(rows))
	}
	name := rows[0].Name
	rows[0].Name = "changed by a session"
	if got := page(q)[0].Name; got != name {
		t.Fatalf("a second reader got %q, changed by the first; want %q", got, name)
	}
}
