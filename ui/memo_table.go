package ui

import (
	"strings"
	"time"

	"github.com/relink/relink/store"
)

// tableMemo keeps the lines of the last frame's table by what each was
// drawn from, so that a key that moves the cursor draws two rows (the one
// it left and the one it reached), not all of them. A line that is not
// kept is drawn by renderTable itself, over a window of that one row: the
// table is exactly its header and one line per row, each drawn from its
// own connection, and the header of that window must be the table's (else
// the whole table is drawn as before, so a layout that came to depend on
// the rows shown would cost the memo, never the frame).
type tableMemo struct {
	ok     bool
	style  styleKey
	w      int
	kind   store.GroupKind
	sort   store.Sort
	desc   bool
	header string
	lines  map[rowKey]string
	spare  map[rowKey]string // the frame before's, emptied and filled for the next one
}

// rowKey is what one line of the table is drawn from: the connection (its
// times by value), the text of each of its cells as of now (so an age that
// moved, "5d" to "6d", draws the row again), and whether it is selected
// and marked; or, for a line without a connection, which kind of line.
type rowKey struct {
	state            rowState
	conn             store.Connection // its pointers nil: their values are in times
	times            [4]time.Time
	timeSet          [4]bool
	cells            string
	selected, marked bool
}

type rowState int

const (
	rowConn      rowState = iota
	rowPastEnd            // below the last row: blank
	rowNotLoaded          // a row whose page is still being read
)

// draw is renderTable(c, d, w, h), byte for byte.
func (t *tableMemo) draw(c *Context, style styleKey, d tableData, w, h int) string {
	if d.total == 0 || h < 2 {
		t.ok = false
		return renderTable(c, d, w, h)
	}
	if !t.ok || t.style != style || t.w != w || t.kind != d.kind || t.sort != d.sort || t.desc != d.desc {
		*t = tableMemo{style: style, w: w, kind: d.kind, sort: d.sort, desc: d.desc}
	}
	now := c.Now()
	cols := tableColumns(d.kind)
	header := t.header
	next := t.spare
	if next == nil {
		next = make(map[rowKey]string, h)
	}
	clear(next)
	lines := make([]string, h-1)
	for r := range lines {
		abs := d.top + r
		k := tableRowKey(c, d, abs, cols, now)
		line, ok := t.lines[k]
		if !ok {
			line, ok = next[k]
		}
		if !ok {
			one := d
			one.top = abs
			out := renderTable(c, one, w, 2)
			head, row, cut := strings.Cut(out, "\n")
			if !cut || strings.Contains(row, "\n") || (header != "" && head != header) {
				t.ok = false
				return renderTable(c, d, w, h)
			}
			header, line = head, row
		}
		next[k] = line
		lines[r] = line
	}
	t.ok, t.header, t.lines, t.spare = true, header, next, t.lines
	var b strings.Builder
	n := len(header)
	for _, l := range lines {
		n += 1 + len(l)
	}
	b.Grow(n)
	b.WriteString(header)
	for _, l := range lines {
		b.WriteByte('\n')
		b.WriteString(l)
	}
	return b.String()
}

// tableRowKey is the key of the table's line for row abs.
func tableRowKey(c *Context, d tableData, abs int, cols []column, now time.Time) rowKey {
	i := abs - d.rowsOff
	switch {
	case abs >= d.total:
		return rowKey{state: rowPastEnd}
	case i < 0 || i >= len(d.rows):
		return rowKey{state: rowNotLoaded}
	}
	conn := d.rows[i]
	k := rowKey{selected: abs == d.cursor}
	_, k.marked = d.marks[conn.ID]
	var cells strings.Builder
	for _, col := range cols {
		cells.WriteString(cellText(c, conn, col.id, d.kind, now))
		cells.WriteByte(0)
	}
	k.cells = cells.String()
	for j, p := range []**time.Time{&conn.LastRemindedAt, &conn.Health.Deadline, &conn.Health.FirstFailedAt, &conn.Health.LastTransientAt} {
		if *p != nil {
			k.times[j], k.timeSet[j] = **p, true
			*p = nil
		}
	}
	k.conn = conn
	return k
}
