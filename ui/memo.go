package ui

import (
	"reflect"
	"slices"
	"strings"

	"github.com/charmbracelet/x/ansi"

	"github.com/relink/relink/themes"
)

// The frame is redrawn after every message, most often a key that only
// moved the cursor; the panes around the table then draw exactly what they
// drew before. memo keeps each one's last drawing with the inputs it was
// drawn from, and draws again only when one of them differs.

// styleKey names the styles a frame is drawn with: the inputs of restyle
// (palette, background, colour mode, ASCII glyphs), so that a theme, a
// background answer or NO_COLOR draws every pane again.
type styleKey struct {
	palette     themes.Palette
	dark, plain bool
	ascii       bool
}

func (m *Model) styleKey() styleKey {
	return styleKey{palette: m.palette, dark: m.dark, plain: m.plain, ascii: m.opts.ASCII}
}

// memo is one pane's last drawing. Its inputs are compared deeply
// (reflect.DeepEqual), so a field added to a pane's data is part of the key
// without anyone remembering to add it. The data a pane is drawn from is
// replaced when the store answers (handleData), never changed in place, so
// the kept inputs are the last frame's. A pane that reads the clock must
// pass the text it derives from it ("3s ago") among its inputs.
type memo struct {
	ok    bool
	style styleKey
	w, h  int
	in    any
	out   string
}

// draw returns the last drawing if style, size and in are those it was
// drawn from, else draws again with f and keeps that.
func (p *memo) draw(style styleKey, w, h int, in any, f func() string) string {
	if p.ok && p.style == style && p.w == w && p.h == h && reflect.DeepEqual(p.in, in) {
		return p.out
	}
	p.ok, p.style, p.w, p.h, p.in, p.out = true, style, w, h, in, f()
	return p.out
}

// memos are the dashboard's memoised panes, the table's lines (see
// tableMemo), and the line widths of the last frame's table and pane (see
// beside).
type memos struct {
	insights, tabs, footer memo
	table                  tableMemo
	tableLines, paneLines  lineWidths
}

// tabsIn is what the header is drawn from.
type tabsIn struct {
	tabs     []group
	gi       int
	operator string
	readOnly bool
}

// footerIn is what the footer is drawn from.
type footerIn struct {
	mode footerMode
	keys KeyMap
}

// lineWidths are the lines of one block of the last frame and their
// widths, so that a line drawn again the same costs a comparison, not a
// measure.
type lineWidths struct {
	lines  []string
	widths []int
}

// measure splits s into lines as lipgloss does (tabs as four spaces) and
// measures each; a line equal to the one at its place in the last frame
// keeps its width.
func (lw *lineWidths) measure(s string) (lines []string, widths []int, widest int) {
	s = strings.ReplaceAll(s, "\t", "    ")
	s = strings.ReplaceAll(s, "\r\n", "\n")
	lines = strings.Split(s, "\n")
	widths = make([]int, len(lines))
	for i, l := range lines {
		if i < len(lw.lines) && lw.lines[i] == l {
			widths[i] = lw.widths[i]
		} else {
			widths[i] = ansi.StringWidth(l)
		}
		widest = max(widest, widths[i])
	}
	lw.lines, lw.widths = lines, widths
	return lines, widths, widest
}

// beside is lipgloss.JoinHorizontal(lipgloss.Top, left, " ", right), byte
// for byte: each line of left padded to its widest, a space, each line of
// right padded to its widest, the shorter block continued with blank
// lines. Lines unchanged since the last frame are not measured again.
func (ms *memos) beside(left, right string) string {
	ll, lwid, lmax := ms.tableLines.measure(left)
	rl, rwid, rmax := ms.paneLines.measure(right)
	n := max(len(ll), len(rl))
	var b strings.Builder
	b.Grow(len(left) + len(right) + n*(lmax+rmax+2))
	for i := range n {
		lw, rw := 0, 0
		if i < len(ll) {
			b.WriteString(ll[i])
			lw = lwid[i]
		}
		pad(&b, lmax-lw)
		b.WriteByte(' ')
		if i < len(rl) {
			b.WriteString(rl[i])
			rw = rwid[i]
		}
		pad(&b, rmax-rw)
		if i < n-1 {
			b.WriteByte('\n')
		}
	}
	return b.String()
}

func pad(b *strings.Builder, n int) {
	for range n {
		b.WriteByte(' ')
	}
}

// tabsInput is the header's input; the tabs are copied, so that the memo
// never shares them with the model.
func (m *Model) tabsInput(tabs []group, gi int) tabsIn {
	return tabsIn{tabs: slices.Clone(tabs), gi: gi, operator: m.opts.Operator, readOnly: m.c.ReadOnly}
}
