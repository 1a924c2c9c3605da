package ui

import (
	"context"
	"fmt"
	"sort"

	tea "charm.land/bubbletea/v2"

	"github.com/relink/relink/backend"
)

// handleRemind applies a reminder plan (it opens the preview) and the
// progress and end of a send.
func (m *Model) handleRemind(msg tea.Msg) (tea.Cmd, bool) {
	switch msg := msg.(type) {
	case remindPlanMsg:
		m.endTask(msg.task)
		m.planning = 0
		if msg.err != nil {
			return m.fail("reminding", msg.err), true
		}
		if cmd, over := m.overBulkLimit(msg.plan); over {
			return cmd, true
		}
		return m.previewRemind(msg.plan), true
	case remindProgressMsg:
		m.setTaskProgress(msg.task, fmt.Sprintf("%d/%d", msg.done, msg.total))
		return msg.more.next(), true
	case remindDoneMsg:
		m.endTask(msg.task)
		if msg.err != nil {
			return tea.Batch(m.fail("reminding", fmt.Errorf("%w (%s)", msg.err, msg.rep.Summary())), m.refreshCmd()), true
		}
		clear(m.marks)
		// Not sent because someone else reminded the user first is told as
		// loudly as a failure: the agent believes they just reminded them.
		ok := len(msg.rep.Failed) == 0 && len(msg.rep.Beaten) == 0
		return tea.Batch(m.report(ok, msg.rep.Summary()), m.refreshCmd()), true
	}
	return nil, false
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
		// A message a killed run left 'sending' is queued again first, so
		// the plan counts it as waiting, not as already queued.
		recovered, err := rem.Recover(ctx)
		if err != nil {
			return remindPlanMsg{task: id, err: err}
		}
		plan, err := rem.PlanReminders(ctx, refs, ch)
		plan.Recovered = recovered
		return remindPlanMsg{task: id, plan: plan, err: err}
	})
}

// overBulkLimit refuses, saying why, a plan that would remind more users
// than an agent may at once (Options.BulkLimit); leads have no limit. It
// counts users, not connections: a user with three failing connections
// gets one message.
func (m *Model) overBulkLimit(plan backend.Plan) (tea.Cmd, bool) {
	limit, users := m.opts.BulkLimit, len(plan.Messages)
	if m.opts.Role != RoleAgent || limit <= 0 || users <= limit {
		return nil, false
	}
	return m.report(false, fmt.Sprintf("agents remind at most %d users at once (reminders.agent_bulk_limit); this would remind %d: mark fewer, or ask a lead",
		limit, users)), true
}

// previewRemind shows a plan: whom it reaches, who is skipped and why, and
// one rendered message, and asks before sending (No by default). A plan
// with nothing to send only says so, with the reasons. Its Yes sends
// (Model.confirmed).
func (m *Model) previewRemind(plan backend.Plan) tea.Cmd {
	if m.overlay != nil { // another dialog came first: never cover it
		return m.report(false, "reminders not sent: another dialog was open; press "+helpOf(m.c.Keys.Remind)+" again")
	}
	m.overlay = newPreview(m, plan)
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

// sendCount is a send's progress: messages finished of the total.
type sendCount struct{ done, total int }

// sendRemind sends a confirmed plan in the background: the task shows the
// messages finished of the total, and the report's summary ends it.
func (m *Model) sendRemind(plan backend.Plan) tea.Cmd {
	id, spin := m.startTask("sending reminders")
	m.setTaskProgress(id, fmt.Sprintf("0/%d", plan.Sends()))
	rem, ctx := m.opts.Reminders, m.ctx
	return tea.Batch(spin, runAsync(func(progress func(sendCount)) tea.Msg {
		rep, err := rem.SendReminders(ctx, plan, func(done, total int) { progress(sendCount{done, total}) })
		return remindDoneMsg{task: id, rep: rep, err: err}
	}, func(n sendCount, more stream) tea.Msg {
		return remindProgressMsg{task: id, done: n.done, total: n.total, more: more}
	}))
}
