package ui

import (
	"strings"

	tea "charm.land/bubbletea/v2"

	"github.com/relink/relink/internal/textfmt"
)

// handleTask applies the outcome of a backend operation: a sync
// (update_sync.go), a link (update_links.go) or reminders (update_remind.go).
func (m *Model) handleTask(msg tea.Msg) tea.Cmd {
	for _, handle := range []func(tea.Msg) (tea.Cmd, bool){m.handleSync, m.handleLink, m.handleRemind} {
		if cmd, ok := handle(msg); ok {
			return cmd
		}
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

// setTaskProgress sets the progress text of a running task.
func (m *Model) setTaskProgress(id int, text string) {
	for i := range m.tasks {
		if m.tasks[i].id == id {
			m.tasks[i].progress = text
		}
	}
}

// report sets the last result, shown on the status line until it clears
// itself, and keeps it in the messages log (view_log.go).
func (m *Model) report(ok bool, text string) tea.Cmd { return m.show(ok, text, text) }

// show puts status on the status line and logged in the messages log: the
// same text; or the whole, where the line shows its first line (fail); or
// other words, where the line shows a credential once (a copied link).
// Both are made harmless on a terminal first (textfmt.Safe): an error may
// quote a provider's answer. A log text that goes on from the status makes
// the status line say where to read it whole (cutResult).
func (m *Model) show(ok bool, status, logged string) tea.Cmd {
	status, logged = textfmt.Safe(status), textfmt.SafeLines(logged)
	m.log.add(m.opts.Now(), ok, logged)
	m.taskSeq++
	more := len(logged) > len(status) && strings.HasPrefix(logged, status)
	m.result = &result{id: m.taskSeq, ok: ok, text: status, more: more}
	d := resultOKFor
	if !ok {
		d = resultErrFor
	}
	return m.after(d, clearResultMsg{id: m.taskSeq})
}

// fail reports an error in the status line, never over the data: its first
// line there, the whole of it in the messages log.
func (m *Model) fail(what string, err error) tea.Cmd {
	full := what + ": " + err.Error()
	first, _, _ := strings.Cut(full, "\n")
	return m.show(false, first, full)
}

// reportWhole shows text's first line on the status line and all of it in
// the messages log: a sync's error may run to several lines.
func (m *Model) reportWhole(ok bool, text string) tea.Cmd {
	first, _, _ := strings.Cut(text, "\n")
	return m.show(ok, first, text)
}

// stream is where the messages of an operation running in the background
// come from, one at a time (runAsync).
type stream struct{ ch <-chan tea.Msg }

// next receives the stream's next message: a progress message's handler
// returns it, until the result arrives.
func (s stream) next() tea.Cmd {
	return func() tea.Msg { return <-s.ch }
}

// runAsync runs op in a goroutine and streams it to the program: each
// progress value op reports, as the message progressMsg makes of it (with
// the stream its handler reads on from), then the message op returns. A
// report the dashboard is too slow for is dropped; a later one will do.
func runAsync[P any](op func(progress func(P)) tea.Msg, progressMsg func(P, stream) tea.Msg) tea.Cmd {
	return func() tea.Msg {
		ch := make(chan tea.Msg, 64)
		s := stream{ch}
		go func() {
			result := op(func(p P) {
				select {
				case ch <- progressMsg(p, s):
				default: // the dashboard is behind
				}
			})
			ch <- result
		}()
		return <-ch
	}
}
