package ui

import (
	"context"
	"strings"
	"testing"

	"github.com/relink/relink/store"
)

// Under --read-only, every key of an action that sends, mints or revokes
// says why on the status line and does nothing else, as a key a role
// withholds does; help, footer and palette leave them out. Sync stays: it
// neither sends nor mints.
func TestReadOnlyKeysSayWhyAndDoNothing(t *testing.T) {
	st := newStore(t)
	rem, box := testReminders(t, st, fixedClock)
	h := newHarness(t, st, Options{Actions: rem, Reminders: rem, ReadOnly: true}, 120, 35)
	h.selectWhere(func(c store.Connection) bool { return c.Provider == "plaid" })
	for _, k := range []struct{ key, why string }{
		{"c", "read-only: this dashboard cannot mint links (started with --read-only)"},
		{"C", "read-only: this dashboard cannot mint links (started with --read-only)"},
		{"o", "read-only: this dashboard cannot mint links (started with --read-only)"},
		{"r", "read-only: this dashboard cannot send reminders (started with --read-only)"},
		{"X", "read-only: this dashboard cannot revoke links (started with --read-only)"},
	} {
		h.m.result = nil
		h.press(k.key)
		if h.m.overlay != nil || len(h.m.tasks) != 0 || h.m.planning != 0 || len(h.m.links) != 0 || h.clipboard != "" {
			t.Fatalf("%s acted in read-only mode: overlay %T, tasks %+v", k.key, h.m.overlay, h.m.tasks)
		}
		if h.m.result == nil || h.m.result.ok || h.m.result.text != k.why {
			t.Fatalf("%s said %+v, want %q", k.key, h.m.result, k.why)
		}
		mustContain(t, h.screen(), k.why)
	}
	for _, a := range actions {
		if a.get(&h.m.c.Keys) == &h.m.c.Keys.Remind {
			h.run(a.run(h.m)) // not even by running the action itself
		}
	}
	if h.m.overlay != nil || len(h.m.tasks) != 0 {
		t.Fatal("remind ran in read-only mode")
	}

	foot := h.lastLine()
	for _, hidden := range []string{"copy link", "remind"} {
		if strings.Contains(foot, hidden) {
			t.Errorf("the read-only footer offers %q: %s", hidden, foot)
		}
	}
	mustContain(t, foot, "sync")
	help := h.helpText()
	for _, gone := range []string{"copy direct link", "copy durable link", "open link in browser", "remind users", "revoke durable links"} {
		if strings.Contains(help, gone) {
			t.Errorf("help lists %q in read-only mode", gone)
		}
	}
	mustContain(t, help, "sync now", "read-only", "what works: reconnect funnel", "show QR code")
	for _, n := range h.paletteNames() {
		switch n {
		case "remind", "copy_link", "copy_durable_link", "open_browser", "revoke_links":
			t.Errorf("the read-only palette offers %s", n)
		}
	}
	if box.Count() != 0 {
		t.Fatal("a reminder was sent")
	}
	if n, err := st.OutboxCounts(context.Background()); err != nil || len(n) != 0 {
		t.Fatalf("outbox %v, %v", n, err)
	}
}

// A viewer under --read-only is told what the role withholds first: it is
// the reason that holds on every dashboard.
func TestReadOnlyViewerHearsTheRole(t *testing.T) {
	st := newStore(t)
	rem, _ := testReminders(t, st, fixedClock)
	h := newHarness(t, st, Options{Actions: rem, Reminders: rem, ReadOnly: true, Role: RoleViewer}, 120, 35)
	h.press("c")
	mustContain(t, h.screen(), "viewers cannot copy links; ask a lead")
	h.press("X")
	mustContain(t, h.screen(), "viewers cannot revoke links; ask a lead")
}

// Without a provider or a reminder channel, the keys that need one say
// so, with where to configure it, instead of doing nothing silently.
func TestKeysWithoutABackendSayWhy(t *testing.T) {
	st := newStore(t)
	h := newHarness(t, st, Options{}, 120, 35)
	for _, k := range []struct{ key, why string }{
		{"c", "cannot mint links: this dashboard shows the cache only"},
		{"X", "cannot revoke links: this dashboard shows the cache only"},
		{"ctrl+r", "nothing to sync: this dashboard shows the cache only"},
		{"r", "cannot remind: no reminder channel is configured ([reminders.email], [reminders.sms] or [reminders.webhook]; config: no config file)"},
	} {
		h.m.result = nil
		h.press(k.key)
		if h.m.overlay != nil || len(h.m.tasks) != 0 || h.m.result == nil || h.m.result.text != k.why {
			t.Fatalf("%s: overlay %T, tasks %+v, said %+v; want %q", k.key, h.m.overlay, h.m.tasks, h.m.result, k.why)
		}
	}
	first := newHarness(t, st, Options{Providers: []string{}, ConfigFile: "/etc/relink.toml"}, 120, 35)
	first.press("C")
	mustContain(t, first.m.result.text, "cannot mint links: no provider configured in /etc/relink.toml (not found); try relink --demo")
}
