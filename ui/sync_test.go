package ui

import (
	"context"
	"iter"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/relink/relink/backend"
	"github.com/relink/relink/provider"
)

// The sync's toast says what each provider's sync read: the connections
// it checked and, apart, the events (Cobalt's history), never one number
// for both.
func TestSyncToastCountsConnectionsAndEvents(t *testing.T) {
	h := newHarness(t, newStore(t), Options{}, 120, 35)
	h.send(syncDoneMsg{reports: []backend.SyncReport{
		{Provider: "cobalt", Seen: 486, Events: 1, Changed: 1},
		{Provider: "plaid", Seen: 40},
	}})
	mustContain(t, h.line("synced"), "✓ synced cobalt 486 checked, 1 event · plaid 40 checked (1 changed)")
}

// heldProvider is a provider whose sync holds until released and reads
// nothing; it counts its passes.
type heldProvider struct {
	provider.Provider
	passes  atomic.Int32
	release chan struct{}
}

func (p *heldProvider) Sync(_ context.Context, _ iter.Seq[provider.Conn], cursor string, _ func(provider.Observation) error) (string, error) {
	p.passes.Add(1)
	<-p.release
	return cursor, nil
}

// releaseOnceWaitedFor lets held's sync end once a session waits for it
// (the harness runs a session's commands to their end), or once gaveUp
// closes: the session never waited.
func releaseOnceWaitedFor(desk *backend.Backend, held *heldProvider, gaveUp <-chan struct{}) {
	defer close(held.release)
	for desk.SyncStatus().Waiting == 0 {
		select {
		case <-gaveUp:
			return
		case <-time.After(time.Millisecond):
		}
	}
}

// On a hub, ctrl+r while the hub's own sync runs says so at once, follows
// that sync (no second pass over the provider) and shows its result.
func TestCtrlRDuringTheHubsSyncFollowsIt(t *testing.T) {
	st := newStore(t)
	held := &heldProvider{release: make(chan struct{})}
	desk := &backend.Backend{Store: st, Providers: map[string]provider.Provider{"plaid": held}, Operator: "admin",
		Now: fixedClock, Syncs: backend.NewSyncGate()}
	hubDone := make(chan error, 1)
	go func() { _, err := desk.As("the hub").Sync(context.Background(), nil, nil); hubDone <- err }()
	for !desk.SyncStatus().Running {
		time.Sleep(time.Millisecond)
	}
	gaveUp := make(chan struct{})
	go releaseOnceWaitedFor(desk, held, gaveUp)
	h := newHarness(t, st, Options{Actions: desk.As("lee"), Operator: "lee", Providers: []string{"plaid"}}, 120, 35)
	h.clk.now = epoch.Add(20 * time.Second)
	var said []string
	h.onMsg = func(msg tea.Msg) {
		if _, ok := msg.(tea.KeyPressMsg); ok {
			said = append(said, h.line("already running"))
		}
	}
	h.press("ctrl+r")
	close(gaveUp)
	h.onMsg = nil
	if err := <-hubDone; err != nil {
		t.Fatal(err)
	}
	if len(said) != 1 || !strings.Contains(said[0], "a sync is already running, started by the hub 20s ago; its result will show here") {
		t.Fatalf("ctrl+r said %q", said)
	}
	mustContain(t, h.line("synced"), "✓ synced plaid 0 checked")
	if n := held.passes.Load(); n != 1 {
		t.Fatalf("%d passes over the provider", n)
	}
}

// Every session shows the hub's sync while it runs, without asking: the
// hub's notice that a sync began makes each one follow it (never start
// one), its progress in a task and its result on the status line.
func TestEverySessionFollowsTheHubsSync(t *testing.T) {
	st := newStore(t)
	held := &heldProvider{release: make(chan struct{})}
	desk := &backend.Backend{Store: st, Providers: map[string]provider.Provider{"plaid": held}, Operator: "admin",
		Now: fixedClock, Syncs: backend.NewSyncGate()}
	h := newHarness(t, st, Options{Actions: desk.As("sam"), Operator: "sam", Providers: []string{"plaid"}}, 120, 35)
	h.send(changedMsg{}) // a notice with no sync running: nothing to follow
	if len(h.m.tasks) != 0 || h.m.syncRunning != 0 {
		t.Fatalf("a session followed no sync: %+v", h.m.tasks)
	}

	hubDone := make(chan error, 1)
	go func() { _, err := desk.As("the hub").Sync(context.Background(), nil, nil); hubDone <- err }()
	for !desk.SyncStatus().Running {
		time.Sleep(time.Millisecond)
	}
	gaveUp := make(chan struct{})
	go releaseOnceWaitedFor(desk, held, gaveUp)
	var shown []string
	h.onMsg = func(msg tea.Msg) {
		if _, ok := msg.(changedMsg); ok {
			shown = append(shown, h.line("sync"))
		}
	}
	h.send(changedMsg{}) // the hub's notice that its sync began
	close(gaveUp)
	h.onMsg = nil
	if err := <-hubDone; err != nil {
		t.Fatal(err)
	}
	if len(shown) != 1 || !strings.Contains(shown[0], "the hub's sync") {
		t.Fatalf("while it ran the session showed %q", shown)
	}
	mustContain(t, h.line("synced"), "✓ the hub synced plaid 0 checked")
	if n := held.passes.Load(); n != 1 || len(h.m.tasks) != 0 {
		t.Fatalf("%d passes over the provider; tasks %+v", n, h.m.tasks)
	}
}
