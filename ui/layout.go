package ui

// Minimum terminal size; below it the dashboard shows only a notice.
const (
	minWidth  = 80
	minHeight = 24
	wideAt    = 120 // from this width the pane sits beside the table
	paneLeast = 40  // the side pane's width at 120 columns, and its least
	// the open connection's least: its lines readable, and at 120 columns
	// the table keeps every column it had
	detailLeast = 46
)

// layout is where everything goes on a w×h screen. Rows from the top: the
// header with the group tabs, the view bar, the main area, the status line
// and the footer.
type layout struct {
	w, h     int
	tooSmall bool

	mainH  int // height of the main area
	tableW int
	tableH int // the table's height, its header row included
	rows   int // data rows that fit

	paneBelow bool // the pane is under the table, not beside it
	paneW     int
	paneH     int // 0: no pane
}

// computeLayout places the table and the pane. When wide, the pane (the open
// connection, or the group's insights) is on the right, and the table has
// first call on the width: the pane takes what is left once every column
// and the user and institution at their natural width are in, between its
// least and its most. Opening a connection takes a few cells more, from
// the columns' last growth; a QR code takes half the width. When narrow the open connection takes the lower half,
// and otherwise a short insights strip sits under the table.
func computeLayout(w, h int, detailOpen, qr bool) layout {
	l := layout{w: w, h: h}
	if w < minWidth || h < minHeight {
		l.tooSmall = true
		return l
	}
	l.mainH = h - 4
	left := w - 1 - naturalTableWidth() // for the pane, the table natural
	switch {
	case w >= wideAt && detailOpen:
		l.paneW = min(max(left, detailLeast), 80)
		if qr { // room for the code of a durable link (~180 characters: 53 cells)
			l.paneW = min(max(w/2, l.paneW), 80)
		}
		l.tableW = w - l.paneW - 1
		l.paneH = l.mainH
		l.tableH = l.mainH
	case w >= wideAt:
		l.paneW = min(max(left, paneLeast), 64)
		l.tableW = w - l.paneW - 1
		l.paneH = l.mainH
		l.tableH = l.mainH
	case detailOpen:
		l.paneBelow = true
		l.tableW, l.paneW = w, w
		l.paneH = l.mainH / 2
		l.tableH = l.mainH - l.paneH
	default:
		l.paneBelow = true
		l.tableW, l.paneW = w, w
		l.paneH = 4
		l.tableH = l.mainH - l.paneH
	}
	l.rows = max(1, l.tableH-1)
	return l
}
