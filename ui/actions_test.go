package ui

import (
	"testing"
	"time"

	"github.com/relink/relink/backend"
	"github.com/relink/relink/store"
)

// The backend types the dashboard is given (internal/cli); remind_test.go
// checks *backend.Reminders against Reminders, Ready included.
var (
	_ Actions = (*backend.Backend)(nil)
	_ Actions = (*backend.Reminders)(nil)
)

// realDesk is a real backend over the test store with no provider configured:
// every sync and mint fails the way it does for a user without keys.
func realDesk(st *store.Store) Actions { return &backend.Backend{Store: st, Operator: "test"} }

func TestDurableLinkWithoutServeSaysWhatToDo(t *testing.T) {
	st := newStore(t)
	h := newHarness(t, st, Options{Actions: realDesk(st)}, 120, 35)
	h.press("C")
	mustContain(t, h.screen(), "✗ durable link for", "serve.public_url")
}

func TestLinkFailureShowsInStatusLineBesideTheData(t *testing.T) {
	st := newStore(t)
	h := newHarness(t, st, Options{Actions: realDesk(st)}, 120, 35)
	c, _ := h.m.selected()
	h.press("c")
	status := h.line("direct link for " + c.Name)
	mustContain(t, status, "✗", "is not configured")
	mustContain(t, h.screen(), c.Name, "All failing") // the table is still there
	if h.clipboard != "" {
		t.Fatal("nothing should be copied")
	}
	h.advance(resultErrFor)
	if h.m.result != nil {
		t.Fatal("the result should clear itself")
	}
}

func TestSyncNowReportsFailure(t *testing.T) {
	st := newStore(t)
	h := newHarness(t, st, Options{Actions: realDesk(st)}, 120, 35)
	h.press("ctrl+r")
	if h.m.syncRunning != 0 || len(h.m.tasks) != 0 {
		t.Fatal("the sync should have finished")
	}
	mustContain(t, h.screen(), "✗ sync failed: no provider is configured")
}

func TestSyncIntervalRunsInBackground(t *testing.T) {
	st := newStore(t)
	h := newHarness(t, st, Options{Actions: realDesk(st), SyncInterval: time.Minute}, 120, 35)
	h.advance(time.Minute)
	mustContain(t, h.screen(), "sync failed")
	off := newHarness(t, st, Options{Actions: realDesk(st)}, 120, 35)
	off.advance(5 * time.Minute)
	if off.m.result != nil || off.m.taskSeq != 0 {
		t.Fatalf("an interval of 0 must not sync: %+v", off.m.result)
	}
}

func TestQuitAsksWhileWorkIsRunning(t *testing.T) {
	h := newHarness(t, newStore(t), Options{}, 120, 35)
	h.m.startTask("sync")
	h.press("q")
	if h.quit {
		t.Fatal("q quit with a task running")
	}
	mustContain(t, h.screen(), "sync is still running. Quit anyway?")
	h.advance(graceQuiet)
	h.press("n")
	if h.quit || h.m.overlay != nil {
		t.Fatal("n keeps running")
	}
	h.press("q", "ctrl+c")
	if !h.quit {
		t.Fatal("ctrl+c in the quit dialog quits")
	}
	idle := newHarness(t, newStore(t), Options{}, 120, 35)
	idle.press("q")
	if !idle.quit {
		t.Fatal("q quits at once when idle")
	}
}

func TestPaletteRunsAnAction(t *testing.T) {
	h := newHarness(t, newStore(t), Options{}, 120, 35)
	h.press(":")
	h.typ("reverse")
	mustContain(t, h.screen(), "Commands", "reverse sort")
	h.press("enter")
	if !h.m.desc || h.m.overlay != nil {
		t.Fatalf("the palette should have reversed the sort: desc %v", h.m.desc)
	}
}
