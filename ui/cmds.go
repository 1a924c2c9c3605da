package ui

import (
	"context"
	"fmt"
	"os/exec"
	"runtime"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/relink/relink/backend"
	"github.com/relink/relink/health"
	"github.com/relink/relink/store"
)

// Store reads, each bounded by a timeout and cancelled when the dashboard
// quits. The reads every session of a hub makes alike (counts, freshness,
// insights, the count of a group and filter) go through m.hub(): the hub's
// SharedReads, or the store.

func (m *Model) countsCmd() tea.Cmd {
	m.seq++
	id, st, ctx := m.seq, m.hub(), m.ctx
	m.req.counts = id
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(ctx, queryTimeout)
		defer cancel()
		c, err := st.Counts(ctx)
		return countsMsg{id: id, counts: c, err: err}
	}
}

// pageCmd reads the rows around the viewport and, with count, the total
// in a second query, so that the rows show before a slow count ends. A read
// it overtakes is cancelled: its result would be dropped anyway.
func (m *Model) pageCmd(count bool) tea.Cmd {
	m.seq++
	id, st := m.seq, m.hub()
	m.req.page = id
	q := m.query()
	h := max(1, m.lay.rows)
	q.Offset = max(0, m.top-h)
	q.Limit = 3 * h
	m.pending.active, m.pending.off, m.pending.limit = true, q.Offset, q.Limit
	ctx, done := m.replace(&m.cancelPage)
	qk := queryKey(q)
	page := func() tea.Msg {
		defer done()
		rows, err := st.Page(ctx, q)
		return pageMsg{id: id, query: qk, offset: q.Offset, limit: q.Limit, rows: rows, err: err}
	}
	if !count {
		return page
	}
	m.seq++
	cid := m.seq
	m.req.total = cid
	cctx, cdone := m.replace(&m.cancelCount)
	hub := m.hub()
	return tea.Batch(page, func() tea.Msg {
		defer cdone()
		n, err := hub.CountPage(cctx, q)
		return totalMsg{id: cid, total: n, err: err}
	}, m.anywhereCmd(q))
}

// queryKey names a page query's group, filter and order: pages read with
// the same one are the same view, re-read.
func queryKey(q store.PageQuery) string {
	return fmt.Sprintf("%d/%s/%d/%v/%s", q.Group.Kind, q.Group.Category, q.Sort, q.Desc, q.Filter)
}

// anywhereCmd counts what the filter of q finds among every connection, in
// any state, so that the view can say there are more outside the group.
func (m *Model) anywhereCmd(q store.PageQuery) tea.Cmd {
	m.seq++
	id, st, ctx := m.seq, m.hub(), m.ctx
	m.req.anywhere = id
	if q.Filter == "" || q.Group.Kind == store.GroupEveryone {
		m.anywhere = 0
		return nil
	}
	q.Group = store.Group{Kind: store.GroupEveryone}
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(ctx, queryTimeout)
		defer cancel()
		n, err := st.CountPage(ctx, q)
		return anywhereMsg{id: id, n: n, err: err}
	}
}

// connCmd re-reads one connection: the open one, after it left the page.
func (m *Model) connCmd(connID int64) tea.Cmd {
	m.seq++
	id, st, ctx := m.seq, m.opts.Store, m.ctx
	m.req.conn = id
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(ctx, queryTimeout)
		defer cancel()
		c, err := st.ConnectionByID(ctx, connID)
		return connMsg{id: id, conn: c, err: err}
	}
}

// replace cancels the read that *cancel belongs to and starts a new one.
func (m *Model) replace(cancel *context.CancelFunc) (context.Context, context.CancelFunc) {
	if *cancel != nil {
		(*cancel)()
	}
	ctx, c := context.WithTimeout(m.ctx, queryTimeout)
	*cancel = c
	return ctx, c
}

func (m *Model) historyCmd(connID int64) tea.Cmd {
	m.seq++
	id, st, ctx := m.seq, m.opts.Store, m.ctx
	m.req.history = id
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(ctx, queryTimeout)
		defer cancel()
		ev, err := st.History(ctx, connID, historyLimit)
		if err != nil {
			return historyMsg{id: id, connID: connID, err: err}
		}
		links, err := st.Links(ctx, connID, 5)
		return historyMsg{id: id, connID: connID, events: ev, links: links, err: err}
	}
}

