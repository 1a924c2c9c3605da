package backend_test

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/relink/relink/backend"
	"github.com/relink/relink/provider"
	"github.com/relink/relink/provider/cobalt"
	"github.com/relink/relink/provider/plaid"
	"github.com/relink/relink/provider/sandbox"
	"github.com/relink/relink/store"
	"github.com/relink/relink/vault"
)

// openStore is a fresh cache with regs registered.
func openStore(t *testing.T, regs ...store.Registration) *store.Store {
	t.Helper()
	ctx := context.Background()
	key, _, _ := vault.Generate()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "s.db"), store.Options{Sealer: key})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	im, err := st.BeginImport(ctx, "test")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range regs {
		if err := im.Add(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := im.Commit(ctx, "test"); err != nil {
		t.Fatal(err)
	}
	return st
}

// A Cobalt sync reads each connection's event history: the report counts
// the connections it checked once each, and the events apart, so a sync
// of four connections, one with a login_required event, is "4 checked,
// 1 event", not 5 of anything.
func TestSyncCountsConnectionsAndEventsApart(t *testing.T) {
	emu, err := sandbox.NewCobalt(sandbox.CobaltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer emu.Close()
	var regs []store.Registration
	for i := range 4 {
		c := sandbox.Connection{ID: fmt.Sprintf("ref_%d", i), UserRef: fmt.Sprintf("u%d", i)}
		if i == 0 {
			c.Code = "login_required"
		}
		c, err := emu.AddConnection(c)
		if err != nil {
			t.Fatal(err)
		}
		regs = append(regs, store.Registration{Provider: provider.Cobalt, ProviderID: c.ID, AccessToken: c.AccessToken, UserRef: c.UserRef})
	}
	st := openStore(t, regs...)
	id, secret := emu.Credentials()
	cc, err := cobalt.New(cobalt.Config{BaseURL: emu.URL(), ClientID: id, ClientSecret: secret, OrgID: emu.OrgID()})
	if err != nil {
		t.Fatal(err)
	}
	d := &backend.Backend{Store: st, Providers: map[string]provider.Provider{provider.Cobalt: cc}, Operator: "lee"}
	var last backend.SyncProgress
	reps, err := d.Sync(context.Background(), nil, func(p backend.SyncProgress) { last = p })
	if err != nil {
		t.Fatal(err)
	}
	r := reps[0]
	if r.Seen != 4 || r.Events != 1 || r.Counts() != "4 checked, 1 event" {
		t.Fatalf("report: %d checked, %d events (%q)", r.Seen, r.Events, r.Counts())
	}
	if last.Seen != 4 || last.Total != 4 || last.Events != 1 || last.By != "lee" {
		t.Fatalf("progress %+v: the connections checked of the registered ones", last)
	}
	states, _ := st.SyncStates(context.Background())
	if states[provider.Cobalt].Seen != 4 {
		t.Fatalf("the recorded sync saw %d connections", states[provider.Cobalt].Seen)
	}
}

// gatedProvider counts the passes over a provider and holds each one at
// its start until released.
type gatedProvider struct {
	provider.Provider
	passes  atomic.Int32
	entered chan struct{}
	release chan struct{}
}

func (g *gatedProvider) Sync(ctx context.Context, conns iter.Seq[provider.Conn], cursor string, emit func(provider.Observation) error) (string, error) {
	g.passes.Add(1)
	g.entered <- struct{}{}
	<-g.release
	return g.Provider.Sync(ctx, conns, cursor, emit)
}

// gatedPlaid is a backend over n Plaid emulator Items behind a gate (one
// SyncGate, as the hub has), with its provider held at each pass's start.
func gatedPlaid(t *testing.T, n int) (*backend.Backend, *gatedProvider) {
	t.Helper()
	emu, err := sandbox.NewPlaid(sandbox.PlaidOptions{PerItemPerMinute: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	var regs []store.Registration
	for i := range n {
		c := sandbox.Connection{ID: fmt.Sprintf("item-%d", i), AccessToken: fmt.Sprintf("access-sandbox-%d", i), Code: "ITEM_LOGIN_REQUIRED"}
		if _, err := emu.AddConnection(c); err != nil {
			t.Fatal(err)
		}
		regs = append(regs, store.Registration{Provider: provider.Plaid, ProviderID: c.ID, AccessToken: c.AccessToken, UserRef: "u"})
	}
	emu.Faults.SetLatency(5 * time.Millisecond) // a slow provider; the gate holds the pass itself
	st := openStore(t, regs...)
	id, secret := emu.Credentials()
	pc, err := plaid.New(plaid.Config{BaseURL: emu.URL(), ClientID: id, Secret: secret, ClientName: "t", Language: "en", CountryCodes: []string{"US"}, HostedLink: true,
		PerItemPerMinute: 1000})
	if err != nil {
		t.Fatal(err)
	}
	gp := &gatedProvider{Provider: pc, entered: make(chan struct{}, 4), release: make(chan struct{})}
	return &backend.Backend{Store: st, Providers: map[string]provider.Provider{provider.Plaid: gp}, Operator: "admin",
		Syncs: backend.NewSyncGate()}, gp
}

// One sync at a time across the hub: while the hub's sync runs, a
// session's ctrl+r does not start another pass over the provider; it waits
// for the hub's, sees its progress (named as the hub's), and gets its
// result. Every copy made by As shares the gate and sees its state.
func TestTwoSyncsAtOnceMakeOnePass(t *testing.T) {
	desk, gp := gatedPlaid(t, 5)
	hub, lee := desk.As("the hub"), desk.As("lee")
	ctx := context.Background()

	var wg sync.WaitGroup
	var hubReps, leeReps []backend.SyncReport
	var hubErr, leeErr error
	wg.Go(func() { hubReps, hubErr = hub.Sync(ctx, nil, nil) })
	<-gp.entered
	if s := lee.SyncStatus(); !s.Running || s.By != "the hub" {
		t.Fatalf("another session sees %+v, not the hub's sync running", s)
	}
	var mu sync.Mutex
	var seenBy []string
	wg.Go(func() {
		leeReps, leeErr = lee.Sync(ctx, nil, func(p backend.SyncProgress) {
			mu.Lock()
			seenBy = append(seenBy, p.By)
			mu.Unlock()
		})
	})
	for desk.SyncStatus().Waiting != 1 {
		select {
		case <-gp.entered:
			t.Fatal("a second pass over the provider started while the first ran")
		case <-time.After(time.Millisecond):
		}
	}
	close(gp.release)
	wg.Wait()
	if hubErr != nil || leeErr != nil {
		t.Fatal(hubErr, leeErr)
	}
	if n := gp.passes.Load(); n != 1 {
		t.Fatalf("%d passes over the provider for two syncs at once", n)
	}
	if len(leeReps) != 1 || leeReps[0].Seen != 5 || hubReps[0].Seen != 5 {
		t.Fatalf("lee got %+v, the hub %+v: both the one sync's result", leeReps, hubReps)
	}
	mu.Lock()
	if len(seenBy) == 0 || seenBy[len(seenBy)-1] != "the hub" {
		t.Fatalf("lee's progress came from %v, not the hub's sync", seenBy)
	}
	mu.Unlock()
	if s := lee.SyncStatus(); s.Running || s.LastEnded.IsZero() || len(s.LastReports) != 1 || s.LastReports[0].Seen != 5 {
		t.Fatalf("after it: %+v", s)
	}
	// A sync asked for once the other ended is a pass of its own.
	if _, err := lee.Sync(ctx, nil, nil); err != nil {
		t.Fatal(err)
	}
	if n := gp.passes.Load(); n != 2 {
		t.Fatalf("%d passes: the next sync did not run", n)
	}
}

// A sync's starter gone (the lead who pressed ctrl+r closed the session)
// does not fail the sync for the hub waiting on it: the pass goes on and
// the hub gets its result. A sync nobody waits on any more ends.
func TestASyncOutlivesItsStarterWhileOthersWaitOnIt(t *testing.T) {
	desk, gp := gatedPlaid(t, 3)
	lee, hub := desk.As("lee"), desk.As("the hub")

	session, closeSession := context.WithCancel(context.Background())
	var leeErr, hubErr error
	var hubReps []backend.SyncReport
	var wg sync.WaitGroup
	wg.Go(func() { _, leeErr = lee.Sync(session, nil, nil) })
	<-gp.entered
	wg.Go(func() { hubReps, hubErr = hub.Sync(context.Background(), nil, nil) })
	for desk.SyncStatus().Waiting != 1 {
		time.Sleep(time.Millisecond)
	}
	closeSession() // lee leaves mid-sync
	close(gp.release)
	wg.Wait()
	if hubErr != nil || len(hubReps) != 1 || hubReps[0].Seen != 3 {
		t.Fatalf("the hub, waiting on lee's sync, got %+v, %v: the whole pass", hubReps, hubErr)
	}
	if leeErr == nil {
		t.Error("lee's own call ended with its session, yet returned no error")
	}

	// Alone, a starter gone ends its sync.
	gp.release = make(chan struct{})
	alone, leave := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := lee.Sync(alone, nil, nil); done <- err }()
	<-gp.entered
	leave()
	close(gp.release)
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("a sync nobody waits on went on: %v", err)
	}
}
