package ui

import (
	"maps"
	"strings"
	"testing"
	"time"
	"unsafe"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"

	"github.com/relink/relink/health"
	"github.com/relink/relink/store"
	"github.com/relink/relink/themes"
)

// unmemoised is the frame drawn from nothing kept: what the memoised
// frame must equal byte for byte.
func unmemoised(m *Model) string {
	kept := m.memo
	m.memo = memos{}
	defer func() { m.memo = kept }()
	return m.render()
}

// TestMemoDrawsAgainWhenInputsChange: every change a memoised pane is drawn
// from (the counts in the tabs and the pane, the insights, the size, the
// background, the theme, the colour mode, the clock in the status line)
// shows in the very next frame, which is byte for byte the frame drawn
// without the memo.
func TestMemoDrawsAgainWhenInputsChange(t *testing.T) {
	h := newHarness(t, newStore(t), Options{Operator: "dana"}, 120, 35)
	m := h.m
	frame := m.render()
	if want := unmemoised(m); frame != want {
		t.Fatalf("the first frame differs from the one drawn without the memo:\n%s\n---\n%s", frame, want)
	}
	h.press("j")
	if again := m.render(); again == frame {
		t.Fatal("j did not move the cursor: the steps below would prove nothing")
	}
	frame = m.render()
	steps := []struct {
		name   string
		change func()
		shows  string // text the new frame has (when it is text, not styles)
	}{
		{"the counts", func() {
			c := m.counts
			c.ByCategory = maps.Clone(c.ByCategory)
			c.ByCategory[health.LoginRequired] += 1000
			c.Failing += 1000
			h.send(countsMsg{id: m.req.counts, counts: c})
		}, "1029"},
		{"the insights", func() {
			ins := m.insights
			ins.perDay = append([]int(nil), ins.perDay...)
			ins.perDay[len(ins.perDay)-1] = 777
			h.send(ins)
		}, "today 777"},
		{"the width", func() { h.send(tea.WindowSizeMsg{Width: 140, Height: 35}) }, ""},
		{"the height", func() { h.send(tea.WindowSizeMsg{Width: 140, Height: 40}) }, ""},
		{"the background", func() { h.send(tea.BackgroundColorMsg{Color: lightGrey{}}) }, ""},
		{"the theme", func() {
			p, err := themes.Load("high-contrast", "")
			if err != nil {
				t.Fatal(err)
			}
			m.palette = p
			m.restyle()
		}, ""},
		{"the colour mode", func() { h.send(tea.ColorProfileMsg{Profile: colorprofile.ASCII}) }, ""},
		{"the clock", func() { h.clk.now = h.clk.now.Add(50 * time.Minute) }, "plaid 53m ago"},
		{"a mark", func() { h.press("space") }, "1 marked"},
		{"a mark on a row the cursor is not on", func() {
			c := m.rows[m.cursor-m.rowsOff+3]
			m.marks[c.ID] = c.Ref()
		}, "2 marked"},
		{"the rows' ages", func() { h.clk.now = h.clk.now.Add(48 * time.Hour) }, ""},
		{"a row's connection", func() {
			rows := append([]store.Connection(nil), m.rows...)
			rows[m.cursor-m.rowsOff].Name = "Renamed Person"
			h.send(pageMsg{id: m.req.page, query: m.rowsQuery, offset: m.rowsOff, limit: len(rows) + 1, rows: rows})
		}, "Renamed Person"},
		{"the scroll", func() { h.press("G") }, ""},
		{"the sort", func() { h.press("s") }, ""},
	}
	for _, s := range steps {
		s.change()
		got := m.render()
		if got == frame {
			t.Fatalf("after a change of %s the frame is the one before", s.name)
		}
		if want := unmemoised(m); got != want {
			t.Fatalf("after a change of %s the frame differs from the one drawn without the memo:\n%s\n---\n%s", s.name, got, want)
		}
		if s.shows != "" && !strings.Contains(h.screen(), s.shows) {
			t.Fatalf("after a change of %s the frame does not show %q:\n%s", s.name, s.shows, h.screen())
		}
		frame = got
	}
}

// TestMemoKeepsUnchangedPanes: a key that only moves the cursor draws the
// table again, not the panes around it: each keeps the very string it
// drew before.
func TestMemoKeepsUnchangedPanes(t *testing.T) {
	h := newHarness(t, newStore(t), Options{}, 120, 35)
	h.m.render()
	before := h.m.memo
	h.press("j")
	h.m.render()
	after := h.m.memo
	for _, p := range []struct {
		name string
		b, a memo
	}{{"insights", before.insights, after.insights}, {"tabs", before.tabs, after.tabs}, {"footer", before.footer, after.footer}} {
		if !p.b.ok || p.b.out == "" {
			t.Fatalf("the %s pane was not memoised", p.name)
		}
		if unsafe.StringData(p.a.out) != unsafe.StringData(p.b.out) {
			t.Errorf("j drew the %s pane again", p.name)
		}
	}
}

// TestTableMemoDrawsOnlyTheRowsThatChanged: j draws the row the cursor
// left and the one it reached; every other line of the table is the very
// string of the frame before.
func TestTableMemoDrawsOnlyTheRowsThatChanged(t *testing.T) {
	h := newHarness(t, newStore(t), Options{}, 120, 35)
	h.m.render()
	before := h.m.memo.table.lines
	h.press("j")
	h.m.render()
	after := h.m.memo.table.lines
	if !h.m.memo.table.ok || len(after) < 10 {
		t.Fatalf("the table was not memoised (%d lines kept)", len(after))
	}
	drawn := 0
	for k, line := range after {
		if old, ok := before[k]; !ok || unsafe.StringData(old) != unsafe.StringData(line) {
			drawn++
		}
	}
	if drawn != 2 {
		t.Fatalf("j drew %d lines of the table again, want 2 (the row left and the row reached)", drawn)
	}
}
