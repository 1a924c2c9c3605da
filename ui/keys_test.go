package ui

import (
	"strings"
	"testing"

	"charm.land/bubbles/v2/key"
)

func TestDefaultKeyMapHasNoClashes(t *testing.T) {
	k := DefaultKeyMap()
	if err := k.Rebind(nil); err != nil {
		t.Fatal(err)
	}
	for _, a := range actions {
		b := a.get(&k)
		if !b.Enabled() || b.Help().Desc == "" {
			t.Errorf("%s: enabled %v, help %+v", a.name, b.Enabled(), b.Help())
		}
	}
	if len(ActionNames()) != len(actions) {
		t.Fatal("ActionNames out of step")
	}
}

func TestRebind(t *testing.T) {
	k := DefaultKeyMap()
	if err := k.Rebind(map[string][]string{"sync": {"R"}, "down": {"n", "down"}, "mark_all": {}}); err != nil {
		t.Fatal(err)
	}
	if !key.Matches(keyPress("R"), k.Sync) || key.Matches(keyPress("ctrl+r"), k.Sync) {
		t.Fatal("sync not moved to R")
	}
	if k.Down.Help().Key != "n/↓" || k.MarkAll.Enabled() {
		t.Fatalf("down help %q, mark_all enabled %v", k.Down.Help().Key, k.MarkAll.Enabled())
	}
}

func TestRebindErrors(t *testing.T) {
	cases := []struct {
		keys map[string][]string
		want string
	}{
		{map[string][]string{"sink": {"x"}}, `unknown action "sink"`},
		{map[string][]string{"down": {"pgdn"}}, `did you mean "pgdown"`},
		{map[string][]string{"down": {"ctrl+pgdn"}}, `did you mean "ctrl+pgdown"`},
		{map[string][]string{"down": {"hyperdrive"}}, `"hyperdrive" is not a key name`},
		{map[string][]string{"down": {"cmd+j"}}, `"cmd" is not a modifier`},
		{map[string][]string{"sync": {"r"}}, `"r" is bound to both remind and sync`},
		{map[string][]string{"quit": {}}, "quit: needs at least one key"},
	}
	for _, c := range cases {
		k := DefaultKeyMap()
		err := k.Rebind(c.keys)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Rebind(%v) = %v, want %q", c.keys, err, c.want)
		}
	}
	for _, ok := range []string{"ctrl+r", "f5", "alt+shift+x", "+", "ctrl++", "é", "space", "shift+tab"} {
		if err := checkKeyName(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
}

func TestNewRejectsBadKeysAndThemes(t *testing.T) {
	st := newStore(t)
	if _, err := New(Options{Store: st, Keys: map[string][]string{"fly": {"f"}}}); err == nil || !strings.Contains(err.Error(), "unknown action") {
		t.Errorf("bad keys: %v", err)
	}
	if _, err := New(Options{Store: st, Theme: "neon"}); err == nil || !strings.Contains(err.Error(), `theme "neon"`) {
		t.Errorf("bad theme: %v", err)
	}
	if _, err := New(Options{}); err == nil {
		t.Error("no store should be an error")
	}
}

func TestFooterKeepsHelpAt80(t *testing.T) {
	st := newStore(t)
	h := newHarness(t, st, Options{Actions: realDesk(st), Reminders: testRemindersFixed(t, st)}, 80, 24)
	lines := strings.Split(h.screen(), "\n")
	footer := lines[len(lines)-1]
	if !strings.HasSuffix(strings.TrimRight(footer, " "), "? help") {
		t.Fatalf("footer %q does not end with ? help", footer)
	}
	h.press("enter")
	lines = strings.Split(h.screen(), "\n")
	if !strings.HasSuffix(strings.TrimRight(lines[len(lines)-1], " "), "? help") {
		t.Fatalf("footer with the pane open: %q", lines[len(lines)-1])
	}
}

// ctrl+d and ctrl+u are half pages on the main screen and in the dialogs;
// a [keys] from before, that gave them to page_down, names the clash.
func TestHalfPageBindings(t *testing.T) {
	k := DefaultKeyMap()
	for _, c := range []struct {
		b    key.Binding
		keys string
	}{{k.HalfPageDown, "ctrl+d"}, {k.HalfPageUp, "ctrl+u"}, {k.PageDown, "pgdown"}, {k.PageUp, "pgup"},
		{k.Dialog.ScrollHalfDown, "ctrl+d"}, {k.Dialog.ScrollHalfUp, "ctrl+u"}, {k.Dialog.ScrollPageDown, "pgdown space"}} {
		if got := strings.Join(c.b.Keys(), " "); got != c.keys {
			t.Errorf("%s: %q, want %q", c.b.Help().Desc, got, c.keys)
		}
	}
	err := k.Rebind(map[string][]string{"page_down": {"pgdown", "ctrl+d"}})
	if err == nil || !strings.Contains(err.Error(), `"ctrl+d" is bound to both page_down and half_page_down`) {
		t.Fatalf("the old page_down: %v", err)
	}
	k = DefaultKeyMap()
	if err := k.Rebind(map[string][]string{"half_page_down": {"J"}, "scroll_half_up": {"K"}}); err != nil {
		t.Fatal(err)
	}
	if !key.Matches(keyPress("J"), k.HalfPageDown) || !key.Matches(keyPress("K"), k.Dialog.ScrollHalfUp) {
		t.Fatal("half pages not rebound")
	}
}
