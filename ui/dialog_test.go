package ui

import (
	"strings"
	"testing"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/relink/relink/health"
	"github.com/relink/relink/store"
)

// TestDialogKeysFollowKeys rebinds yes to s through Options.Keys: the quit
// question then accepts s, no longer y, and its hints say s.
func TestDialogKeysFollowKeys(t *testing.T) {
	h := newHarness(t, newStore(t), Options{Keys: map[string][]string{"yes": {"s"}}}, 120, 35)
	h.m.startTask("sync")
	h.press("q")
	if _, ok := h.m.overlay.(*confirmOverlay); !ok {
		t.Fatalf("q with a task running should ask: %T", h.m.overlay)
	}
	mustContain(t, h.screen(), "s yes · n no · esc cancel · tab switch")
	mustContain(t, h.line("choose"), "s yes")
	h.advance(graceQuiet)
	h.press("y")
	if h.quit || h.m.overlay == nil {
		t.Fatalf("y is no longer yes: quit %v, overlay %T", h.quit, h.m.overlay)
	}
	h.press("s")
	if !h.quit {
		t.Fatal("s should answer yes")
	}
}

// TestDialogKeysRebindEverywhere: the scroll, choose and close keys of
// [keys] reach the funnel, the reminder preview and the palette.
func TestDialogKeysRebindEverywhere(t *testing.T) {
	st := newStore(t)
	seedFunnel(t, st)
	h := newHarness(t, st, Options{Keys: map[string][]string{"close": {"x"}, "scroll_bottom": {"B"}}}, 80, 24)
	h.press("F")
	o := h.m.overlay.(*funnelOverlay)
	for _, topic := range health.Topics() { // taller than the screen
		o.rows = append(o.rows, store.FunnelRow{Category: topic, Channel: "sms", Failing: 2, Reminded: 1})
	}
	_, shown, n := funnelLines(&h.m.c, o)
	if n <= shown {
		t.Fatalf("the funnel should scroll: %d of %d lines", shown, n)
	}
	h.press("G")
	if o.scroll.top != 0 {
		t.Fatal("G is no longer scroll_bottom")
	}
	h.press("B")
	if o.scroll.top != n-shown {
		t.Fatalf("B: scroll %d, want %d", o.scroll.top, n-shown)
	}
	mustContain(t, h.screen(), "x closes")
	h.press("esc")
	if h.m.overlay == nil {
		t.Fatal("esc is no longer close")
	}
	h.press("x")
	if h.m.overlay != nil {
		t.Fatal("x should close the funnel")
	}
	h.press(":")
	h.typ("x") // in the palette, a key that types text types it
	if p, ok := h.m.overlay.(*paletteOverlay); !ok || p.input.Value() != "x" {
		t.Fatalf("x should type into the palette: %T", h.m.overlay)
	}
	lines := strings.Split(h.screen(), "\n")
	mustContain(t, lines[len(lines)-1], "enter run", "↑/↓ choose", "x close")
}

// TestHelpListsDialogKeys: the ? help lists the dialog keys as bound,
// rebindings included, and scrolls to them at 80x24.
func TestHelpListsDialogKeys(t *testing.T) {
	h := newHarness(t, newStore(t), Options{Keys: map[string][]string{"yes": {"s"}, "scroll_down": {"J", "down"}}}, 120, 35)
	h.press("?")
	s := h.screen()
	mustContain(t, s, "Dialogs")
	for _, b := range h.m.c.Keys.dialogBindings() {
		if !strings.Contains(s, b.Help().Key) || !helpLine(s, b.Help().Key, b.Help().Desc) {
			t.Errorf("help does not list %q %q:\n%s", b.Help().Key, b.Help().Desc, s)
		}
	}
	if !helpLine(s, "s", "answer yes") || helpLine(s, "y/Y", "answer yes") || !helpLine(s, "J/↓", "scroll down") {
		t.Fatalf("help shows the default dialog keys, not the bound ones:\n%s", s)
	}

	small := newHarness(t, newStore(t), Options{}, 80, 24)
	small.press("?")
	mustContain(t, small.screen(), "j/k scroll · lines 1-")
	if strings.Contains(small.screen(), "answer yes") {
		t.Fatal("the help fits at 80x24 after all; this test needs a smaller screen")
	}
	small.press("G")
	mustContain(t, small.screen(), "Dialogs", "answer yes", "scroll to the bottom", "esc or ? closes")
	small.press("?")
	if small.m.overlay != nil {
		t.Fatal("? closes the help")
	}
}

