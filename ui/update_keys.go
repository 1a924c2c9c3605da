package ui

import (
	"fmt"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/relink/relink/internal/textfmt"
)

// handleKey routes a key press: the open dialog, then the filter input,
// then the main screen's actions.
func (m *Model) handleKey(k tea.KeyPressMsg) tea.Cmd {
	if d := m.overlay; d != nil {
		return m.act(d, d.key(&m.c, k))
	}
	if m.filterOn {
		return m.filterKey(k)
	}
	for _, a := range actions {
		if key.Matches(k, *a.get(&m.c.Keys)) {
			m.pressed = k
			return a.run(m)
		}
	}
	if cmd, ok := m.refuse(k); ok {
		return cmd
	}
	return nil
}

// act does what a dialog's answer to a key asks. Every answer but nil
// closes the dialog first, so an action it runs may open another.
func (m *Model) act(d dialog, a dialogAction) tea.Cmd {
	if a == nil {
		return nil
	}
	if m.overlay == d {
		m.overlay = nil
	}
	switch a := a.(type) {
	case confirmDialog:
		return m.confirmed(d)
	case quitApp:
		if d.id() == quitDialog { // quit, pressed again while it asks: yes
			return m.doQuit()
		}
		return m.quit()
	case runAction:
		return a.run(m)
	}
	return nil
}

// confirmed does what the question d asked about, now answered Yes.
func (m *Model) confirmed(d dialog) tea.Cmd {
	if c, ok := d.(*confirmOverlay); ok && c.onYes != nil {
		return c.onYes(m)
	}
	switch d.id() {
	case quitDialog:
		return m.doQuit()
	case remindDialog:
		if p, ok := d.(*previewOverlay); ok {
			return m.sendRemind(p.plan)
		}
	}
	return nil
}

// The main screen's actions (the actions table in keys.go runs them).

// rowDown moves to the next row. With a repaired connection held in the
// pane (pinned), the next row is the one that took its place.
func (m *Model) rowDown() tea.Cmd {
	if m.pinned != nil {
		return m.moveTo(m.cursor)
	}
	return m.moveTo(m.cursor + 1)
}

func (m *Model) rowUp() tea.Cmd    { return m.moveTo(m.cursor - 1) }
func (m *Model) firstRow() tea.Cmd { return m.moveTo(0) }
func (m *Model) lastRow() tea.Cmd  { return m.moveTo(m.total - 1) }

func (m *Model) pageDown() tea.Cmd {
	m.top += m.lay.rows
	return m.moveTo(m.cursor + m.lay.rows)
}

func (m *Model) pageUp() tea.Cmd {
	m.top -= m.lay.rows
	return m.moveTo(m.cursor - m.lay.rows)
}

// halfPageDown scrolls the rows and the cursor by half the rows on screen,
// as ctrl+d does in vim and less: the cursor keeps its place on the screen.
func (m *Model) halfPageDown() tea.Cmd {
	half := max(1, m.lay.rows/2)
	m.top += half
	return m.moveTo(m.cursor + half)
}

func (m *Model) halfPageUp() tea.Cmd {
	half := max(1, m.lay.rows/2)
	m.top -= half
	return m.moveTo(m.cursor - half)
}

func (m *Model) nextGroup() tea.Cmd { return m.switchGroup(m.gi + 1) }
func (m *Model) prevGroup() tea.Cmd { return m.switchGroup(m.gi - 1) }

// jumpGroup goes to the group the digit pressed numbers: 1 is All failing,
// then the tabs in order (the All failing pane numbers them).
func (m *Model) jumpGroup() tea.Cmd {
	t := m.pressed.Text
	if len(t) != 1 || t[0] < '1' || t[0] > '9' {
		return nil
	}
	if n := int(t[0] - '1'); n < len(m.groups) {
		return m.switchGroup(n)
	}
	return m.report(false, fmt.Sprintf("there are %d groups; %s finds one by name", len(m.groups), firstKey(m.c.Keys.Palette)))
}

// switchToKey goes to the group of key (the tabs may have changed since it
// was chosen); a group gone meanwhile is said so.
func (m *Model) switchToKey(k string) tea.Cmd {
	for i, g := range m.groups {
		if g.key() == k {
			return m.switchGroup(i)
		}
	}
	return m.report(false, k+" has no connections any more")
}

func (m *Model) focusFilter() tea.Cmd {
	m.filterOn = true
	m.filter.Focus()
	return nil
}

func (m *Model) markAndMove() tea.Cmd {
	m.toggleMark()
	return m.moveTo(m.cursor + 1)
}

func (m *Model) cycleSort() tea.Cmd {
	m.sort = m.sort.Next()
	return m.resetView()
}

func (m *Model) reverseSort() tea.Cmd {
	m.desc = !m.desc
	return m.resetView()
}

func (m *Model) copyDirect() tea.Cmd  { return m.mintLink(false, false) }
func (m *Model) copyDurable() tea.Cmd { return m.mintLink(true, false) }

func (m *Model) openPalette() tea.Cmd {
	m.overlay = newPalette(m.groups)
	return nil
}

func (m *Model) openHelp() tea.Cmd {
	m.overlay = &helpOverlay{}
	return nil
}

