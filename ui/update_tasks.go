package ui

import (
	"context"
	"fmt"
	"sort"
	"strings"

	tea "charm.land/bubbletea/v2"

	"github.com/relink/relink/backend"
	"github.com/relink/relink/store"
)

// handleTask applies the outcome of a backend operation.
func (m *Model) handleTask(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case syncProgressMsg:
		m.setProgress(msg.task, msg.p)
		return waitFor(msg.ch)
	case syncDoneMsg:
		m.endTask(msg.task)
		m.syncRunning, m.syncProgress = 0, nil
		return tea.Batch(m.report(msg.err == nil, syncSummary(msg.reports, msg.err)), m.refreshCmd(), m.insightsCmd())
	case linkMsg:
		m.endTask(msg.task)
		if msg.err != nil {
			return m.fail(string(msg.link.Kind)+" link for "+msg.who, msg.err)
		}
		l := msg.link
		m.links[msg.connID] = l
		expires := expiresText(l, m.opts.Now())
		if msg.open {
			return tea.Batch(m.openCmd(msg.connID, msg.ref, l.Kind, l.URL),
				m.report(true, fmt.Sprintf("Opening %s link for %s (%s)", l.Kind, msg.who, expires)))
		}
		// The URL goes to the clipboard (OSC 52), then the copy is recorded;
		// the status line and the details pane show it as text as well.
		return tea.Batch(tea.Sequence(tea.SetClipboard(l.URL), m.noteCopyCmd(msg.connID, msg.ref, l.Kind)),
			m.report(true, fmt.Sprintf("Copied %s link for %s (%s) · %s", l.Kind, msg.who, expires, l.URL)))
	case linkNotedMsg:
		if msg.err != nil {
			return m.fail("recording the copy in the history", msg.err)
		}
		return m.refreshHistoryOf(msg.connID)
	case remindPlanMsg:
		m.endTask(msg.task)
		m.planning = 0
		if msg.err != nil {
			return m.fail("reminding", msg.err)
		}
		return m.previewRemind(msg.plan)
	case remindProgressMsg:
		m.setTaskProgress(msg.task, fmt.Sprintf("%d/%d", msg.done, msg.total))
		return waitFor(msg.ch)
	case remindDoneMsg:
		m.endTask(msg.task)
		if msg.err != nil {
			return tea.Batch(m.fail("reminding", fmt.Errorf("%w (%s)", msg.err, msg.rep.Summary())), m.refreshCmd())
		}
		clear(m.marks)
		return tea.Batch(m.report(len(msg.rep.Failed) == 0, msg.rep.Summary()), m.refreshCmd())
	case openedMsg:
		switch {
		case msg.err != nil:
			return m.fail("opening the browser", msg.err)
		case msg.noteErr != nil:
			return m.fail("recording the opening in the history", msg.noteErr)
		}
		return m.refreshHistoryOf(msg.connID)
	}
	return nil
}

// startTask shows a running operation with a spinner.
func (m *Model) startTask(label string) (int, tea.Cmd) {
	m.taskSeq++
	m.tasks = append(m.tasks, task{id: m.taskSeq, label: label})
	if m.spinning {
		return m.taskSeq, nil
	}
	m.spinning = true
	return m.taskSeq, m.after(spinnerEvery, spinTickMsg{})
}

func (m *Model) endTask(id int) {
	for i, t := range m.tasks {
		if t.id == id {
			m.tasks = append(m.tasks[:i], m.tasks[i+1:]...)
			return
		}
	}
}

// report sets the last result; it clears itself after a while.
func (m *Model) report(ok bool, text string) tea.Cmd {
	m.taskSeq++
	m.result = &result{id: m.taskSeq, ok: ok, text: text}
	d := resultOKFor
	if !ok {
		d = resultErrFor
	}
	return m.after(d, clearResultMsg{id: m.taskSeq})
}

// fail reports an error in the status line, never over the data.
func (m *Model) fail(what string, err error) tea.Cmd {
	msg, _, _ := strings.Cut(err.Error(), "\n")
	return m.report(false, what+": "+msg)
}

// syncNow starts a sync unless one is running.
func (m *Model) syncNow() tea.Cmd {
	if m.syncRunning != 0 {
		return m.report(true, "a sync is already running")
	}
	return m.startSync()
}

// startSync runs backend.Sync in the background; its progress comes back
// through a channel, one message at a time.
func (m *Model) startSync() tea.Cmd {
	id, spin := m.startTask("sync")
	m.syncRunning, m.syncProgress = id, map[string]backend.SyncProgress{}
	acts, ctx := m.opts.Actions, m.ctx
	run := func() tea.Msg {
		ch := make(chan tea.Msg, 64)
		go func() {
			reports, err := acts.Sync(ctx, nil, func(p backend.SyncProgress) {
				select {
				case ch <- syncProgressMsg{task: id, p: p, ch: ch}:
				default: // the dashboard is behind; a later count will do
				}
			})
			ch <- syncDoneMsg{task: id, reports: reports, err: err}
		}()
		return <-ch
	}
	return tea.Batch(spin, run)
}

