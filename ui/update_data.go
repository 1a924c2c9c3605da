package ui

import (
	"errors"
	"fmt"

	tea "charm.land/bubbletea/v2"

	"github.com/relink/relink/health"
	"github.com/relink/relink/store"
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
		cur := m.groups[m.gi].key() // the tab, also under everyone
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
	case anywhereMsg:
		if msg.id == m.req.anywhere && msg.err == nil {
			m.anywhere = msg.n
		}
		return nil, true
	case connMsg:
		if msg.id != m.req.conn || m.pinned == nil || msg.conn.ID != m.pinned.ID {
			return nil, true
		}
		return m.applyPinned(msg), true
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
// when a refresh moved it; otherwise the cursor stays where it is. An open
// connection that is gone from where it was (repaired, or changed category)
// stays in the pane (pinned) until its own re-read says where it went.
func (m *Model) applyPage(msg pageMsg) tea.Cmd {
	prev, hadPrev := m.selected()
	wasPinned := m.pinned != nil
	reread := msg.query == m.rowsQuery // a refresh of the same view, not a new filter or order
	m.rows, m.rowsOff, m.loaded, m.rowsQuery = msg.rows, msg.offset, true, msg.query
	// Until the count comes (or if it is late), the page bounds the total:
	// a short page ends the rows, a full one says there are at least as many.
	if end := msg.offset + len(msg.rows); len(msg.rows) < msg.limit {
		m.total = end
	} else {
		m.total = max(m.total, end)
	}
	found := false
	if hadPrev {
		for i, c := range m.rows {
			if c.ID == prev.ID {
				m.cursor = m.rowsOff + i
				found = true
				break
			}
		}
	}
	var cmds []tea.Cmd
	covers := msg.offset <= m.cursor && (m.cursor < msg.offset+len(msg.rows) || len(msg.rows) < msg.limit)
	switch {
	case found && wasPinned: // back in the group
		m.pinned = nil
	case !found && hadPrev && !wasPinned && reread && m.detailOpen && covers && m.group().sg.Kind != store.GroupEveryone:
		m.pinned = &prev
		cmds = append(cmds, m.connCmd(prev.ID))
	}
	m.cursor = max(0, min(m.cursor, m.total-1))
	m.scrollToCursor()
	cmds = append(cmds, m.ensureLoaded())
	if c, ok := m.selected(); ok && m.detailOpen && c.ID != m.historyFor {
		cmds = append(cmds, m.historyCmd(c.ID))
	}
	return tea.Batch(cmds...)
}

// applyPinned takes in the fresh state of the connection held in the pane.
// One still in the group only moved (beyond the page): the pane follows the
// cursor again. One that left it stays, with its new health, and says so
// once: "✓ Hiro Schmidt repaired".
func (m *Model) applyPinned(msg connMsg) tea.Cmd {
	was := *m.pinned
	if msg.err != nil {
		m.pinned = nil
		if errors.Is(msg.err, store.ErrNotFound) {
			return m.report(false, displayName(was)+" is no longer in the cache")
		}
		return m.fail("reading "+displayName(was), msg.err)
	}
	c := msg.conn
	if m.inGroup(c) {
		m.pinned = nil
		if now, ok := m.selected(); ok && m.detailOpen {
			return m.historyCmd(now.ID)
		}
		return nil
	}
	m.pinned = &c
	cmds := []tea.Cmd{m.historyCmd(c.ID)}
	if was.Health.Category != c.Health.Category || was.Health.Warning != c.Health.Warning {
		cmds = append(cmds, m.report(true, leftGroupText(c, m.group())))
	}
	return tea.Batch(cmds...)
}

// inGroup says whether c belongs to the current group by its health.
func (m *Model) inGroup(c store.Connection) bool {
	g, h := m.group().sg, c.Health
	switch g.Kind {
	case store.GroupCategory:
		return h.Category == g.Category
	case store.GroupAllFailing:
		return h.Category.Failing()
	case store.GroupExpiring:
		return h.Warning != health.NoWarning
	}
	return true
}

// leftGroupText says what became of a connection that left group g.
func leftGroupText(c store.Connection, g group) string {
	h, who := c.Health, displayName(c)
	switch {
	case g.sg.Kind == store.GroupExpiring && !h.Category.Failing():
		return who + ": the warning is gone"
	case !h.Category.Failing():
		return who + " repaired"
	}
	return fmt.Sprintf("%s is now %s, no longer in %s", who, h.Category, g.label())
}
