package ui

import (
	"fmt"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
)

// ctrl+d and ctrl+u move half a page, as in vim, less and lazygit: the
// rows and the cursor by half the rows on screen; pgdown and pgup a page.
func TestHalfPageKeysInTheTable(t *testing.T) {
	h := newHarness(t, newStore(t), Options{}, 80, 24)
	rows := h.m.lay.rows
	half, last := rows/2, h.m.total-rows // last: the top row of the last screen
	if last < 2*half || half < 2 {
		t.Fatalf("the test needs two half pages below the first screen: %d rows of %d", rows, h.m.total)
	}
	h.press("ctrl+d")
	if h.m.cursor != half || h.m.top != half {
		t.Fatalf("ctrl+d: cursor %d, top %d, want both %d (rows %d)", h.m.cursor, h.m.top, half, rows)
	}
	h.press("ctrl+d")
	if h.m.cursor != 2*half || h.m.top != 2*half {
		t.Fatalf("ctrl+d twice: cursor %d, top %d, want %d", h.m.cursor, h.m.top, 2*half)
	}
	h.press("ctrl+u", "ctrl+u")
	if h.m.cursor != 0 || h.m.top != 0 {
		t.Fatalf("ctrl+u twice: cursor %d, top %d", h.m.cursor, h.m.top)
	}
	h.press("pgdown")
	if h.m.cursor != rows || h.m.top != min(rows, last) {
		t.Fatalf("pgdown: cursor %d, top %d, want a page, %d", h.m.cursor, h.m.top, rows)
	}
	h.press("pgup")
	if h.m.cursor != 0 {
		t.Fatalf("pgup: cursor %d", h.m.cursor)
	}
}

// In every view that scrolls, ctrl+d and ctrl+u scroll half of what shows.
func TestScrollerHalfPages(t *testing.T) {
	d := DefaultKeyMap().Dialog
	var s scroller
	for _, c := range []struct {
		key  string
		want int
	}{{"ctrl+d", 5}, {"ctrl+d", 10}, {"ctrl+u", 5}, {"pgdown", 14}, {"ctrl+d", 19}, {"end", 30}, {"ctrl+d", 30}, {"g", 0}, {"ctrl+u", 0}} {
		if !s.key(&d, keyPress(c.key), 40, 10) || s.top != c.want {
			t.Fatalf("%s: top %d, want %d", c.key, s.top, c.want)
		}
	}
	s = scroller{}
	if !s.key(&d, keyPress("ctrl+d"), 40, 1) || s.top != 1 {
		t.Fatalf("half of one line is still a line: top %d", s.top)
	}
}

// The help, the messages log, the funnel and the reminder preview read
// the half-page keys (the preview after its answers).
func TestHalfPagesInTheViews(t *testing.T) {
	st := newStore(t)
	h := newHarness(t, st, Options{Actions: realDesk(st), Reminders: testRemindersFixed(t, st)}, 80, 24)
	for i := range 60 {
		h.m.report(true, fmt.Sprintf("message %d", i))
	}
	h.press("?")
	lines, vh := helpLines(&h.m.c)
	if len(lines) <= vh {
		t.Fatalf("the help fits at 80x24 (%d of %d): nothing to scroll", len(lines), vh)
	}
	h.press("ctrl+d")
	if got := h.m.overlay.(*helpOverlay).scroll.top; got != min(vh/2, len(lines)-vh) {
		t.Fatalf("help ctrl+d: top %d, want %d", got, min(vh/2, len(lines)-vh))
	}
	h.press("esc", "L", "ctrl+d", "ctrl+d", "ctrl+u")
	_, lh := logLines(&h.m.c, &h.m.log)
	if got := h.m.overlay.(*logOverlay).scroll.top; got != lh/2 {
		t.Fatalf("messages ctrl+d ctrl+d ctrl+u: top %d, want %d", got, lh/2)
	}
	mustContain(t, h.screen(), fmt.Sprintf("12:00:00 ✓ message %d ", 59-lh/2))
	if strings.Contains(h.screen(), "message 59") {
		t.Fatal("the newest message is still on screen after scrolling down")
	}
	h.press("esc", "A", "r")
	o, ok := h.m.overlay.(*previewOverlay)
	if !ok {
		t.Fatalf("r opened %T", h.m.overlay)
	}
	h.advance(graceQuiet)
	sample, sh := previewSample(&h.m.c, o)
	if len(sample) <= sh {
		t.Fatalf("the sample fits at 80x24 (%d of %d): nothing to scroll", len(sample), sh)
	}
	h.press("ctrl+d")
	if o.scroll.top != min(max(1, sh/2), len(sample)-sh) {
		t.Fatalf("preview ctrl+d: top %d (sample %d, shows %d)", o.scroll.top, len(sample), sh)
	}
	if h.m.overlay != o {
		t.Fatal("ctrl+d answered the preview")
	}
	h.send(tea.KeyPressMsg{Code: tea.KeyEscape})
	h.press("F")
	if _, ok := h.m.overlay.(*funnelOverlay); !ok {
		t.Fatalf("F opened %T", h.m.overlay)
	}
	h.press("ctrl+d") // nothing to scroll in an empty funnel: it stays open
	if _, ok := h.m.overlay.(*funnelOverlay); !ok {
		t.Fatalf("ctrl+d closed the funnel: %T", h.m.overlay)
	}
}