// insightsCmd reads the current group's breakdown by institution and its
// new failures per day.
func (m *Model) insightsCmd() tea.Cmd {
	m.seq++
	id, st, ctx, now := m.seq, m.hub(), m.ctx, m.opts.Now()
	m.req.insights = id
	g := m.group()
	return func() tea.Msg {
		msg := insightsMsg{id: id, group: g.key()}
		ctx, cancel := context.WithTimeout(ctx, queryTimeout)
		defer cancel()
		switch g.sg.Kind {
		case store.GroupExpiring:
			msg.expiring, msg.err = st.Expiring(ctx, now)
			return msg
		case store.GroupEveryone:
			return msg // the pane shows the counts
		}
		msg.breakdown, msg.err = st.Breakdown(ctx, g.sg.Category, breakdownLimit)
		if msg.err == nil {
			msg.perDay, msg.err = st.NewFailuresPerDay(ctx, g.sg, now, 14)
		}
		return msg
	}
}

func (m *Model) syncStatesCmd() tea.Cmd {
	st, ctx := m.hub(), m.ctx
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(ctx, queryTimeout)
		defer cancel()
		s, err := st.SyncStates(ctx)
		return syncStatesMsg{states: s, err: err}
	}
}

// openFunnel opens the funnel view and reads the funnel of the last
// funnelPeriod: every failing category and the warnings, as relink report.
func (m *Model) openFunnel() tea.Cmd {
	m.seq++
	id, st, ctx := m.seq, m.opts.Store, m.ctx
	m.req.funnel = id
	m.overlay = &funnelOverlay{req: id}
	since := m.opts.Now().Add(-funnelPeriod)
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(ctx, queryTimeout)
		defer cancel()
		rows, err := st.Funnel(ctx, since, health.Topics())
		return funnelMsg{id: id, since: since, rows: rows, err: err}
	}
}

// markAllCmd reads the ids of every row of the group and filter, up to a cap.
func (m *Model) markAllCmd() tea.Cmd {
	m.seq++
	id, st, ctx := m.seq, m.opts.Store, m.ctx
	m.req.markAll = id
	q := m.query()
	q.Offset, q.Limit = 0, markAllLimit
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(ctx, queryTimeout)
		defer cancel()
		total, err := st.CountPage(ctx, q)
		if err != nil {
			return markAllMsg{id: id, err: err}
		}
		rows, err := st.Page(ctx, q)
		return markAllMsg{id: id, conns: rows, total: total, err: err}
	}
}

// refreshCmd re-reads what is on screen: counts, the visible page, freshness,
// the open connection's history and, every few rounds, the insights.
func (m *Model) refreshCmd() tea.Cmd {
	cmds := []tea.Cmd{m.countsCmd(), m.pageCmd(true), m.syncStatesCmd()}
	if m.detailOpen {
		if c, ok := m.selected(); ok {
			cmds = append(cmds, m.historyCmd(c.ID))
		}
		if m.pinned != nil {
			cmds = append(cmds, m.connCmd(m.pinned.ID))
		}
	}
	m.refreshes++
	if m.refreshes%insightsEvery == 0 {
		cmds = append(cmds, m.insightsCmd())
	}
	return tea.Batch(cmds...)
}

// tick schedules msg after d through the model's scheduler.
func tick(d time.Duration, msg tea.Msg) tea.Cmd {
	return tea.Tick(d, func(time.Time) tea.Msg { return msg })
}

// openCmd opens url in the browser and, once the browser has started,
// records in the history and the audit log that the kind link of ref was
// opened.
func (m *Model) openCmd(connID int64, ref string, kind store.LinkKind, url string) tea.Cmd {
	open, acts, ctx := m.open, m.opts.Actions, m.ctx
	return func() tea.Msg {
		if err := open(url); err != nil {
			return openedMsg{connID: connID, err: err}
		}
		return openedMsg{connID: connID, noteErr: noteUse(ctx, acts, ref, kind, backend.LinkOpened)}
	}
}

// noteCopyCmd records that the kind link of ref was copied.
func (m *Model) noteCopyCmd(connID int64, ref string, kind store.LinkKind) tea.Cmd {
	acts, ctx := m.opts.Actions, m.ctx
	return func() tea.Msg {
		return linkNotedMsg{connID: connID, err: noteUse(ctx, acts, ref, kind, backend.LinkCopied)}
	}
}

func noteUse(ctx context.Context, acts Actions, ref string, kind store.LinkKind, action string) error {
	if acts == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, noteTimeout)
	defer cancel()
	return acts.NoteLinkUse(ctx, ref, kind, action)
}

// startBrowser opens url in the system browser, its output discarded so
// that nothing it prints lands on the dashboard.
func startBrowser(url string) error {
	var c *exec.Cmd
	switch runtime.GOOS {
	case "darwin":
		c = exec.Command("open", url)
	case "windows":
		c = exec.Command("rundll32", "url.dll,FileProtocolHandler", url)
	default:
		c = exec.Command("xdg-open", url)
	}
	c.Stdin, c.Stdout, c.Stderr = nil, nil, nil // /dev/null
	if err := c.Start(); err != nil {
		return err
	}
	go c.Wait() //nolint:errcheck // the browser outlives us; its status is not ours
	return nil
}