// keyPressMod is ctrl and the key r.
func keyPressMod(r rune) tea.KeyPressMsg { return tea.KeyPressMsg{Code: r, Mod: tea.ModCtrl} }

// helpLine says whether a line of s has k and then, after spaces, desc.
func helpLine(s, k, desc string) bool {
	for _, l := range strings.Split(s, "\n") {
		if i := strings.Index(l, " "+k+" "); i >= 0 && strings.HasPrefix(strings.TrimLeft(l[i+len(k)+2:], " "), desc) {
			return true
		}
	}
	return false
}

// TestCtrlCInEveryDialog: in every dialog ctrl+c does what it does on the
// main screen: quit at once when idle, ask while work is running; in that
// question itself it quits.
func TestCtrlCInEveryDialog(t *testing.T) {
	open := map[string]func(h *harness){
		"help":    func(h *harness) { h.press("?") },
		"palette": func(h *harness) { h.press(":") },
		"funnel":  func(h *harness) { h.press("F") },
		"remind preview": func(h *harness) {
			h.selectWhere(func(c store.Connection) bool {
				return c.Provider == "plaid" && c.Health.Category == health.LoginRequired
			})
			h.press("r")
			if p, ok := h.m.overlay.(*previewOverlay); !ok || !p.asks() {
				h.t.Fatalf("no preview that asks: %T", h.m.overlay)
			}
		},
		"remind notice": func(h *harness) {
			h.toGroup(string(health.InstitutionDown))
			h.press("r")
			if p, ok := h.m.overlay.(*previewOverlay); !ok || p.asks() {
				h.t.Fatalf("no notice: %T", h.m.overlay)
			}
		},
	}
	for name, do := range open {
		t.Run(name+"/idle", func(t *testing.T) {
			h, _, _ := remindHarness(t, 120, 35)
			do(h)
			if h.m.overlay == nil {
				t.Fatal("no dialog")
			}
			h.press("ctrl+c") // in the grace period too
			if !h.quit {
				t.Fatalf("ctrl+c should quit: overlay %T", h.m.overlay)
			}
		})
		t.Run(name+"/busy", func(t *testing.T) {
			h, _, _ := remindHarness(t, 120, 35)
			do(h)
			h.m.startTask("sync")
			h.press("ctrl+c")
			if h.quit {
				t.Fatal("ctrl+c quit with a task running")
			}
			if o, ok := h.m.overlay.(*confirmOverlay); !ok || o.id() != quitDialog {
				t.Fatalf("ctrl+c should ask first: %T", h.m.overlay)
			}
			mustContain(t, h.screen(), "sync is still running. Quit anyway?")
			h.press("ctrl+c") // asked, and pressed again: quit
			if !h.quit {
				t.Fatal("ctrl+c in the quit question should quit")
			}
		})
	}
	t.Run("quit question", func(t *testing.T) {
		h := newHarness(t, newStore(t), Options{Keys: map[string][]string{"quit": {"q", "ctrl+q"}}}, 120, 35)
		h.m.startTask("sync")
		h.press("F")
		h.press("ctrl+c") // no longer a quit key
		if h.quit || h.m.overlay == nil {
			t.Fatal("ctrl+c is not bound to quit: it should do nothing")
		}
		h.send(keyPressMod('q'))
		if _, ok := h.m.overlay.(*confirmOverlay); !ok {
			t.Fatalf("ctrl+q should ask: %T", h.m.overlay)
		}
		h.send(keyPressMod('q'))
		if !h.quit {
			t.Fatal("ctrl+q in the quit question should quit")
		}
	})
}

