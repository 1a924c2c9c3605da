package ui

import (
	"fmt"
	"strings"
	"time"

	"charm.land/lipgloss/v2"

	"github.com/relink/relink/health"
	"github.com/relink/relink/internal/institution"
	"github.com/relink/relink/internal/textfmt"
	"github.com/relink/relink/store"
)

// tableData is what the table shows: a window of a group's rows.
type tableData struct {
	rows    []store.Connection
	rowsOff int
	top     int
	cursor  int // -1: no row is selected (the pane holds one that left the group)
	total   int
	loaded  bool
	marks   map[int64]string
	kind    store.GroupKind
	sort    store.Sort
	desc    bool
	filter  string
	empty   emptyState // what an empty table says
}

// emptyState is what an empty group says instead of rows: how to start on a
// first run, and never "nothing failing" while connections were never checked.
type emptyState struct {
	firstRun    bool
	configFile  string
	configFound bool
	counts      store.Counts
	anywhere    int    // what the filter finds in any state
	everyone    string // the key that shows them
	syncKey     string
}

func (m *Model) tableData() tableData {
	d := tableData{rows: m.rows, rowsOff: m.rowsOff, top: m.top, cursor: m.cursor, total: m.total, loaded: m.loaded,
		marks: m.marks, kind: m.group().sg.Kind, sort: m.sort, desc: m.desc, filter: m.applied,
		empty: emptyState{firstRun: m.firstRun(), configFile: m.opts.ConfigFile, configFound: m.opts.ConfigFound,
			counts: m.counts, anywhere: m.anywhere, everyone: firstKey(m.c.Keys.Everyone), syncKey: firstKey(m.c.Keys.Sync)}}
	if m.pinned != nil {
		d.cursor = -1
	}
	return d
}

// column is one table column. Columns are dropped, lowest priority first,
// until the rest fit; spare room goes to them in the stages of growth.
type column struct {
	id        string
	title     string
	want, max int // the width it is kept at, and the most it grows to
	prio      int // lower is kept longer
}

func tableColumns(kind store.GroupKind) []column {
	cat := column{"category", "category", 18, 21, 3}
	since := column{"since", "failing", 9, 9, 1}
	switch kind {
	case store.GroupCategory:
		cat.prio = 9 // the tab says it already
	case store.GroupExpiring:
		since = column{"since", "deadline", 10, 10, 1}   // "deadline ↑"
		cat.title, cat.want, cat.max = "warning", 23, 23 // password_change_warning
	case store.GroupEveryone:
		cat.title, cat.prio = "state", 1 // what a lookup is for
	}
	// reminded outranks provider, code and email: after r it is what the
	// rows must show ("2h ago"), at 80 columns too.
	email, reminded := column{"email", "email", 24, 34, 7}, column{"reminded", "reminded", 9, 9, 4} // "✗ contact"
	if kind == store.GroupEveryone {                                                                // a lookup: who, their email, their state
		email.prio, since.prio = 1, 5
	}
	return []column{
		{"user", "user", 16, 28, 0},
		email,
		{"provider", "provider", 8, 8, 5},
		{"institution", "institution", 14, 34, 2}, // "eClinicalWorks · northside-clinic"
		cat,
		{"code", "code", 19, 27, 6}, // access_token.login_required
		since,
		reminded,
	}
}

// growth is the order spare room goes to the columns, stage by stage, one
// cell at a time to each column of a stage below its width there (and its
// max). First what 80 and 120 columns have room for (a name, an
// institution and a category a little wider); then the institution and the
// user their natural width ("eClinicalWorks · northside-clinic", most
// names); only then every column up to its max. A narrower table takes
// back from the last stage first, so opening the pane changes as few
// columns as it can.
var growth = []map[string]int{
	{"user": 19, "institution": 18, "category": 20},
	{"institution": 33},
	{"user": 22},
	{"user": 99, "email": 99, "provider": 99, "institution": 99, "category": 99, "code": 99, "since": 99, "reminded": 99},
}

