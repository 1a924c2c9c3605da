package ui

import (
	"context"
	"fmt"
	"sort"
	"strings"

	tea "charm.land/bubbletea/v2"

	"github.com/relink/relink/backend"
)

// handleSync applies a sync's progress and its end.
func (m *Model) handleSync(msg tea.Msg) (tea.Cmd, bool) {
	switch msg := msg.(type) {
	case syncProgressMsg:
		m.setProgress(msg.task, msg.p)
		return msg.more.next(), true
	case syncDoneMsg:
		m.endTask(msg.task)
		m.syncRunning, m.syncProgress = 0, nil
		return tea.Batch(m.reportWhole(msg.err == nil, syncSummary(msg.reports, msg.err)), m.refreshCmd(), m.insightsCmd()), true
	case followDoneMsg:
		m.endTask(msg.task)
		m.syncRunning, m.syncProgress = 0, nil
		if !msg.ok { // it had ended already: the re-read shows what it did
			return nil, true
		}
		text := msg.by + " " + syncSummary(msg.reports, msg.err)
		return tea.Batch(m.reportWhole(msg.err == nil, text), m.refreshCmd(), m.insightsCmd()), true
	}
	return nil, false
}

// followDoneMsg ends a followed sync (followSync): ok is false when it had
// ended before it could be joined.
type followDoneMsg struct {
	task    int
	by      string
	reports []backend.SyncReport
	err     error
	ok      bool
}

// sharedSyncFollower is Actions whose running sync can be followed
// without starting one (*backend.Backend with a sync gate).
type sharedSyncFollower interface {
	sharedSync
	FollowSync(ctx context.Context, progress func(backend.SyncProgress)) ([]backend.SyncReport, bool, error)
}

// followSync, on the hub's notice that the cache changed, shows a sync
// that the hub or another session runs as if it were this session's: its
// progress in a task, its result ("the hub synced plaid 40 checked") at
// the end. It never starts a sync, and does nothing while this session
// runs or follows one.
func (m *Model) followSync() tea.Cmd {
	f, ok := m.opts.Actions.(sharedSyncFollower)
	if !ok || m.syncRunning != 0 {
		return nil
	}
	st := f.SyncStatus()
	if !st.Running {
		return nil
	}
	id, spin := m.startTask(st.By + "'s sync")
	m.syncRunning, m.syncProgress = id, map[string]backend.SyncProgress{}
	ctx := m.ctx
	return tea.Batch(spin, runAsync(func(progress func(backend.SyncProgress)) tea.Msg {
		reports, ok, err := f.FollowSync(ctx, progress)
		return followDoneMsg{task: id, by: st.By, reports: reports, err: err, ok: ok}
	}, func(p backend.SyncProgress, more stream) tea.Msg {
		return syncProgressMsg{task: id, p: p, more: more}
	}))
}

// sharedSync is Actions whose sync is shared with other sessions
// (*backend.Backend with a sync gate: relink serve's): a Sync asked for
// while another session's or the hub's runs waits for that one and
// returns its result.
type sharedSync interface {
	SyncStatus() backend.SyncStatus
}

// syncNow starts a sync unless one is running here. While the hub's or
// another session's runs, it says so at once, and follows that one: its
// progress in the task, its result at the end (the backend joins it
// rather than polling the providers a second time).
func (m *Model) syncNow() tea.Cmd {
	if s, ok := m.opts.Actions.(sharedSync); ok {
		if st := s.SyncStatus(); st.Running {
			note := m.report(true, fmt.Sprintf("a sync is already running, started by %s %s; its result will show here",
				st.By, agoText(&st.Started, m.opts.Now())))
			if m.syncRunning != 0 { // shown here already
				return note
			}
			return tea.Batch(m.startSync(), note)
		}
	}
	if m.syncRunning != 0 {
		return m.report(true, "a sync is already running")
	}
	return m.startSync()
}

// startSync runs backend.Sync in the background, its progress shown in
// its task as it comes.
func (m *Model) startSync() tea.Cmd {
	id, spin := m.startTask("sync")
	m.syncRunning, m.syncProgress = id, map[string]backend.SyncProgress{}
	acts, ctx := m.opts.Actions, m.ctx
	return tea.Batch(spin, runAsync(func(progress func(backend.SyncProgress)) tea.Msg {
		reports, err := acts.Sync(ctx, nil, progress)
		return syncDoneMsg{task: id, reports: reports, err: err}
	}, func(p backend.SyncProgress, more stream) tea.Msg {
		return syncProgressMsg{task: id, p: p, more: more}
	}))
}

// setProgress shows the running counts of a sync in its task.
func (m *Model) setProgress(id int, p backend.SyncProgress) {
	if m.syncProgress == nil || id != m.syncRunning {
		return
	}
	m.syncProgress[p.Provider] = p
	names := make([]string, 0, len(m.syncProgress))
	for n := range m.syncProgress {
		names = append(names, n)
	}
	sort.Strings(names)
	var parts []string
	for _, n := range names {
		p := m.syncProgress[n]
		if p.Total > 0 {
			parts = append(parts, fmt.Sprintf("%s %d/%d", n, p.Seen, p.Total))
		} else {
			parts = append(parts, fmt.Sprintf("%s %d", n, p.Seen))
		}
	}
	m.setTaskProgress(id, strings.Join(parts, " "))
}

// syncSummary is a finished sync in one line: the connections each
// provider checked and the events it read, "synced plaid 40 checked ·
// cobalt 486 checked, 1 event (3 changed)".
func syncSummary(reports []backend.SyncReport, err error) string {
	var parts []string
	changed := 0
	for _, r := range reports {
		changed += r.Changed
		if r.Err == nil {
			parts = append(parts, r.Provider+" "+r.Counts())
		}
	}
	text := "synced " + strings.Join(parts, " · ")
	if len(parts) == 0 {
		text = "sync"
	}
	if changed > 0 {
		text += fmt.Sprintf(" (%d changed)", changed)
	}
	if err != nil {
		msg := err.Error() // whole: the status line shows its first line, the log all of it
		if len(parts) == 0 {
			return "sync failed: " + msg
		}
		text += " · failed: " + msg
	}
	return text
}
