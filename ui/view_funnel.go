package ui

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/relink/relink/internal/textfmt"
	"github.com/relink/relink/store"
)

// The funnel table's fixed columns: channel, failing, reminded, clicked,
// repaired and median, with a space after each and after the category.
var funnelFixed = []int{7, 7, 8, 9, 9, 7}

const funnelFixedW = 7 + 7 + 8 + 9 + 9 + 7 + 6

// funnelWidth is the funnel dialog's inner width.
func funnelWidth(c *Context) int { return max(40, min(100, c.Width-8)) }

// funnelCols are the widths of the category column and, when there is room
// for one, of the bar (repaired of reminded).
func funnelCols(w int) (cat, bar int) {
	cat = max(8, min(23, w-funnelFixedW))
	bar = min(24, w-funnelFixedW-cat-1)
	if bar < 6 {
		bar = 0
	}
	return cat, bar
}

// funnelLines are the funnel's scrollable lines (styled), how many of them
// show at once, and how many there are.
func funnelLines(c *Context, o *funnelOverlay) ([]string, int, int) {
	s, ic := c.Styles, c.Styles.Icons
	w := funnelWidth(c)
	h := max(1, c.Height-4-6) // title, period, blank, header … blank, hint
	var lines []string
	switch {
	case !o.loaded:
		lines = []string{s.Subtle.Render("loading" + ic.Ellipsis)}
	case o.err != nil:
		lines = para(s.Error, ic.Fail+" reading the funnel: "+o.err.Error(), w)
	case len(o.rows) == 0:
		lines = para(s.Subtle, "No failing connections and no reminders in this period.", w)
	default:
		cat, bar := funnelCols(w)
		prev := ""
		for _, r := range o.rows {
			name, failing := r.Category, fmt.Sprint(r.Failing)
			if name == prev {
				name, failing = "", ""
			}
			prev = r.Category
			lines = append(lines, funnelRow(c, cat, bar, s.Text.Render(name), failing, r))
		}
		lines = append(lines, "", s.Label.Render("By channel, every category"))
		for _, r := range channelTotals(o.rows) {
			lines = append(lines, funnelRow(c, cat, bar, "", "", r))
		}
		lines = append(lines, "")
		lines = append(lines, para(s.Subtle, "Percentages are of the reminded; the median runs from the first reminder to the repair.", w)...)
		if slices.ContainsFunc(o.rows, func(r store.FunnelRow) bool { return r.LinkOnly }) {
			lines = append(lines, para(s.Subtle, "A link row counts what happened with no reminder: a reconnect link clicked, "+
				"or copied or opened by an agent; its percentage is of those, its median from the first use.", w)...)
		}
	}
	return lines, min(h, len(lines)), len(lines)
}

// funnelLinkChannel is what the channel column says on a LinkOnly row.
const funnelLinkChannel = "link"

// channelTotals sums the funnel over the categories, per channel, with the
// repairs after a link without a reminder last.
func channelTotals(rows []store.FunnelRow) []store.FunnelRow {
	var out []store.FunnelRow
	at := map[string]int{}
	for _, r := range rows {
		if r.Channel == "" && !r.LinkOnly {
			continue
		}
		k := r.Channel
		if r.LinkOnly {
			k = funnelLinkChannel // no channel is called that: the key is the LinkOnly total's
		}
		i, ok := at[k]
		if !ok {
			i = len(out)
			at[k] = i
			out = append(out, store.FunnelRow{Channel: r.Channel, LinkOnly: r.LinkOnly})
		}
		t := &out[i]
		t.Reminded += r.Reminded
		t.Clicked += r.Clicked
		t.Repaired += r.Repaired
		t.RepairTimes = append(t.RepairTimes, r.RepairTimes...)
	}
	for i := range out {
		slices.Sort(out[i].RepairTimes)
	}
	slices.SortStableFunc(out, func(a, b store.FunnelRow) int {
		switch {
		case a.LinkOnly == b.LinkOnly:
			return 0
		case a.LinkOnly:
			return 1
		}
		return -1
	})
	return out
}

