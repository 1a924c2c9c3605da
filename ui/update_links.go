package ui

import (
	"context"
	"fmt"

	tea "charm.land/bubbletea/v2"

	"github.com/relink/relink/store"
)

// handleLink applies a minted link (copied, or opened in the browser) and
// the history notes that record its use.
func (m *Model) handleLink(msg tea.Msg) (tea.Cmd, bool) {
	switch msg := msg.(type) {
	case linkMsg:
		m.endTask(msg.task)
		if msg.err != nil {
			return m.fail(string(msg.link.Kind)+" link for "+msg.who, msg.err), true
		}
		l := msg.link
		m.links[msg.connID] = l
		expires := expiresText(l, m.opts.Now())
		if msg.open {
			return tea.Batch(m.openCmd(msg.connID, msg.ref, l.Kind, l.URL),
				m.report(true, fmt.Sprintf("Opening %s link for %s (%s)", l.Kind, msg.who, expires))), true
		}
		// The URL goes to the clipboard (OSC 52), then the copy is recorded;
		// the status line and the details pane show it as text as well.
		return tea.Batch(tea.Sequence(tea.SetClipboard(l.URL), m.noteCopyCmd(msg.connID, msg.ref, l.Kind)),
			m.report(true, fmt.Sprintf("Copied %s link for %s (%s) · %s", l.Kind, msg.who, expires, l.URL))), true
	case linkNotedMsg:
		if msg.err != nil {
			return m.fail("recording the copy in the history", msg.err), true
		}
		return m.refreshHistoryOf(msg.connID), true
	case openedMsg:
		switch {
		case msg.err != nil:
			return m.fail("opening the browser", msg.err), true
		case msg.noteErr != nil:
			return m.fail("recording the opening in the history", msg.noteErr), true
		}
		return m.refreshHistoryOf(msg.connID), true
	}
	return nil, false
}

// mintLink mints a direct or durable link for the selected connection and
// copies it; with open, it opens it in the browser instead.
func (m *Model) mintLink(durable, open bool) tea.Cmd {
	c, ok := m.selected()
	if !ok {
		return nil
	}
	kind, mint := store.LinkDirect, m.opts.Actions.DirectLink
	if durable {
		kind, mint = store.LinkDurable, m.opts.Actions.DurableLink
	}
	who, ref, ctx := displayName(c), c.Ref(), m.ctx
	id, spin := m.startTask(fmt.Sprintf("minting a %s link for %s", kind, who))
	return tea.Batch(spin, func() tea.Msg {
		ctx, cancel := context.WithTimeout(ctx, linkTimeout)
		defer cancel()
		l, err := mint(ctx, ref)
		if l.Kind == "" {
			l.Kind = kind
		}
		return linkMsg{task: id, connID: c.ID, ref: ref, who: who, link: l, open: open, err: err}
	})
}

// openLink opens the selected connection's link minted in this session if
// it is still valid, else mints a direct one and opens that.
func (m *Model) openLink() tea.Cmd {
	c, ok := m.selected()
	if !ok {
		return nil
	}
	if l, ok := m.currentLink(c); ok {
		return tea.Batch(m.openCmd(c.ID, c.Ref(), l.Kind, l.URL),
			m.report(true, fmt.Sprintf("Opening %s link for %s (%s)", l.Kind, displayName(c), expiresText(l, m.opts.Now()))))
	}
	return m.mintLink(false, true)
}

// refreshHistoryOf re-reads the history of connID if the details pane shows it,
// so that a link just copied or opened appears there.
func (m *Model) refreshHistoryOf(connID int64) tea.Cmd {
	if c, ok := m.selected(); ok && m.detailOpen && c.ID == connID {
		return m.historyCmd(connID)
	}
	return nil
}