// moveTo puts the cursor on row i (clamped), scrolls it into view, reads
// the rows now visible and, with the pane open, the new row's history.
func (m *Model) moveTo(i int) tea.Cmd {
	before, _ := m.selected()
	m.pinned = nil
	m.cursor = max(0, min(i, m.total-1))
	m.scrollToCursor()
	cmds := []tea.Cmd{m.ensureLoaded()}
	if after, ok := m.selected(); ok && m.detailOpen && after.ID != before.ID {
		cmds = append(cmds, m.historyCmd(after.ID))
	}
	return tea.Batch(cmds...)
}

// scrollToCursor keeps the cursor inside the viewport and the viewport inside the rows.
func (m *Model) scrollToCursor() {
	h := max(1, m.lay.rows)
	m.top = max(0, min(m.top, m.total-h))
	if m.cursor < m.top {
		m.top = m.cursor
	}
	if m.cursor >= m.top+h {
		m.top = m.cursor - h + 1
	}
	m.top = max(0, m.top)
}

// ensureLoaded reads the page around the viewport unless the rows on
// screen are loaded already.
func (m *Model) ensureLoaded() tea.Cmd {
	if !m.loaded || m.total == 0 {
		return nil
	}
	end := min(m.top+m.lay.rows, m.total)
	if m.top >= m.rowsOff && end <= m.rowsOff+len(m.rows) {
		return nil
	}
	if m.pending.active && m.top >= m.pending.off && end <= m.pending.off+m.pending.limit {
		return nil // already asked for
	}
	return m.pageCmd(false)
}

// switchGroup moves to group i (wrapping) and reads its first page; from
// everyone, the tabs count from the one it was opened over.
func (m *Model) switchGroup(i int) tea.Cmd {
	n := len(m.groups)
	to := ((i % n) + n) % n
	var said tea.Cmd
	if to != m.gi || m.everyone {
		said = m.leaveView()
	}
	m.gi, m.everyone = to, false
	return tea.Batch(m.resetView(), m.insightsCmd(), said)
}

// leaveView forgets what belonged to the view on screen before another
// shows. Marks belong to the group they were made in: leaving it clears
// them, and says so, so that r never reminds people who are not on screen.
func (m *Model) leaveView() tea.Cmd {
	from := m.group()
	m.pinned = nil
	m.req.markAll = 0 // a mark-all still reading marks the view left: drop it
	if len(m.marks) == 0 {
		return nil
	}
	n := len(m.marks)
	clear(m.marks)
	return m.report(true, fmt.Sprintf("%s cleared: marks stay in the group they were made in (%s)",
		textfmt.Plural(n, "mark", "marks"), from.label()))
}

// toEveryone shows what the filter finds among every connection, in any
// state; without a filter it opens the filter there, for a name, email or
// id. Back (esc) returns to the tab it came from.
func (m *Model) toEveryone() tea.Cmd {
	var cmd tea.Cmd
	if !m.everyone {
		said := m.leaveView()
		m.everyone = true
		cmd = tea.Batch(m.resetView(), m.insightsCmd(), said)
	}
	if m.filter.Value() == "" {
		return tea.Batch(cmd, m.focusFilter())
	}
	return cmd
}

// resetView goes back to the first row and re-reads the group.
func (m *Model) resetView() tea.Cmd {
	m.cursor, m.top = 0, 0
	m.rows, m.rowsOff, m.loaded = nil, 0, false
	m.applied = m.filter.Value()
	return m.pageCmd(true)
}

func (m *Model) toggleDetail() tea.Cmd {
	m.detailOpen = !m.detailOpen
	if !m.detailOpen {
		m.showQR = false
		m.pinned = nil // it is not in the table: the cursor's row is what is left
	}
	cmd := m.relayout()
	if c, ok := m.selected(); ok && m.detailOpen {
		return tea.Batch(cmd, m.historyCmd(c.ID))
	}
	return cmd
}

// toggleQR shows or hides the QR code of the link in the details pane,
// opening the pane if need be.
func (m *Model) toggleQR() tea.Cmd {
	m.showQR = !m.showQR
	if m.showQR && !m.detailOpen {
		return m.toggleDetail()
	}
	return m.relayout() // the pane is wider with the code
}

// back closes the detail pane, else clears the marks, else leaves the
// lookup of anyone for the tab it came from, else clears the filter.
func (m *Model) back() tea.Cmd {
	switch {
	case m.detailOpen:
		return m.toggleDetail()
	case len(m.marks) > 0:
		clear(m.marks)
		return nil
	case m.everyone:
		return m.switchGroup(m.gi)
	case m.filter.Value() != "":
		m.filter.Reset()
		return m.applyFilter()
	}
	return nil
}

func (m *Model) toggleMark() {
	c, ok := m.selected()
	if !ok {
		return
	}
	if _, on := m.marks[c.ID]; on {
		delete(m.marks, c.ID)
	} else {
		m.marks[c.ID] = c.Ref()
	}
}

func (m *Model) markAll() tea.Cmd {
	if m.total == 0 {
		return nil
	}
	return m.markAllCmd()
}

// quit quits, or asks first while an operation is running.
func (m *Model) quit() tea.Cmd {
	if len(m.tasks) > 0 {
		m.overlay = newConfirm(m, quitDialog, "Quit", m.tasks[0].label+" is still running. Quit anyway?")
		return nil
	}
	return m.doQuit()
}

func (m *Model) doQuit() tea.Cmd {
	m.quitting = true
	m.cancel()
	return tea.Quit
}
