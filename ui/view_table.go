package ui

import (
	"strings"
	"time"

	"github.com/relink/relink/health"
	"github.com/relink/relink/internal/textfmt"
	"github.com/relink/relink/store"
)

// tableData is what the table shows: a window of a group's rows.
type tableData struct {
	rows    []store.Connection
	rowsOff int
	top     int
	cursor  int
	total   int
	loaded  bool
	marks   map[int64]string
	kind    store.GroupKind
	sort    store.Sort
	desc    bool
	filter  string
}

func (m *Model) tableData() tableData {
	return tableData{rows: m.rows, rowsOff: m.rowsOff, top: m.top, cursor: m.cursor, total: m.total, loaded: m.loaded,
		marks: m.marks, kind: m.group().sg.Kind, sort: m.sort, desc: m.desc, filter: m.applied}
}

// column is one table column. Columns are dropped, lowest priority first,
// until the rest fit; spare room goes to the flexible ones.
type column struct {
	id        string
	title     string
	want, max int // the width it is kept at, and the most it grows to
	prio      int // lower is kept longer
}

func tableColumns(kind store.GroupKind) []column {
	cat := column{"category", "category", 18, 21, 3}
	since := column{"since", "failing", 9, 9, 1}
	if kind == store.GroupCategory {
		cat.prio = 9 // the tab says it already
	}
	if kind == store.GroupExpiring {
		since.title = "deadline"
		cat.title = "warning"
	}
	// reminded outranks provider, code and email: after r it is what the
	// rows must show ("2h ago"), at 80 columns too.
	return []column{
		{"user", "user", 16, 28, 0},
		{"email", "email", 24, 34, 7},
		{"provider", "provider", 8, 8, 5},
		{"institution", "institution", 14, 28, 2},
		cat,
		{"code", "code", 19, 26, 6},
		since,
		{"reminded", "reminded", 8, 8, 4},
	}
}

// layoutColumns picks the columns that fit in w cells and their widths.
func layoutColumns(cols []column, w int) ([]column, []int) {
	keep := append([]column(nil), cols...)
	need := func(cs []column) int {
		n := len(cs) - 1
		for _, c := range cs {
			n += c.want
		}
		return n
	}
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
	spare := w - need(keep)
	for i, c := range keep {
		widths[i] = c.want
	}
	if spare < 0 { // one column left, wider than the table
		widths[0] += spare
		return keep, widths
	}
	for spare > 0 { // one cell at a time to each column below its max
		grew := false
		for i, c := range keep {
			if spare > 0 && widths[i] < c.max {
				widths[i]++
				spare--
				grew = true
			}
		}
		if !grew {
			break
		}
	}
	if spare > 0 && len(widths) > 0 {
		widths[0] += spare
	}
	return keep, widths
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
			if d.desc {
				t += " " + ic.Desc
			} else {
				t += " " + ic.Asc
			}
		}
		head[i] = fit(t, widths[i], ic.Ellipsis)
	}
	b.WriteString(s.TableHeader.Render(fit("   "+strings.Join(head, " "), w, ic.Ellipsis)))
	now := c.Now()
	for r := 0; r < h-1; r++ {
		b.WriteString("\n")
		abs := d.top + r
		i := abs - d.rowsOff
		switch {
		case abs >= d.total:
			if r == 0 {
				b.WriteString(fit(emptyText(c, d), w, ic.Ellipsis))
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
			cells[j] = fit(cellText(conn, col.id, d.kind, now), widths[j], ic.Ellipsis)
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
		b.WriteString(fit(cur+s.MarkGlyph.Render(mark)+" "+s.Row.Render(line), w, ic.Ellipsis))
	}
	return b.String()
}

func emptyText(c *Context, d tableData) string {
	switch {
	case !d.loaded:
		return c.Styles.Subtle.Render("   loading…")
	case d.filter != "":
		return c.Styles.Subtle.Render("   nothing matches the filter; esc clears it")
	case d.kind == store.GroupExpiring:
		return c.Styles.Subtle.Render("   no connection has a deadline")
	}
	return c.Styles.Success.Render("   " + c.Styles.Icons.OK + " nothing failing here")
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
func cellText(c store.Connection, col string, kind store.GroupKind, now time.Time) string {
	h := c.Health
	switch col {
	case "user":
		return displayName(c)
	case "email":
		return c.Email
	case "provider":
		return c.Provider
	case "institution":
		return c.Institution
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
				return ""
			}
			return "in " + untilText(h.Deadline.Sub(now))
		}
		if h.FirstFailedAt == nil {
			return ""
		}
		return textfmt.Age(now.Sub(*h.FirstFailedAt))
	case "reminded":
		if c.LastRemindedAt == nil {
			return "never"
		}
		return agoText(c.LastRemindedAt, now)
	}
	return ""
}

// categoryText is a category (or a warning) as a row and the pane show it.
func categoryText(c store.Connection, kind store.GroupKind) string {
	if kind == store.GroupExpiring || !c.Health.Category.Failing() {
		if c.Health.Warning != health.NoWarning {
			return string(c.Health.Warning)
		}
	}
	return string(c.Health.Category)
}
