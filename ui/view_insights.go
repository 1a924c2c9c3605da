package ui

import (
	"fmt"
	"strings"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/relink/relink/health"
	"github.com/relink/relink/internal/institution"
	"github.com/relink/relink/internal/textfmt"
	"github.com/relink/relink/store"
)

// insightsData is what the side pane shows when no connection is open: the
// current group's shape, and for All failing the whole picture.
type insightsData struct {
	g       group
	groups  []group // the tabs, numbered 1-9 for jump_group
	counts  store.Counts
	ins     insightsMsg
	jumpKey bool   // the number keys jump to groups
	findKey string // the key that finds a group by name (the palette)
}

func (m *Model) insightsData() insightsData {
	return insightsData{g: m.group(), groups: m.groups, counts: m.counts, ins: m.insights,
		jumpKey: m.c.Keys.JumpGroup.Enabled(), findKey: firstKey(m.c.Keys.Palette)}
}

// renderInsights is the side pane of the current group. All failing has
// every failing category with its count, worst first, numbered for the
// jump keys, then what is not failing; every group has its new failures
// per day over 14 days and the institutions it is concentrated at (a spike
// at one institution is an outage, not 40 separate users). Expiring has its
// deadlines and warnings; everyone, what the cache holds. In a pane of 4
// rows (under the table) it is a two-line strip.
func renderInsights(c *Context, d insightsData, w, h int) string {
	s, ic, g, ins := c.Styles, c.Styles.Icons, d.g, d.ins
	title := "Where " + g.label() + " breaks"
	strip := h <= 4
	switch g.sg.Kind {
	case store.GroupAllFailing:
		title = fmt.Sprintf("All failing: %d in %s", g.count, textfmt.Plural(len(failingGroups(d.groups)), "category", "categories"))
	case store.GroupExpiring:
		return renderExpiring(c, d, w, h)
	case store.GroupEveryone:
		return renderEveryone(c, d, w, h)
	}
	if ins.err != nil {
		return pane(c, title, s.Error.Render(ic.Fail+" "+ins.err.Error()), w, h)
	}
	if strip && g.sg.Kind == store.GroupAllFailing {
		return pane(c, title, strings.Join(categoryStrip(c, d, max(1, w-4)), "\n"), w, h)
	}
	var lines []string
	if g.sg.Kind == store.GroupAllFailing {
		lines = categoryLines(c, d, max(1, w-4))
		if d.counts.Failing == 0 { // no chart of nothing
			return pane(c, title, strings.Join(lines, "\n"), w, h)
		}
		lines = append(lines, "")
	}
	if ins.group != g.key() {
		return pane(c, title, strings.Join(append(lines, s.Subtle.Render("loading"+ic.Ellipsis)), "\n"), w, h)
	}
	spark := sparkline(c, ins.perDay)
	peak, today := 0, 0
	for _, n := range ins.perDay {
		peak = max(peak, n)
	}
	if len(ins.perDay) > 0 {
		today = ins.perDay[len(ins.perDay)-1]
	}
	stats := s.Subtle.Render(fmt.Sprintf(" peak %d · today %d", peak, today))
	if strip {
		var tops []string
		for i, b := range ins.breakdown {
			if i == 4 {
				break
			}
			tops = append(tops, fmt.Sprintf("%s %s %d", institution.Name(b.Provider, b.Institution), s.Subtle.Render(b.Provider), b.N))
		}
		top := strings.Join(tops, s.Subtle.Render(" "+ic.Sep+" "))
		if top == "" {
			top = s.Subtle.Render("nothing failing")
		}
		body := s.Label.Render("new/day 14d ") + spark + stats + "\n" + s.Label.Render("where       ") + top
		return pane(c, title, body, w, h)
	}
	lines = append(lines, s.Label.Render("New failures per day, last 14 days"), spark+stats, "", s.Label.Render("By institution"))
	lines = append(lines, breakdownLines(c, ins.breakdown, max(1, w-4))...)
	if len(ins.breakdown) == 0 {
		lines = append(lines, s.Success.Render(ic.OK+" nothing failing"))
	}
	return pane(c, title, strings.Join(lines, "\n"), w, h)
}

