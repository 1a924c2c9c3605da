package ui

import (
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
)

// Update implements tea.Model. Keys go to the open overlay first (help,
// confirmation, palette), then to the filter input while it has focus, then
// to the table. Store results and backend outcomes are handled in
// update_data.go and update_tasks.go.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.c.Width, m.c.Height = msg.Width, msg.Height
		return m, m.relayout()
	case tea.BackgroundColorMsg:
		m.dark = msg.IsDark()
		m.restyle()
		return m, nil
	case tea.ColorProfileMsg:
		m.plain = msg.Profile <= colorprofile.ASCII
		m.restyle()
		return m, nil
	case tea.KeyPressMsg:
		return m, m.handleKey(msg)
	case tea.PasteMsg:
		if m.filterOn {
			return m, m.updateFilterInput(msg)
		}
		if p, ok := m.overlay.(*paletteOverlay); ok {
			p.input.update(msg)
		}
		return m, nil
	}
	if cmd, ok := m.handleData(msg); ok {
		return m, cmd
	}
	if cmd, ok := m.handleTimer(msg); ok {
		return m, cmd
	}
	return m, m.handleTask(msg)
}

// relayout recomputes the layout after a resize or the pane opening or
// closing, keeps the cursor on screen and reads any rows now visible.
func (m *Model) relayout() tea.Cmd {
	m.lay = computeLayout(m.c.Width, m.c.Height, m.detailOpen, m.showQR)
	m.scrollToCursor()
	return m.ensureLoaded()
}

// handleTimer handles the scheduled messages.
func (m *Model) handleTimer(msg tea.Msg) (tea.Cmd, bool) {
	switch msg := msg.(type) {
	case refreshTickMsg:
		return tea.Batch(m.refreshCmd(), m.after(m.opts.RefreshInterval, refreshTickMsg{})), true
	case changedMsg: // the re-read, then the next notice: one re-read at a time
		return tea.Batch(tea.Sequence(m.refreshCmd(), m.waitChanged()), m.followSync()), true
	case syncTickMsg:
		var cmd tea.Cmd
		if m.syncRunning == 0 {
			cmd = m.startSync()
		}
		return tea.Batch(cmd, m.after(m.opts.SyncInterval, syncTickMsg{})), true
	case spinTickMsg:
		if len(m.tasks) == 0 {
			m.spinning = false
			return nil, true
		}
		m.spin++
		return m.after(spinnerEvery, spinTickMsg{}), true
	case filterFireMsg:
		if msg.seq != m.debounce {
			return nil, true // a newer keystroke follows
		}
		return m.applyFilter(), true
	case clearResultMsg:
		if m.result != nil && m.result.id == msg.id {
			m.result = nil
		}
		return nil, true
	}
	return nil, false
}