// funnelRow is one line of the table: category (styled, or blank),
// channel, failing, reminded, clicked and repaired with their share of the
// reminded, the median time to repair, and the bar. A LinkOnly row says
// "link" for its channel and "-" reminded; its clicked are the links used,
// its repaired a share of those.
func funnelRow(c *Context, catW, barW int, cat, failing string, r store.FunnelRow) string {
	s, ic := c.Styles, c.Styles.Icons
	channel, reminded, clicked, repaired, median := "-", fmt.Sprint(r.Reminded), "-", "-", "-"
	of := r.Reminded
	switch {
	case r.LinkOnly:
		channel, reminded, clicked, of = funnelLinkChannel, "-", fmt.Sprint(r.Clicked), r.Clicked
		repaired = shareText(r.Repaired, of)
	case r.Channel != "":
		channel = r.Channel
		clicked, repaired = shareText(r.Clicked, of), shareText(r.Repaired, of)
	}
	if r.Repaired > 0 {
		median = textfmt.Age(r.MedianRepair())
	}
	cells := []string{channel, failing, reminded, clicked, repaired, median}
	var b strings.Builder
	b.WriteString(fit(cat, catW, ic.Ellipsis))
	for i, cell := range cells {
		b.WriteString(" ")
		if i == 0 {
			b.WriteString(s.Text.Render(fit(cell, funnelFixed[i], ic.Ellipsis)))
		} else {
			b.WriteString(s.Text.Render(right(cell, funnelFixed[i])))
		}
	}
	if barW > 0 && of > 0 {
		n := (barW*r.Repaired + of/2) / of
		b.WriteString(" " + s.Chart.Render(strings.Repeat(ic.Bar, n)) + s.Subtle.Render(strings.Repeat("·", barW-n)))
	}
	return b.String()
}

// funnelHeader is the table's header line.
func funnelHeader(c *Context, catW, barW int) string {
	heads := []string{"channel", "failing", "reminded", "clicked", "repaired", "median"}
	var b strings.Builder
	b.WriteString(fit("category", catW, ""))
	for i, h := range heads {
		b.WriteString(" ")
		if i == 0 {
			b.WriteString(fit(h, funnelFixed[i], ""))
		} else {
			b.WriteString(right(h, funnelFixed[i]))
		}
	}
	if barW > 0 {
		b.WriteString(" " + fit("repaired of reminded", barW, c.Styles.Icons.Ellipsis))
	}
	return c.Styles.TableHeader.Render(b.String())
}

// shareText is "6  50%": a count and its share of of ("1  <1%", "99 >99%").
func shareText(n, of int) string {
	if of == 0 {
		return "-"
	}
	return fmt.Sprintf("%d %4s", n, textfmt.Share(n, of))
}

// right aligns s to the right of w cells.
func right(s string, w int) string {
	if sw := ansi.StringWidth(s); sw < w {
		return strings.Repeat(" ", w-sw) + s
	}
	return fit(s, w, "")
}

// renderFunnel is "what works": the reconnect funnel of the last
// funnelPeriod per category and channel, then per channel over every
// category, with the median time to repair.
func renderFunnel(c *Context, o *funnelOverlay) string {
	s, ic := c.Styles, c.Styles.Icons
	w := funnelWidth(c)
	body, h, n := funnelLines(c, o)
	period := fmt.Sprintf("last %d days", int(funnelPeriod/(24*time.Hour)))
	if o.loaded {
		period += ", since " + o.since.In(c.Now().Location()).Format("2006-01-02")
	}
	lines := []string{
		fit(s.DialogTitle.Render("What works: the reconnect funnel"), w, ic.Ellipsis),
		fit(s.Subtle.Render(period+" · failing → reminded → clicked → repaired"), w, ic.Ellipsis),
		"",
	}
	if o.loaded && o.err == nil && len(o.rows) > 0 {
		cat, bar := funnelCols(w)
		lines = append(lines, funnelHeader(c, cat, bar))
	}
	for _, l := range o.scroll.window(body, h) {
		lines = append(lines, fit(l, w, ic.Ellipsis))
	}
	d := c.Keys.Dialog
	hint := hints([2]string{firstKey(d.Close), "closes"})
	if n > h {
		hint = hints([2]string{firstKey(d.Close), "closes"}, [2]string{keysHint(d.ScrollDown, d.ScrollUp), "scroll"}) +
			" · " + o.scroll.position(n, h)
	}
	lines = append(lines, "", fit(s.Subtle.Render(hint), w, ic.Ellipsis))
	return s.Dialog.Render(clip(strings.Join(lines, "\n"), w, max(1, c.Height-4)))
}
