package ui

import (
	"fmt"
	"strings"

	"github.com/relink/relink/store"
)

// renderInsights is the current group's shape: new failures per day over
// 14 days and the institutions it is concentrated at (a spike at one
// institution is an outage, not 40 separate users). In a pane of 4 rows it
// is a two-line strip.
func renderInsights(c *Context, g group, ins insightsMsg, w, h int) string {
	s, ic := c.Styles, c.Styles.Icons
	title := "Where " + g.label() + " breaks"
	inner := max(1, w-4)
	if g.sg.Kind == store.GroupExpiring {
		return pane(c, title, s.Subtle.Render("deadlines are in the table, soonest first"), w, h)
	}
	if ins.err != nil {
		return pane(c, title, s.Error.Render(ic.Fail+" "+ins.err.Error()), w, h)
	}
	if ins.group != g.key() {
		return pane(c, title, s.Subtle.Render("loading…"), w, h)
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
	if h <= 4 {
		var tops []string
		for i, b := range ins.breakdown {
			if i == 4 {
				break
			}
			tops = append(tops, fmt.Sprintf("%s %s %d", b.Institution, s.Subtle.Render(b.Provider), b.N))
		}
		top := strings.Join(tops, s.Subtle.Render(" "+ic.Sep+" "))
		if top == "" {
			top = s.Subtle.Render("nothing failing")
		}
		body := s.Label.Render("new/day 14d ") + spark + stats + "\n" + s.Label.Render("where       ") + top
		return pane(c, title, body, w, h)
	}
	lines := []string{s.Label.Render("New failures per day, last 14 days"), spark + stats, "", s.Label.Render("By institution")}
	most := 1
	for _, b := range ins.breakdown {
		most = max(most, b.N)
	}
	nameW := min(24, max(8, inner/2-6))
	barW := max(1, inner-nameW-7-8)
	for _, b := range ins.breakdown {
		n := max(1, b.N*barW/most)
		lines = append(lines, fit(b.Institution, nameW, ic.Ellipsis)+" "+s.Subtle.Render(fit(b.Provider, 6, ""))+" "+
			s.Chart.Render(strings.Repeat(ic.Bar, n))+" "+fmt.Sprint(b.N))
	}
	if len(ins.breakdown) == 0 {
		lines = append(lines, s.Success.Render(ic.OK+" nothing failing"))
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
