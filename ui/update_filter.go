package ui

import (
	tea "charm.land/bubbletea/v2"

	"github.com/relink/relink/store"
)

// filterKey handles a key while the filter input has focus: enter keeps the
// filter and returns to the table (to everyone, when the group has no match
// and others do), tab shows what it finds in any state (everyone), esc
// clears it, the arrow keys still move the selection, anything else edits
// the query.
func (m *Model) filterKey(k tea.KeyPressMsg) tea.Cmd {
	switch k.String() {
	case "enter":
		m.filterOn = false
		m.filter.Blur()
		if m.loaded && m.total == 0 && m.anywhere > 0 && m.filter.Value() == m.applied {
			return m.toEveryone()
		}
		if m.filter.Value() != m.applied {
			m.debounce++
			return m.applyFilter()
		}
		return nil
	case "tab":
		if m.filter.Value() == "" || m.group().sg.Kind == store.GroupEveryone {
			return nil
		}
		m.filterOn = false
		m.filter.Blur()
		m.debounce++
		return m.toEveryone()
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
