package ui

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/relink/relink/desk"
	"github.com/relink/relink/store"
)

var _ Actions = (*desk.Desk)(nil)

// realDesk is a real desk over the test store with no provider configured:
// every sync and mint fails the way it does for a user without keys.
func realDesk(st *store.Store) Actions { return &desk.Desk{Store: st, Operator: "test"} }

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

func TestReadOnlyRemovesSendingAndMinting(t *testing.T) {
	st := newStore(t)
	var called bool
	remind := func(context.Context, []string, string) (string, error) { called = true; return "", nil }
	h := newHarness(t, st, Options{Actions: realDesk(st), Remind: remind, ReadOnly: true}, 120, 35)
	for _, k := range []string{"c", "C", "o", "r"} {
		h.press(k)
		if len(h.m.tasks) != 0 || h.m.overlay != nil || h.m.result != nil {
			t.Fatalf("%s acted in read-only mode", k)
		}
	}
	h.press("?")
	s := h.screen()
	for _, gone := range []string{"copy direct link", "copy durable link", "open link in browser", "remind users"} {
		if strings.Contains(s, gone) {
			t.Errorf("help lists %q in read-only mode", gone)
		}
	}
	mustContain(t, s, "sync now", "read-only")
	if called {
		t.Fatal("remind was called")
	}
}

// recorder notes the refs it is asked to remind; it sends nothing.
type recorder struct{ calls [][]string }

func (r *recorder) remind(_ context.Context, refs []string, channel string) (string, error) {
	r.calls = append(r.calls, refs)
	return fmt.Sprintf("recorded %d for %s, nothing sent", len(refs), channel), nil
}

func TestRemindAsksFirstWithNoAsDefault(t *testing.T) {
	st := newStore(t)
	rec := &recorder{}
	h := newHarness(t, st, Options{Remind: rec.remind}, 120, 35)
	name := h.selectedName(t)
	h.press("r")
	if _, ok := h.m.overlay.(*confirmOverlay); !ok {
		t.Fatal("r should ask first")
	}
	mustContain(t, h.screen(), "Send a reminder to "+name+" by email?", "› No")
	h.press("y", "enter") // typed before the dialog could be read: swallowed
	if len(rec.calls) != 0 || h.m.overlay == nil {
		t.Fatalf("keys in the grace period answered the dialog: %v", rec.calls)
	}
	h.advance(graceQuiet)
	h.press("enter") // No is the default
	if len(rec.calls) != 0 || h.m.overlay != nil {
		t.Fatalf("enter on No: calls %v, overlay %v", rec.calls, h.m.overlay)
	}

	h.press("space", "space", "space", "r")
	mustContain(t, h.screen(), "Send reminders to 3 users by email?")
	h.advance(graceQuiet)
	h.press("tab", "enter")
	if len(rec.calls) != 1 || len(rec.calls[0]) != 3 {
		t.Fatalf("calls = %v", rec.calls)
	}
	mustContain(t, h.screen(), "✓ recorded 3 for email, nothing sent")
	if len(h.m.marks) != 0 {
		t.Fatal("marks should clear after reminding")
	}
}

func TestGracePeriodHasACeiling(t *testing.T) {
	rec := &recorder{}
	h := newHarness(t, newStore(t), Options{Remind: rec.remind}, 120, 35)
	h.press("r")
	for i := 0; i < 10; i++ { // a key every 200ms keeps swallowing, but not forever
		h.advance(200 * time.Millisecond)
		h.press("x")
	}
	h.press("y")
	if len(rec.calls) != 1 {
		t.Fatalf("after %s the dialog should answer: calls %v", graceMax, rec.calls)
	}
}

func TestEscCancelsConfirmAtOnce(t *testing.T) {
	rec := &recorder{}
	h := newHarness(t, newStore(t), Options{Remind: rec.remind}, 120, 35)
	h.press("r", "esc")
	if h.m.overlay != nil || len(rec.calls) != 0 {
		t.Fatal("esc cancels, even in the grace period")
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