// breakdownLines are the institutions a group fails at, most first, in w
// cells: the name as wide as the longest needs (an EHR by its short name,
// else cut, when the pane is narrow), the provider, a bar and the count.
func breakdownLines(c *Context, bs []store.Breakdown, w int) []string {
	s, ic := c.Styles, c.Styles.Icons
	most, nameW := 1, 0
	for _, b := range bs {
		most = max(most, b.N)
		nameW = max(nameW, textfmt.Width(institution.Name(b.Provider, b.Institution)))
	}
	const provW, minBar = 6, 4
	countW := len(fmt.Sprint(most))
	nameW = max(1, min(nameW, w-provW-countW-3-minBar))
	barW := max(1, w-nameW-provW-countW-3)
	var lines []string
	for _, b := range bs {
		n := max(1, b.N*barW/most)
		lines = append(lines, fit(institution.Fit(b.Provider, b.Institution, nameW, ic.Ellipsis), nameW, ic.Ellipsis)+" "+
			s.Subtle.Render(fit(b.Provider, provW, ic.Ellipsis))+" "+s.Chart.Render(strings.Repeat(ic.Bar, n))+" "+fmt.Sprint(b.N))
	}
	return lines
}

// failingGroups are the tabs of failing categories, with their numbers (1 is All failing).
func failingGroups(gs []group) []int {
	var out []int
	for i, g := range gs {
		if g.sg.Kind == store.GroupCategory && g.count > 0 {
			out = append(out, i)
		}
	}
	return out
}

// categoryLines are All failing's overview: each failing category with its
// count, worst first, its number for the jump keys, and a mark on those a
// reminder cannot fix; then the groups that are not failing and what the
// cache holds besides.
func categoryLines(c *Context, d insightsData, w int) []string {
	s, ic := c.Styles, c.Styles.Icons
	num := func(i int) string {
		if d.jumpKey && i >= 0 && i < 9 {
			return fmt.Sprintf("%d ", i+1)
		}
		return "  "
	}
	countW := len(fmt.Sprint(max(d.counts.Total, 1)))
	nameW := max(8, min(24, w-2-countW-3))
	line := func(i int, name string, n int, st, mark string) string {
		return s.FooterKey.Render(num(i)) + st + strings.Repeat(" ", max(0, nameW-len([]rune(name)))) + " " +
			s.Text.Render(fmt.Sprintf("%*d", countW, n)) + mark
	}
	lines := []string{s.Label.Render("By category, worst first")}
	noRemind := false
	for _, i := range failingGroups(d.groups) {
		g := d.groups[i]
		name := fit(g.label(), nameW, ic.Ellipsis)
		mark := ""
		if !g.sg.Category.Remindable() {
			mark, noRemind = " "+s.Warning.Render(ic.Fail), true
		}
		lines = append(lines, line(i, strings.TrimRight(name, " "), g.count, s.Category(g.sg.Category).Render(strings.TrimRight(name, " ")), mark))
	}
	if len(lines) == 1 {
		lines = append(lines, nothingFailing(c, d.counts))
	}
	for i, g := range d.groups {
		if g.sg.Kind == store.GroupExpiring && g.count > 0 {
			lines = append(lines, line(i, g.label(), g.count, s.Warning.Render(g.label()), ""))
		}
	}
	if n := d.counts.ByCategory[health.Unknown]; n > 0 {
		lines = append(lines, line(-1, "never checked", n, s.Subtle.Render("never checked"), ""))
	}
	if n := d.counts.ByCategory[health.Healthy]; n > 0 {
		lines = append(lines, line(-1, "healthy", n, s.Success.Render("healthy"), ""))
	}
	if noRemind {
		lines = append(lines, s.Warning.Render(ic.Fail)+s.Subtle.Render(" a reminder cannot fix it"))
	}
	if d.findKey != "" {
		lines = append(lines, s.Subtle.Render(d.findKey+" finds a group by name"))
	}
	return lines
}

