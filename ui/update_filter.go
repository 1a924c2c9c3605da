package ui

import (
	tea "charm.land/bubbletea/v2"
)

// filterKey handles a key while the filter input has focus: enter keeps the
// filter and returns to the table, esc clears it, the arrow keys still move
// the selection, anything else edits the query.
func (m *Model) filterKey(k tea.KeyPressMsg) tea.Cmd {
	switch k.String() {
	case "enter":
		m.filterOn = false
		m.filter.Blur()
		if m.filter.Value() != m.applied {
			m.debounce++
			return m.applyFilter()
		}
		return nil
	case "esc":
		m.filterOn = false
		m.filter.Blur()
		m.debounce++
		if m.filter.Value() == "" && m.applied == "" {
			return nil
		}
		m.filter.Reset()
		return m.applyFilter()
	case "down":
		return m.rowDown()
	case "up":
		return m.rowUp()
	case "pgdown":
		return m.pageDown()
	case "pgup":
		return m.pageUp()
	case "ctrl+c":
		return m.quit()
	}
	return m.updateFilterInput(k)
}

// updateFilterInput edits the query and, when it changed, schedules the
// search: a burst of keystrokes reads the store once, after the last.
func (m *Model) updateFilterInput(msg tea.Msg) tea.Cmd {
	before := m.filter.Value()
	m.filter.update(msg)
	if m.filter.Value() == before {
		return nil
	}
	m.debounce++
	return m.after(filterDebounce, filterFireMsg{seq: m.debounce})
}

// applyFilter reads the group again with the current query.
func (m *Model) applyFilter() tea.Cmd {
	m.cursor, m.top = 0, 0
	m.applied = m.filter.Value()
	return m.pageCmd(true)
}
