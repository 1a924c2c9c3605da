package ui

import (
	"strings"
	"testing"
)

// TestDemoMailboxIsNamedAtStartAndInHelp: the demo's dashboard says where
// its reminders arrive on the status line from the first frame, and help
// says it too, whole, at 80 columns; without a mailbox neither does.
func TestDemoMailboxIsNamedAtStartAndInHelp(t *testing.T) {
	const url = "http://127.0.0.1:40123/"
	st := newStore(t)
	h := newHarness(t, st, Options{DemoMailbox: url}, 80, 24)
	mustContain(t, h.line("demo mailbox"), "demo mailbox: "+url)
	h.press("?")
	mustContain(t, h.screen(), "The demo's reminders arrive in a local mailbox", url)

	plain := newHarness(t, st, Options{}, 80, 24)
	if s := plain.screen(); strings.Contains(s, "mailbox") {
		t.Fatalf("a dashboard outside the demo names a mailbox:\n%s", s)
	}
	plain.press("?")
	if s := plain.screen(); strings.Contains(s, "mailbox") {
		t.Fatalf("help outside the demo names a mailbox:\n%s", s)
	}
}