func waitFor(ch <-chan tea.Msg) tea.Cmd { return func() tea.Msg { return <-ch } }

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
	for i := range m.tasks {
		if m.tasks[i].id == id {
			m.tasks[i].progress = strings.Join(parts, " ")
		}
	}
}

func syncSummary(reports []backend.SyncReport, err error) string {
	var parts []string
	changed := 0
	for _, r := range reports {
		changed += r.Changed
		if r.Err == nil {
			parts = append(parts, fmt.Sprintf("%s %d", r.Provider, r.Seen))
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
		msg, _, _ := strings.Cut(err.Error(), "\n")
		if len(parts) == 0 {
			return "sync failed: " + msg
		}
		text += " · failed: " + msg
	}
	return text
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

// planRemind plans reminders for the marked rows, or the selected one, in
// the background; the plan then opens the preview (previewRemind).
func (m *Model) planRemind() tea.Cmd {
	if m.opts.Reminders == nil || m.opts.ReadOnly || m.planning != 0 {
		return nil
	}
	refs := m.targets()
	if len(refs) == 0 {
		return nil
	}
	label := "planning a reminder"
	if len(refs) > 1 {
		label = fmt.Sprintf("planning reminders for %d connections", len(refs))
	}
	id, spin := m.startTask(label)
	m.planning = id
	rem, ctx, ch := m.opts.Reminders, m.ctx, m.opts.RemindChannel
	return tea.Batch(spin, func() tea.Msg {
		if err := rem.Ready(ch); err != nil { // say why now, not after the question
			return remindPlanMsg{task: id, err: err}
		}
		ctx, cancel := context.WithTimeout(ctx, planTimeout)
		defer cancel()
		plan, err := rem.PlanReminders(ctx, refs, ch)
		return remindPlanMsg{task: id, plan: plan, err: err}
	})
}

// previewRemind shows a plan: whom it reaches, who is skipped and why, and
// one rendered message, and asks before sending (No by default). A plan
// with nothing to send only says so, with the reasons.
func (m *Model) previewRemind(plan backend.Plan) tea.Cmd {
	if m.overlay != nil { // another dialog came first: never cover it
		return m.report(false, "reminders not sent: another dialog was open; press "+helpOf(m.c.Keys.Remind)+" again")
	}
	o := &previewOverlay{plan: plan}
	if len(plan.Messages) > 0 {
		o.grace = newGrace(m.opts.Now)
		o.onYes = func() tea.Cmd { return m.sendRemind(plan) }
	}
	m.overlay = o
	return nil
}

// targets are the refs an action on "the selection" applies to: the marked
// rows if any, else the row under the cursor.
func (m *Model) targets() []string {
	if len(m.marks) > 0 {
		refs := make([]string, 0, len(m.marks))
		for _, r := range m.marks {
			refs = append(refs, r)
		}
		sort.Strings(refs)
		return refs
	}
	if c, ok := m.selected(); ok {
		return []string{c.Ref()}
	}
	return nil
}

// sendRemind sends a confirmed plan in the background: the task shows the
// messages finished of the total, and the report's summary ends it.
func (m *Model) sendRemind(plan backend.Plan) tea.Cmd {
	id, spin := m.startTask("sending reminders")
	m.setTaskProgress(id, fmt.Sprintf("0/%d", len(plan.Messages)))
	rem, ctx := m.opts.Reminders, m.ctx
	run := func() tea.Msg {
		ch := make(chan tea.Msg, 64)
		go func() {
			rep, err := rem.SendReminders(ctx, plan, func(done, total int) {
				select {
				case ch <- remindProgressMsg{task: id, done: done, total: total, ch: ch}:
				default: // the dashboard is behind; a later count will do
				}
			})
			ch <- remindDoneMsg{task: id, rep: rep, err: err}
		}()
		return <-ch
	}
	return tea.Batch(spin, run)
}

// setTaskProgress sets the progress text of a running task.
func (m *Model) setTaskProgress(id int, text string) {
	for i := range m.tasks {
		if m.tasks[i].id == id {
			m.tasks[i].progress = text
		}
	}
}

// refreshHistoryOf re-reads the history of connID if the details pane shows it,
// so that a link just copied or opened appears there.
func (m *Model) refreshHistoryOf(connID int64) tea.Cmd {
	if c, ok := m.selected(); ok && m.detailOpen && c.ID == connID {
		return m.historyCmd(connID)
	}
	return nil
}