// nothingFailing says there is nothing failing only when something was
// checked: an empty cache, or one never checked, is said as such.
func nothingFailing(c *Context, n store.Counts) string {
	s, ic := c.Styles, c.Styles.Icons
	unchecked := n.ByCategory[health.Unknown]
	switch {
	case n.Total == 0:
		return s.Subtle.Render("the cache is empty")
	case unchecked == n.Total:
		return s.Warning.Render(ic.Warn + " nothing checked yet")
	case unchecked > 0:
		return s.Success.Render(fmt.Sprintf("%s nothing failing of the %d checked", ic.OK, n.Total-unchecked))
	}
	return s.Success.Render(ic.OK + " nothing failing")
}

// categoryStrip is the overview in two lines under the table (80 columns):
// as many categories with their counts as fit, worst first, then how many
// more and the key that finds them.
func categoryStrip(c *Context, d insightsData, w int) []string {
	s, ic := c.Styles, c.Styles.Icons
	idx := failingGroups(d.groups)
	if len(idx) == 0 {
		return []string{nothingFailing(c, d.counts), ""}
	}
	sep := s.Subtle.Render(" " + ic.Sep + " ")
	sepW := lipgloss.Width(sep)
	more := func(n int) string {
		t := fmt.Sprintf("+%d more", n)
		if d.findKey != "" {
			t += " (press " + d.findKey + ")"
		}
		return s.Accent.Render(t)
	}
	lines, used, row := []string{"", ""}, [2]int{}, 0
	for k := 0; k < len(idx); k++ {
		g := d.groups[idx[k]]
		it := s.Category(g.sg.Category).Render(g.label()) + " " + s.Text.Render(fmt.Sprint(g.count))
		need := lipgloss.Width(it)
		if used[row] > 0 {
			need += sepW
		}
		room := w
		if rest := len(idx) - k - 1; row == 1 && rest > 0 { // room for "+n more" after it
			room -= sepW + lipgloss.Width(more(rest))
		}
		switch {
		case used[row]+need <= room:
			if used[row] > 0 {
				lines[row] += sep
			}
			lines[row] += it
			used[row] += need
		case row == 0:
			row, k = 1, k-1 // again, on the second line
		default:
			if used[1] > 0 {
				lines[1] += sep
			}
			lines[1] += more(len(idx) - k)
			return lines
		}
	}
	return lines
}

// renderExpiring is the expiring group's pane: how soon the deadlines come
// and which warnings there are.
func renderExpiring(c *Context, d insightsData, w, h int) string {
	s, ic, e := c.Styles, c.Styles.Icons, d.ins.expiring
	title := "Expiring: when what works breaks"
	switch {
	case d.ins.err != nil:
		return pane(c, title, s.Error.Render(ic.Fail+" "+d.ins.err.Error()), w, h)
	case d.ins.group != d.g.key():
		return pane(c, title, s.Subtle.Render("loading"+ic.Ellipsis), w, h)
	}
	buckets := []struct {
		name string
		n    int
		note string
	}{
		{"passed", e.Passed, "the next check tells"}, {"within a day", e.Within24h, ""}, {"within a week", e.Within7d, ""},
		{"later", e.Later, ""}, {"no date", e.NoDeadline, "listed last"},
	}
	warnings := []health.Warning{health.ConsentExpiring, health.PasswordChangeWarning, health.AccountRevokedPartial}
	sep := s.Subtle.Render(" " + ic.Sep + " ")
	if h <= 4 {
		var when, which []string
		for _, b := range buckets {
			if b.n > 0 {
				when = append(when, fmt.Sprintf("%d %s", b.n, b.name))
			}
		}
		for _, wn := range warnings {
			if n := e.ByWarning[wn]; n > 0 {
				which = append(which, fmt.Sprintf("%s %d", wn, n))
			}
		}
		return pane(c, title, s.Label.Render("deadlines ")+s.Text.Render(strings.Join(when, sep))+"\n"+
			s.Label.Render("warnings  ")+s.Text.Render(strings.Join(which, sep)), w, h)
	}
	inner := max(1, w-4)
	lines := []string{s.Label.Render("Deadlines, soonest first")}
	for _, b := range buckets {
		l := fit(b.name, 14, ic.Ellipsis) + s.Text.Render(fmt.Sprintf("%5d", b.n))
		switch note := "  " + b.note; {
		case b.note == "" || b.n == 0:
		case 19+textfmt.Width(note) <= inner:
			l += s.Subtle.Render(note)
		default: // a note that would be cut goes under its line, whole
			lines = append(lines, l)
			for _, nl := range strings.Split(wordwrap(b.note, max(1, inner-2)), "\n") {
				lines = append(lines, s.Subtle.Render("  "+nl))
			}
			continue
		}
		lines = append(lines, l)
	}
	lines = append(lines, "", s.Label.Render("By warning"))
	for _, wn := range warnings {
		if n := e.ByWarning[wn]; n > 0 {
			lines = append(lines, s.Warning.Render(fit(string(wn), 24, ic.Ellipsis))+s.Text.Render(fmt.Sprintf("%5d", n)))
		}
	}
	return pane(c, title, strings.Join(lines, "\n"), w, h)
}

