package ui

import (
	"context"
	"fmt"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/relink/relink/internal/textfmt"
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
		// the status line and the details pane show it as text as well. The
		// messages log keeps no URL: a direct one holds a live provider token,
		// a durable one lets anyone who has it start a reconnect.
		copied := fmt.Sprintf("Copied %s link for %s (%s)", l.Kind, msg.who, expires)
		return tea.Batch(tea.Sequence(tea.SetClipboard(l.URL), m.noteCopyCmd(msg.connID, msg.ref, l.Kind)),
			m.show(true, copied+" · "+l.URL, copied+" · the link: on the clipboard and in the details pane")), true
	case linkNotedMsg:
		if msg.err != nil {
			return m.fail("recording the copy in the history", msg.err), true
		}
		return m.refreshHistoryOf(msg.connID), true
	case revokeAskMsg:
		return m.confirmRevoke(msg), true
	case revokedMsg:
		m.endTask(msg.task)
		if msg.err != nil {
			return m.fail("revoking the durable links of "+msg.who, msg.err), true
		}
		if l, ok := m.links[msg.connID]; ok && l.Kind == store.LinkDurable {
			delete(m.links, msg.connID) // withdrawn: o must not open it
		}
		return tea.Batch(m.refreshHistoryOf(msg.connID),
			m.report(true, fmt.Sprintf("Revoked %s of %s: a click on one now says it was withdrawn",
				textfmt.Plural(msg.n, "durable link", "durable links"), msg.who))), true
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

// askRevoke starts revoking the selected connection's durable links: it
// counts the live ones (revokeAskMsg), then asks (confirmRevoke).
func (m *Model) askRevoke() tea.Cmd {
	c, ok := m.selected()
	if !ok {
		return nil
	}
	st, ctx, now := m.opts.Store, m.ctx, m.opts.Now()
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(ctx, queryTimeout)
		defer cancel()
		n, err := liveDurableLinks(ctx, st, c.ID, now)
		return revokeAskMsg{conn: c, live: n, err: err}
	}
}

// revokeScan is how many of a connection's newest links are read to count
// its live durable ones: a durable link lives serve.link_ttl (a week by
// default), so the live ones are among the newest few.
const revokeScan = 500

// liveDurableLinks counts the durable links of connection id that are
// neither revoked nor expired: the ones a click still redeems.
func liveDurableLinks(ctx context.Context, st *store.Store, id int64, now time.Time) (int, error) {
	ls, err := st.Links(ctx, id, revokeScan)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, l := range ls {
		if l.Kind == store.LinkDurable && l.RevokedAt == nil && (l.ExpiresAt == nil || l.ExpiresAt.After(now)) {
			n++
		}
	}
	return n, nil
}

// confirmRevoke asks whether to revoke the counted links, naming the user
// and how many; No is the default. With none live there is nothing to ask.
// It does not cover a dialog opened meanwhile.
func (m *Model) confirmRevoke(msg revokeAskMsg) tea.Cmd {
	who := displayName(msg.conn)
	switch {
	case msg.err != nil:
		return m.fail("counting the durable links of "+who, msg.err)
	case msg.live == 0:
		return m.report(false, who+" has no live durable link to revoke")
	case m.overlay != nil:
		return nil
	}
	conn := msg.conn
	prompt := fmt.Sprintf("Revoke %s of %s (%s)? A click on one then says it was withdrawn; direct links are not affected.",
		textfmt.Plural(msg.live, "live durable link", "live durable links"), who, conn.Ref())
	o := newConfirm(m, revokeDialog, "Revoke links", prompt)
	o.onYes = func(m *Model) tea.Cmd { return m.revoke(conn) }
	m.overlay = o
	return nil
}

// revoke revokes every durable link of conn through the backend, which
// records it in the history and audit log under this dashboard's person.
func (m *Model) revoke(conn store.Connection) tea.Cmd {
	who, ref, ctx, acts := displayName(conn), conn.Ref(), m.ctx, m.opts.Actions
	id, spin := m.startTask("revoking the durable links of " + who)
	return tea.Batch(spin, func() tea.Msg {
		ctx, cancel := context.WithTimeout(ctx, linkTimeout)
		defer cancel()
		n, err := acts.RevokeLinks(ctx, ref)
		return revokedMsg{task: id, connID: conn.ID, who: who, n: n, err: err}
	})
}
