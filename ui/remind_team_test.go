package ui

import (
	"testing"
	"time"

	"github.com/relink/relink/health"
	"github.com/relink/relink/store"
)

// Two agents' dashboards over one hub's store, on the same user: both open
// the preview (both plans remind them), dana confirms first, then lee. One
// message is sent, and lee's status line says dana just reminded the user
// rather than a bare count; lee's next preview says so too.
func TestTwoAgentsRemindingOneUserAreToldOfEachOther(t *testing.T) {
	st := newStore(t)
	rem, box := testReminders(t, st, fixedClock)
	dana := newHarness(t, st, Options{Reminders: rem, Operator: "dana"}, 120, 35)
	lee := newHarness(t, st, Options{Reminders: rem.As("lee"), Operator: "lee"}, 120, 35)
	remindable := func(c store.Connection) bool {
		return c.Provider == "plaid" && c.Health.Category == health.LoginRequired
	}
	dana.selectWhere(remindable)
	lee.selectWhere(remindable)
	name := dana.selectedName(t)
	if lee.selectedName(t) != name {
		t.Fatal("the two dashboards are not on the same user")
	}

	dana.press("r")
	lee.press("r")
	if _, ok := lee.m.overlay.(*previewOverlay); !ok {
		t.Fatalf("lee has no preview: %T", lee.m.overlay)
	}
	mustContain(t, lee.screen(), "Send 1 reminder to "+name+" by email?")
	dana.advance(graceQuiet)
	dana.press("y")
	if !box.Wait(1, 10*time.Second) {
		t.Fatal("dana's reminder did not arrive")
	}
	lee.advance(graceQuiet)
	lee.press("y")
	mustContain(t, lee.line("not sent"), "1 not sent: dana reminded "+name+" just now")
	if box.Count() != 1 {
		t.Fatalf("%s got %d reminders", name, box.Count())
	}

	lee.press("r")
	mustContain(t, lee.screen(), "Nothing to send.", "within cooldown: "+name+" · dana reminded them just now (cooldown")
}