// naturalStages are the stages of growth that make a table natural: its
// user and institution at their natural width.
const naturalStages = 3

// layoutColumns picks the columns that fit in w cells and their widths.
func layoutColumns(cols []column, w int) ([]column, []int) {
	keep := append([]column(nil), cols...)
	for len(keep) > 1 && need(keep) > w {
		worst := 0
		for i, c := range keep {
			if c.prio > keep[worst].prio {
				worst = i
			}
		}
		keep = append(keep[:worst], keep[worst+1:]...)
	}
	widths := make([]int, len(keep))
	for i, c := range keep {
		widths[i] = c.want
	}
	spare := w - need(keep)
	if spare < 0 { // one column left, wider than the table
		widths[0] += spare
		return keep, widths
	}
	spare = grow(keep, widths, spare, len(growth))
	if spare > 0 && len(widths) > 0 {
		widths[0] += spare
	}
	return keep, widths
}

// need is the width of the columns at their wanted widths, one space between.
func need(cs []column) int {
	n := len(cs) - 1
	for _, c := range cs {
		n += c.want
	}
	return n
}

// grow hands spare cells to widths through the first stages of growth and
// returns what is left.
func grow(cols []column, widths []int, spare, stages int) int {
	for _, stage := range growth[:stages] {
		for spare > 0 {
			grew := false
			for i, c := range cols {
				if spare > 0 && widths[i] < min(c.max, stage[c.id]) {
					widths[i]++
					spare--
					grew = true
				}
			}
			if !grew {
				break
			}
		}
	}
	return spare
}

// naturalTableWidth is the widest table of any group with every column
// and its user and institution at their natural width, the cursor's three
// cells included: the side pane takes only what is left of a terminal.
func naturalTableWidth() int {
	most := 0
	for _, kind := range []store.GroupKind{store.GroupAllFailing, store.GroupCategory, store.GroupExpiring, store.GroupEveryone} {
		cols := tableColumns(kind)
		widths := make([]int, len(cols))
		for i, c := range cols {
			widths[i] = c.want
		}
		const plenty = 1 << 10
		most = max(most, need(cols)+plenty-grow(cols, widths, plenty, naturalStages))
	}
	return most + 3
}

// renderTable draws the header and the visible rows in exactly w×h cells.
// The selected row has a cursor marker and the selection style (bold with a
// background, or reverse video without colours); marked rows have a mark.
func renderTable(c *Context, d tableData, w, h int) string {
	s, ic := c.Styles, c.Styles.Icons
	cols, widths := layoutColumns(tableColumns(d.kind), w-3)
	var b strings.Builder
	head := make([]string, len(cols))
	for i, col := range cols {
		t := col.title
		if sortColumn(d.sort) == col.id {
			t += " " + sortArrow(ic, d.kind, d.sort, d.desc)
		}
		head[i] = fit(t, widths[i], ic.Ellipsis)
	}
	b.WriteString(s.TableHeader.Render(fit("   "+strings.Join(head, " "), w, ic.Ellipsis)))
	now := c.Now()
	var empty []string
	if d.total == 0 {
		empty = emptyLines(c, d)
	}
	for r := 0; r < h-1; r++ {
		b.WriteString("\n")
		abs := d.top + r
		i := abs - d.rowsOff
		switch {
		case abs >= d.total:
			if d.total == 0 && r < len(empty) {
				b.WriteString(fit(empty[r], w, ic.Ellipsis))
			} else {
				b.WriteString(strings.Repeat(" ", w))
			}
			continue
		case i < 0 || i >= len(d.rows):
			b.WriteString(s.Subtle.Render(fit("   "+ic.Ellipsis, w, "")))
			continue
		}
		conn := d.rows[i]
		cells := make([]string, len(cols))
		for j, col := range cols {
			text := cellText(c, conn, col.id, d.kind, now)
			if col.id == "institution" { // an EHR's short name before a cut
				text = institution.Fit(conn.Provider, conn.Institution, widths[j], ic.Ellipsis)
			}
			cells[j] = fit(text, widths[j], ic.Ellipsis)
		}
		cur, mark := " ", " "
		if abs == d.cursor {
			cur = ic.Cursor
		}
		if _, ok := d.marks[conn.ID]; ok {
			mark = ic.Mark
		}
		line := strings.Join(cells, " ")
		if abs == d.cursor {
			b.WriteString(s.RowSelected.Render(fit(cur+mark+" "+line, w, ic.Ellipsis)))
			continue
		}
		if j := indexOf(cols, "category"); j >= 0 {
			cells[j] = s.Category(conn.Health.Category).Render(cells[j])
			line = strings.Join(cells, " ")
		}
		if j := indexOf(cols, "reminded"); j >= 0 && noRemindWord(conn) != "" {
			cells[j] = s.Warning.Render(cells[j])
			line = strings.Join(cells, " ")
		}
		b.WriteString(fit(cur+s.MarkGlyph.Render(mark)+" "+s.Row.Render(line), w, ic.Ellipsis))
	}
	return b.String()
}