// TestRebindDialogKeys checks [keys] for dialog keys as for actions.
func TestRebindDialogKeys(t *testing.T) {
	k := DefaultKeyMap()
	if err := k.Rebind(map[string][]string{"yes": {"s"}, "scroll_down": {"J"}, "toggle": {}}); err != nil {
		t.Fatal(err)
	}
	if !key.Matches(keyPress("s"), k.Dialog.Yes) || key.Matches(keyPress("y"), k.Dialog.Yes) || k.Dialog.Toggle.Enabled() {
		t.Fatal("yes not moved to s, or toggle not unbound")
	}
	if !key.Matches(keyPress("s"), k.Sort) {
		t.Fatal("a dialog key may share a key with an action of the main screen")
	}
	for _, c := range []struct {
		keys map[string][]string
		want string
	}{
		{map[string][]string{"yess": {"s"}}, `unknown action "yess"`},
		{map[string][]string{"yess": {"s"}}, "in dialogs: yes, no, toggle, choose, close, scroll_down"},
		{map[string][]string{"yes": {"n"}}, `"n" is bound to both yes and no`},
		{map[string][]string{"scroll_up": {"j"}}, `"j" is bound to both scroll_down and scroll_up`},
		{map[string][]string{"close": {"pgdn"}}, `did you mean "pgdown"`},
		{map[string][]string{"close": {}}, "close: needs at least one key"},
	} {
		k := DefaultKeyMap()
		if err := k.Rebind(c.keys); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Rebind(%v) = %v, want %q", c.keys, err, c.want)
		}
	}
	k = DefaultKeyMap()
	if err := k.Rebind(map[string][]string{"choose": {"enter", "j"}}); err != nil {
		t.Fatalf("choose may share a key with a scroll key: %v", err)
	}
	for _, b := range dialogKeys {
		if kb := b.get(&k); !kb.Enabled() || kb.Help().Desc == "" {
			t.Errorf("%s: enabled %v, help %+v", b.name, kb.Enabled(), kb.Help())
		}
	}
	if len(DialogKeyNames()) != len(dialogKeys) {
		t.Fatal("DialogKeyNames out of step")
	}
}

// TestPaletteWithNothingToRun: moving down a palette that matches nothing,
// then enter, closes it (it used to index the empty list).
func TestPaletteWithNothingToRun(t *testing.T) {
	h := newHarness(t, newStore(t), Options{}, 120, 35)
	h.press(":")
	h.typ("zzzz")
	mustContain(t, h.screen(), "no action matches")
	h.press("down", "enter")
	if h.m.overlay != nil {
		t.Fatalf("overlay %T", h.m.overlay)
	}
}

func TestScroller(t *testing.T) {
	d := DefaultKeyMap().Dialog
	var s scroller
	for _, c := range []struct {
		key  string
		want int
	}{{"j", 1}, {"pgdown", 10}, {"space", 19}, {"end", 30}, {"j", 30}, {"k", 29}, {"pgup", 20}, {"g", 0}, {"up", 0}} {
		if !s.key(&d, keyPress(c.key), 40, 10) || s.top != c.want {
			t.Fatalf("%s: top %d, want %d", c.key, s.top, c.want)
		}
	}
	if s.key(&d, keyPress("x"), 40, 10) {
		t.Fatal("x is no scroll key")
	}
	s.top = 30
	if s.from(40, 20) != 20 || len(s.window(make([]string, 40), 20)) != 20 || s.position(40, 20) != "lines 21-40 of 40" {
		t.Fatalf("a taller screen keeps the window in the lines: from %d", s.from(40, 20))
	}
}
