package ui

import (
	"fmt"

	tea "charm.land/bubbletea/v2"
)

// handleData applies store results, dropping any that a newer request has
// overtaken. A failed read keeps what is on screen and says so in the
// status line.
func (m *Model) handleData(msg tea.Msg) (tea.Cmd, bool) {
	switch msg := msg.(type) {
	case countsMsg:
		if msg.id != m.req.counts {
			return nil, true
		}
		if msg.err != nil {
			return m.fail("reading counts", msg.err), true
		}
		m.counts = msg.counts
		cur := m.group().key()
		m.groups = buildGroups(msg.counts, cur)
		for i, g := range m.groups {
			if g.key() == cur {
				m.gi = i
			}
		}
		return nil, true
	case pageMsg:
		if msg.id != m.req.page {
			return nil, true
		}
		m.pending.active = false
		if msg.err != nil {
			return m.fail("reading connections", msg.err), true
		}
		return m.applyPage(msg), true
	case totalMsg:
		if msg.id != m.req.total {
			return nil, true
		}
		if msg.err != nil {
			return m.fail("counting connections", msg.err), true
		}
		m.total = msg.total
		m.cursor = max(0, min(m.cursor, m.total-1))
		m.scrollToCursor()
		return m.ensureLoaded(), true
	case historyMsg:
		if msg.id != m.req.history {
			return nil, true
		}
		m.history, m.historyFor, m.historyErr, m.storedLinks = msg.events, msg.connID, msg.err, msg.links
		return nil, true
	case insightsMsg:
		if msg.id != m.req.insights {
			return nil, true
		}
		m.insights = msg
		return nil, true
	case syncStatesMsg:
		if msg.err == nil {
			m.syncStates = msg.states
		}
		return nil, true
	case funnelMsg:
		if o, ok := m.overlay.(*funnelOverlay); ok && msg.id == m.req.funnel && o.req == msg.id {
			o.loaded, o.since, o.rows, o.err = true, msg.since, msg.rows, msg.err
		}
		return nil, true
	case markAllMsg:
		if msg.id != m.req.markAll {
			return nil, true
		}
		if msg.err != nil {
			return m.fail("marking", msg.err), true
		}
		for _, c := range msg.conns {
			m.marks[c.ID] = c.Ref()
		}
		text := fmt.Sprintf("marked %d", len(msg.conns))
		if msg.total > len(msg.conns) {
			text = fmt.Sprintf("marked the first %d of %d (for more, use relink remind --category)", len(msg.conns), msg.total)
		}
		return m.report(true, text), true
	}
	return nil, false
}

// applyPage takes in a page of rows. The selection follows its connection
// when a refresh moved it; otherwise the cursor stays where it is.
func (m *Model) applyPage(msg pageMsg) tea.Cmd {
	prev, hadPrev := m.selected()
	m.rows, m.rowsOff, m.loaded = msg.rows, msg.offset, true
	// Until the count comes (or if it is late), the page bounds the total:
	// a short page ends the rows, a full one says there are at least as many.
	if end := msg.offset + len(msg.rows); len(msg.rows) < msg.limit {
		m.total = end
	} else {
		m.total = max(m.total, end)
	}
	if hadPrev {
		for i, c := range m.rows {
			if c.ID == prev.ID {
				m.cursor = m.rowsOff + i
				break
			}
		}
	}
	m.cursor = max(0, min(m.cursor, m.total-1))
	m.scrollToCursor()
	var cmds []tea.Cmd
	cmds = append(cmds, m.ensureLoaded())
	if c, ok := m.selected(); ok && m.detailOpen && c.ID != m.historyFor {
		cmds = append(cmds, m.historyCmd(c.ID))
	}
	return tea.Batch(cmds...)
}