// emptyLines are what an empty table says: loading; nothing
// matching the filter (and where it does match); how to start, on a first
// run; and "nothing failing" only when every connection was checked.
func emptyLines(c *Context, d tableData) []string {
	s, ic, e := c.Styles, c.Styles.Icons, d.empty
	line := func(st lipgloss.Style, text string) string { return st.Render("   " + text) }
	unchecked := e.counts.ByCategory[health.Unknown]
	switch {
	case !d.loaded:
		return []string{line(s.Subtle, "loading"+ic.Ellipsis)}
	case d.kind == store.GroupEveryone && d.filter == "":
		return []string{line(s.Text, fmt.Sprintf("Find anyone among %s, failing, healthy or never checked:",
			textfmt.Plural(e.counts.Total, "connection", "connections"))),
			line(s.Subtle, "type / and the start of an email, a name or an id (u_123, plaid:item-…)")}
	case d.kind == store.GroupEveryone:
		return []string{line(s.Subtle, "no email, name or id starts with that; esc clears")}
	case d.filter != "" && e.anywhere > 0 && e.everyone != "":
		return []string{line(s.Subtle, fmt.Sprintf("no match in this group; %d in any state: %s shows them, esc clears",
			e.anywhere, e.everyone))}
	case d.filter != "":
		return []string{line(s.Subtle, "nothing matches the filter; esc clears it")}
	case e.firstRun:
		return firstRunLines(c, e)
	case d.kind == store.GroupExpiring:
		return []string{line(s.Subtle, "no connection has a warning")}
	case unchecked > 0:
		do := "relink sync checks them"
		if e.syncKey != "" {
			do = e.syncKey + " checks them (or relink sync)"
		}
		return []string{line(s.Warning, fmt.Sprintf("%s %s never checked: %s", ic.Warn,
			textfmt.Plural(unchecked, "connection was", "connections were"), do)),
			line(s.Subtle, fmt.Sprintf("nothing failing among the %d checked", e.counts.Total-unchecked))}
	}
	return []string{line(s.Success, ic.OK+" nothing failing here")}
}

// firstRunLines say how to start when no provider is configured: which
// config file was looked for, what the cache holds, and the next steps.
func firstRunLines(c *Context, e emptyState) []string {
	s, ic := c.Styles, c.Styles.Icons
	cfg := "no config file"
	switch {
	case e.configFile != "" && e.configFound:
		cfg = e.configFile + s.Subtle.Render(" (read: it configures no provider)")
	case e.configFile != "":
		cfg = e.configFile + s.Subtle.Render(" (not found)")
	}
	held := "empty"
	if n := e.counts.Total; n > 0 {
		held = textfmt.Plural(n, "connection", "connections")
		if u := e.counts.ByCategory[health.Unknown]; u > 0 {
			held += fmt.Sprintf(", %d never checked", u)
		}
	}
	step := func(cmd, what string) string {
		return "     " + s.Accent.Render(fit(cmd, 24, ic.Ellipsis)) + " " + s.Text.Render(what)
	}
	return []string{
		"   " + s.Bold.Render("Getting started: no provider is configured"),
		"",
		"   " + s.Label.Render(fit("config", 8, ic.Ellipsis)) + s.Text.Render(cfg),
		"   " + s.Label.Render(fit("cache", 8, ic.Ellipsis)) + s.Text.Render(held),
		"",
		"   " + s.Label.Render("Next steps"),
		step("relink --demo", "try it all against local emulators, no keys"),
		step("add a provider's keys", "to the config: [plaid], [belvo] or [cobalt]"),
		step("", s.Subtle.Render("(or PLAID_SECRET… in the environment; README)")),
		step("relink import users.csv", "register the connections to watch"),
		step("relink sync", "check them: the failing ones show here"),
	}
}

