package plaid_test

import (
	"context"
	"errors"
	"iter"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/relink/relink/health"
	"github.com/relink/relink/provider"
	"github.com/relink/relink/provider/plaid"
	"github.com/relink/relink/provider/sandbox"
)

func TestSyncOneObservationPerConnection(t *testing.T) {
	t.Parallel()
	emu := newEmulator(t, sandbox.PlaidOptions{})
	c := newClient(t, emu, nil)
	want := map[string]health.Category{}
	var conns []provider.Conn
	states := []struct {
		code string
		cat  health.Category
	}{
		{"", health.Healthy},
		{"ITEM_LOGIN_REQUIRED", health.LoginRequired},
		{"ITEM_LOCKED", health.AccountLocked},
		{"INSTITUTION_DOWN", health.InstitutionDown},
		{"ITEM_NOT_FOUND", health.NotFound},
	}
	for i := range 60 {
		st := states[i%len(states)]
		conn := addItem(t, emu, sandbox.Connection{Code: st.code})
		conns = append(conns, conn)
		want[conn.ProviderID] = st.cat
	}
	// A registry row whose token Plaid does not know is that row's problem only.
	bad := provider.Conn{ProviderID: "item-with-stale-token", AccessToken: "access-sandbox-stale"}
	conns = append(conns, bad)
	want[bad.ProviderID] = health.IntegrationError

	got := map[string]provider.Observation{}
	cursor, err := c.Sync(context.Background(), slices.Values(conns), "", func(o provider.Observation) error {
		if _, dup := got[o.ProviderID]; dup {
			t.Errorf("two observations of %s", o.ProviderID)
		}
		got[o.ProviderID] = o
		return nil
	})
	if err != nil || cursor != "" {
		t.Fatalf("Sync = %q, %v", cursor, err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d observations, want %d", len(got), len(want))
	}
	for id, cat := range want {
		if got[id].Signal.Category != cat {
			t.Errorf("%s: %s, want %s", id, got[id].Signal.Category, cat)
		}
	}
	if o := got[bad.ProviderID]; o.Kind != "api_error" || o.Signal.ProviderCode != "INVALID_ACCESS_TOKEN" {
		t.Errorf("stale token: %+v", o)
	}
}

func TestSyncStopsOnProviderFailure(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		setup func(*sandbox.Plaid, *plaid.Config)
		code  string
	}{
		{"bad keys", func(_ *sandbox.Plaid, cfg *plaid.Config) { cfg.Secret = "wrong-secret-abcdef" }, "INVALID_API_KEYS"},
		{"Plaid down", func(emu *sandbox.Plaid, _ *plaid.Config) { emu.Faults.ServerErrors(1 << 20) }, "INTERNAL_SERVER_ERROR"},
		{"unreachable", func(emu *sandbox.Plaid, _ *plaid.Config) { emu.Close() }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			emu := newEmulator(t, sandbox.PlaidOptions{})
			var conns []provider.Conn
			for range 200 {
				conns = append(conns, addItem(t, emu, sandbox.Connection{}))
			}
			c := newClient(t, emu, func(cfg *plaid.Config) { tc.setup(emu, cfg) })
			var emitted atomic.Int32
			_, err := c.Sync(context.Background(), slices.Values(conns), "", func(provider.Observation) error {
				emitted.Add(1)
				return nil
			})
			pe := providerError(t, err)
			if pe.Code != tc.code {
				t.Errorf("error code %q, want %q (%v)", pe.Code, tc.code, err)
			}
			if n := emitted.Load(); n != 0 {
				t.Errorf("%d observations emitted for a provider-wide failure", n)
			}
			for _, conn := range conns[:3] {
				assertNoSecrets(t, err.Error(), conn.AccessToken, "wrong-secret-abcdef")
			}
		})
	}
}

func TestSyncCancelStopsPromptly(t *testing.T) {
	t.Parallel()
	emu := newEmulator(t, sandbox.PlaidOptions{})
	c := newClient(t, emu, nil)
	var conns []provider.Conn
	for range 300 {
		conns = append(conns, addItem(t, emu, sandbox.Connection{}))
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pulled := 0
	seq := iter.Seq[provider.Conn](func(yield func(provider.Conn) bool) {
		for _, conn := range conns {
			pulled++
			if !yield(conn) {
				return
			}
		}
	})
	emitted := 0
	_, err := c.Sync(ctx, seq, "", func(provider.Observation) error {
		emitted++
		if emitted == 5 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Sync = %v, want context.Canceled", err)
	}
	// Sync has returned, so the iterator is no longer running: reading
	// pulled is race-free. Workers stop within a few connections.
	if emitted >= len(conns) || pulled >= len(conns) {
		t.Errorf("emitted %d and pulled %d of %d after cancelling at 5", emitted, pulled, len(conns))
	}
}

func TestSyncEmitErrorStops(t *testing.T) {
	t.Parallel()
	emu := newEmulator(t, sandbox.PlaidOptions{})
	c := newClient(t, emu, nil)
	var conns []provider.Conn
	for range 50 {
		conns = append(conns, addItem(t, emu, sandbox.Connection{}))
	}
	full := errors.New("disk full")
	calls := 0
	_, err := c.Sync(context.Background(), slices.Values(conns), "", func(provider.Observation) error {
		calls++
		return full
	})
	if !errors.Is(err, full) || calls != 1 {
		t.Errorf("Sync = %v after %d emits, want the emit error after 1", err, calls)
	}
}

// TestClientLimiter: with one call a minute allowed, one goes now and the
// next a minute later, whatever the Item; a deadline well inside that
// minute makes the wait fail at once instead of calling Plaid, however long
// the first call took.
func TestClientLimiter(t *testing.T) {
	t.Parallel()
	emu := newEmulator(t, sandbox.PlaidOptions{})
	c := newClient(t, emu, func(cfg *plaid.Config) { cfg.PerClientPerMinute = 1 })
	if _, err := c.Check(context.Background(), addItem(t, emu, sandbox.Connection{})); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := c.Check(ctx, addItem(t, emu, sandbox.Connection{}))
	if err == nil || !strings.Contains(err.Error(), "client rate limit") {
		t.Errorf("second Check = %v, want a client rate-limit wait error", err)
	}
	_, err = c.Sync(ctx, slices.Values([]provider.Conn{addItem(t, emu, sandbox.Connection{})}), "",
		func(provider.Observation) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "rate limit") {
		t.Errorf("Sync = %v, want a rate-limit wait error", err)
	}
}

// One Item whose /item/get keeps answering 500 is that Item's provider_error;
// the sync goes on with the others.
func TestSyncOneItemServerErrorDoesNotStopTheSync(t *testing.T) {
	t.Parallel()
	emu := newEmulator(t, sandbox.PlaidOptions{})
	c := newClient(t, emu, func(cfg *plaid.Config) { cfg.Timeout = 2 * time.Second })
	var conns []provider.Conn
	for range 10 {
		conns = append(conns, addItem(t, emu, sandbox.Connection{}))
	}
	sick := addItem(t, emu, sandbox.Connection{Type: "API_ERROR", Code: "INTERNAL_SERVER_ERROR"})
	conns = append(conns, sick)
	got := map[string]health.Category{}
	_, err := c.Sync(context.Background(), slices.Values(conns), "", func(o provider.Observation) error {
		got[o.ProviderID] = o.Signal.Category
		return nil
	})
	if err != nil {
		t.Fatalf("one sick Item stopped the sync: %v", err)
	}
	if len(got) != 11 || got[sick.ProviderID] != health.ProviderError {
		t.Fatalf("observations %v", got)
	}
}
