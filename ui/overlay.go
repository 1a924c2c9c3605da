package ui

import (
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"
)

// overlay is a dialog over the dashboard. It gets every key first; done
// closes it.
type overlay interface {
	key(m *Model, k tea.KeyPressMsg) (done bool, cmd tea.Cmd)
	view(c *Context) string
}

var (
	_ overlay = (*helpOverlay)(nil)
	_ overlay = (*confirmOverlay)(nil)
	_ overlay = (*paletteOverlay)(nil)
)

// helpOverlay is the full help, built from the key map.
type helpOverlay struct{}

func (*helpOverlay) key(m *Model, k tea.KeyPressMsg) (bool, tea.Cmd) {
	switch k.String() {
	case "esc", "q", "?", "enter":
		return true, nil
	case "ctrl+c":
		return true, m.quit()
	}
	return false, nil
}

func (*helpOverlay) view(c *Context) string { return renderHelp(c) }

// confirmOverlay asks yes or no about an outbound action. No is the default,
// and for a moment after it opens it swallows keys, so that keys typed for
// the screen before cannot answer it.
type confirmOverlay struct {
	title, prompt string
	yes           bool // the focused button; No first
	onYes         func() tea.Cmd
	now           func() time.Time
	opened, quiet time.Time // keys are swallowed until quiet (at most graceMax after opened)
}

func newConfirm(m *Model, title, prompt string, onYes func() tea.Cmd) *confirmOverlay {
	now := m.opts.Now()
	return &confirmOverlay{title: title, prompt: prompt, onYes: onYes, now: m.opts.Now, opened: now, quiet: now.Add(graceQuiet)}
}

func (o *confirmOverlay) key(m *Model, k tea.KeyPressMsg) (bool, tea.Cmd) {
	switch k.String() {
	case "esc": // cancelling is always safe, even in the grace period
		return true, nil
	case "ctrl+c":
		if o.title == "Quit" {
			return true, m.doQuit()
		}
		return true, nil
	}
	if now := o.now(); now.Before(o.quiet) && now.Before(o.opened.Add(graceMax)) {
		o.quiet = now.Add(graceQuiet)
		return false, nil
	}
	switch k.String() {
	case "y", "Y":
		return true, o.onYes()
	case "n", "N", "q":
		return true, nil
	case "tab", "shift+tab", "left", "right", "h", "l":
		o.yes = !o.yes
	case "enter", "space":
		if o.yes {
			return true, o.onYes()
		}
		return true, nil
	}
	return false, nil
}

func (o *confirmOverlay) view(c *Context) string { return renderConfirm(c, o) }

// paletteOverlay lists the enabled actions, filtered as you type; enter runs one.
type paletteOverlay struct {
	input lineInput
	sel   int
}

func newPalette() *paletteOverlay {
	return &paletteOverlay{input: lineInput{prompt: ": ", placeholder: "type to find an action", focused: true}}
}

// entries are the enabled actions whose name or description contains the query.
func (p *paletteOverlay) entries(c *Context) []action {
	q := strings.ToLower(strings.TrimSpace(p.input.Value()))
	var out []action
	for _, a := range actions {
		b := a.get(&c.Keys)
		if a.name == "palette" || !b.Enabled() {
			continue
		}
		if q == "" || strings.Contains(a.name, q) || strings.Contains(a.desc, q) {
			out = append(out, a)
		}
	}
	return out
}

func (p *paletteOverlay) key(m *Model, k tea.KeyPressMsg) (bool, tea.Cmd) {
	es := p.entries(&m.c)
	switch k.String() {
	case "esc":
		return true, nil
	case "ctrl+c":
		return true, m.quit()
	case "down", "ctrl+n":
		p.sel = min(p.sel+1, len(es)-1)
		return false, nil
	case "up", "ctrl+p":
		p.sel = max(p.sel-1, 0)
		return false, nil
	case "enter":
		if p.sel < len(es) {
			m.overlay = nil
			return true, m.do(es[p.sel].name)
		}
		return true, nil
	}
	p.input.update(k)
	p.sel = 0
	return false, nil
}

func (p *paletteOverlay) view(c *Context) string { return renderPalette(c, p) }