func indexOf(cols []column, id string) int {
	for i, c := range cols {
		if c.id == id {
			return i
		}
	}
	return -1
}

func sortColumn(s store.Sort) string {
	switch s {
	case store.SortName:
		return "user"
	case store.SortInstitution:
		return "institution"
	}
	return "since"
}

// cellText is one cell of a row, unstyled.
func cellText(ctx *Context, c store.Connection, col string, kind store.GroupKind, now time.Time) string {
	h := c.Health
	switch col {
	case "user":
		return displayName(c)
	case "email":
		return c.Email
	case "provider":
		return c.Provider
	case "institution":
		return institution.Name(c.Provider, c.Institution)
	case "category":
		return categoryText(c, kind)
	case "code":
		if h.ProviderCode == "" {
			return h.ProviderReason
		}
		return h.ProviderCode
	case "since":
		if kind == store.GroupExpiring {
			if h.Deadline == nil {
				return "no date"
			}
			return "in " + untilText(h.Deadline.Sub(now))
		}
		if h.FirstFailedAt == nil {
			return ""
		}
		return textfmt.Age(now.Sub(*h.FirstFailedAt))
	case "reminded":
		if w := noRemindWord(c); w != "" {
			return ctx.Styles.Icons.Fail + " " + w
		}
		if c.LastRemindedAt == nil {
			return "never"
		}
		return agoText(c.LastRemindedAt, now)
	}
	return ""
}

// noRemindWord is, for a connection no reminder can fix, the word the
// reminded column shows instead, before r is pressed: "contact" (the user
// revoked access), "re-link" (gone at the provider: the user starts again),
// "manual", "waits" (an outage passes by itself), "ours" (not the user's to
// fix). "" when a reminder can go (or nothing is wrong).
func noRemindWord(c store.Connection) string {
	h := c.Health
	switch {
	case !h.Category.Failing():
		if h.Warning != health.NoWarning && !h.Warning.Remindable() {
			return "manual"
		}
		return ""
	case h.Category.Remindable():
		return ""
	case h.Category == health.PermissionRevoked:
		return "contact"
	case h.Category == health.NotFound:
		return "re-link"
	case h.Category == health.ConsentInsufficient:
		return "manual"
	case h.Category.Transient():
		return "waits"
	}
	return "ours"
}

// noRemindWhy says in full why no reminder goes to c, for the details pane.
func noRemindWhy(c store.Connection) string {
	switch noRemindWord(c) {
	case "contact":
		return "the user revoked access: a reminder cannot undo that; contact them personally"
	case "re-link":
		return "the connection no longer exists at the provider: the user must link the account again from the start"
	case "manual":
		return "reminders for this are not sent automatically"
	case "waits":
		return "an outage or throttle at the provider: it passes by itself"
	case "ours":
		return "not the user's to fix: it is ours or the provider's"
	}
	return ""
}

// categoryText is a category (or a warning) as a row and the pane show it;
// a connection no signal has reached is "never checked".
func categoryText(c store.Connection, kind store.GroupKind) string {
	if kind == store.GroupExpiring || !c.Health.Category.Failing() {
		if c.Health.Warning != health.NoWarning {
			return string(c.Health.Warning)
		}
	}
	if c.Health.Category == health.Unknown {
		return "never checked"
	}
	return string(c.Health.Category)
}
