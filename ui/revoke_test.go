package ui

import (
	"context"
	"strings"
	"testing"

	"github.com/relink/relink/store"
)

// revokeHarness is a dashboard of role over a store whose plaid rows get
// durable links, with the cursor on one that has a live durable link (C
// copied it); it returns that connection.
func revokeHarness(t *testing.T, role Role) (*harness, store.Connection) {
	t.Helper()
	st := newStore(t)
	rem, _ := testReminders(t, st, fixedClock)
	lead := newHarness(t, st, Options{Actions: rem.As("lee"), Reminders: rem, Operator: "lee"}, 120, 35)
	lead.selectWhere(func(c store.Connection) bool { return c.Provider == "plaid" })
	lead.press("C")
	c, _ := lead.m.selected()
	if liveLinks(t, st, c) != 1 {
		t.Fatalf("C made no live durable link: %+v", lead.m.result)
	}
	h := newHarness(t, st, Options{Actions: rem.As("sam"), Reminders: rem, Operator: "sam", Role: role}, 120, 35)
	h.selectWhere(func(r store.Connection) bool { return r.ID == c.ID })
	return h, c
}

func liveLinks(t *testing.T, st *store.Store, c store.Connection) int {
	t.Helper()
	n, err := liveDurableLinks(context.Background(), st, c.ID, epoch)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// A lead's X asks, naming the user and how many live durable links it
// revokes, with No focused: enter keeps them. Yes revokes them, says so,
// and the history names the lead.
func TestLeadRevokesDurableLinksAfterAYes(t *testing.T) {
	h, c := revokeHarness(t, RoleLead)
	st := h.m.opts.Store
	h.press("X")
	o, ok := h.m.overlay.(*confirmOverlay)
	if !ok {
		t.Fatalf("X opened %T (%+v)", h.m.overlay, h.m.result)
	}
	mustContain(t, h.screen(), "Revoke links", "Revoke 1 live durable link of "+c.Name, "› No")
	mustContain(t, o.prompt, "Revoke 1 live durable link of "+c.Name+" ("+c.Ref()+")?")
	if o.yes {
		t.Fatal("the revoke question must default to No")
	}
	h.advance(graceQuiet)
	h.press("enter") // the focused button: No
	if h.m.overlay != nil || liveLinks(t, st, c) != 1 {
		t.Fatalf("enter on No revoked: overlay %T, live %d", h.m.overlay, liveLinks(t, st, c))
	}

	h.press("X")
	h.advance(graceQuiet)
	h.press("y")
	if n := liveLinks(t, st, c); n != 0 {
		t.Fatalf("%d live durable links after yes", n)
	}
	mustContain(t, h.screen(), "Revoked 1 durable link of "+c.Name)
	evs, err := st.History(context.Background(), c.ID, 10)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(evs[0].Summary, "revoked by sam") {
		t.Fatalf("the history does not name who revoked: %+v", evs[0])
	}

	h.press("X") // nothing left to revoke: said, not asked
	if h.m.overlay != nil {
		t.Fatalf("X with nothing to revoke opened %T", h.m.overlay)
	}
	mustContain(t, h.screen(), c.Name+" has no live durable link to revoke")
}

// An agent's X is the role's refusal, with why; the links stay live.
func TestAgentMayNotRevoke(t *testing.T) {
	h, c := revokeHarness(t, RoleAgent)
	h.press("X")
	if h.m.overlay != nil || len(h.m.tasks) != 0 {
		t.Fatalf("an agent's X did something: %T %+v", h.m.overlay, h.m.tasks)
	}
	mustContain(t, h.screen(), "agents cannot revoke links; ask a lead")
	if liveLinks(t, h.m.opts.Store, c) != 1 {
		t.Fatal("an agent revoked")
	}
}
