package ui

import (
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// handleKey routes a key press: overlay, then filter input, then the table.
func (m *Model) handleKey(k tea.KeyPressMsg) tea.Cmd {
	if ov := m.overlay; ov != nil {
		done, cmd := ov.key(m, k)
		if done && m.overlay == ov { // an action it ran may have opened another
			m.overlay = nil
		}
		return cmd
	}
	if m.filterOn {
		return m.filterKey(k)
	}
	keys := &m.c.Keys
	for _, a := range actions {
		if key.Matches(k, *a.get(keys)) {
			return m.do(a.name)
		}
	}
	return nil
}

// do runs one action by its [keys] name; the palette calls it too.
func (m *Model) do(name string) tea.Cmd {
	switch name {
	case "down":
		return m.moveTo(m.cursor + 1)
	case "up":
		return m.moveTo(m.cursor - 1)
	case "top":
		return m.moveTo(0)
	case "bottom":
		return m.moveTo(m.total - 1)
	case "page_down":
		m.top += m.lay.rows
		return m.moveTo(m.cursor + m.lay.rows)
	case "page_up":
		m.top -= m.lay.rows
		return m.moveTo(m.cursor - m.lay.rows)
	case "next_group":
		return m.switchGroup(m.gi + 1)
	case "prev_group":
		return m.switchGroup(m.gi - 1)
	case "filter":
		m.filterOn = true
		m.filter.Focus()
		return nil
	case "open":
		return m.toggleDetail()
	case "back":
		return m.back()
	case "mark":
		m.toggleMark()
		return m.moveTo(m.cursor + 1)
	case "mark_all":
		return m.markAll()
	case "sort":
		m.sort = m.sort.Next()
		return m.resetView()
	case "sort_reverse":
		m.desc = !m.desc
		return m.resetView()
	case "copy_link":
		return m.mintLink(false, false)
	case "copy_durable_link":
		return m.mintLink(true, false)
	case "open_browser":
		return m.openLink()
	case "show_qr":
		return m.toggleQR()
	case "remind":
		return m.planRemind()
	case "sync":
		return m.syncNow()
	case "funnel":
		return m.openFunnel()
	case "palette":
		m.overlay = newPalette()
		return nil
	case "help":
		m.overlay = &helpOverlay{}
		return nil
	case "quit":
		return m.quit()
	}
	return nil
}

// moveTo puts the cursor on row i (clamped), scrolls it into view, reads
// the rows now visible and, with the pane open, the new row's history.
func (m *Model) moveTo(i int) tea.Cmd {
	before, _ := m.selected()
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

// switchGroup moves to group i (wrapping) and reads its first page.
func (m *Model) switchGroup(i int) tea.Cmd {
	n := len(m.groups)
	m.gi = ((i % n) + n) % n
	return tea.Batch(m.resetView(), m.insightsCmd())
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

// back closes the detail pane, else clears the marks, else the filter.
func (m *Model) back() tea.Cmd {
	switch {
	case m.detailOpen:
		return m.toggleDetail()
	case len(m.marks) > 0:
		clear(m.marks)
		return nil
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

func (m *Model) quit() tea.Cmd {
	if len(m.tasks) > 0 {
		m.overlay = newConfirm(m, "Quit", m.tasks[0].label+" is still running. Quit anyway?", m.doQuit)
		return nil
	}
	return m.doQuit()
}

func (m *Model) doQuit() tea.Cmd {
	m.quitting = true
	m.cancel()
	return tea.Quit
}