// renderEveryone is the everyone group's pane: what the cache holds, and
// how a lookup matches.
func renderEveryone(c *Context, d insightsData, w, h int) string {
	s, ic, n := c.Styles, c.Styles.Icons, d.counts
	title := "Everyone: " + textfmt.Plural(n.Total, "connection", "connections")
	states := []struct {
		name string
		n    int
	}{{"failing", n.Failing}, {"with a warning", n.Expiring}, {"healthy", n.ByCategory[health.Healthy]},
		{"never checked", n.ByCategory[health.Unknown]}}
	how := "finds whoever's email, name, user ref or id (plaid:item-…) starts with what you type, any case"
	if h <= 4 {
		var parts []string
		for _, st := range states {
			parts = append(parts, fmt.Sprintf("%d %s", st.n, st.name))
		}
		return pane(c, title, s.Label.Render("in the cache ")+s.Text.Render(strings.Join(parts, s.Subtle.Render(" "+ic.Sep+" ")))+"\n"+
			s.Label.Render("a lookup    ")+s.Subtle.Render("by the start of an email, a name or an id, in any state"), w, h)
	}
	lines := []string{s.Label.Render("In the cache")}
	for _, st := range states {
		lines = append(lines, fit(st.name, 15, ic.Ellipsis)+s.Text.Render(fmt.Sprintf("%8d", st.n)))
	}
	lines = append(lines, "", s.Label.Render("A lookup"))
	for _, l := range strings.Split(wordwrap(how+", in any state: healthy and never checked too.", max(1, w-4)), "\n") {
		lines = append(lines, s.Subtle.Render(l))
	}
	return pane(c, title, strings.Join(lines, "\n"), w, h)
}

// sparkline draws one glyph per day, scaled to the busiest day; a day with
// none is the lowest glyph, dimmed.
func sparkline(c *Context, perDay []int) string {
	s, glyphs := c.Styles, c.Styles.Icons.Spark
	peak := 0
	for _, n := range perDay {
		peak = max(peak, n)
	}
	var b strings.Builder
	for _, n := range perDay {
		if n == 0 || peak == 0 {
			b.WriteString(s.Subtle.Render(glyphs[0]))
			continue
		}
		level := 1 + (n*(len(glyphs)-2)+peak-1)/peak // 1…len-1
		b.WriteString(s.Chart.Render(glyphs[min(level, len(glyphs)-1)]))
	}
	return b.String()
}

// wordwrap wraps plain text at w cells.
func wordwrap(text string, w int) string { return ansi.Wordwrap(text, w, " ") }
