package ui

import (
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/relink/relink/backend"
	"github.com/relink/relink/store"
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
	_ overlay = (*previewOverlay)(nil)
	_ overlay = (*funnelOverlay)(nil)
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

// grace makes a dialog swallow keys for a moment after it opens, so that
// keys typed for the screen before cannot answer it: until input has been
// quiet for graceQuiet, and never longer than graceMax.
type grace struct {
	now           func() time.Time
	opened, quiet time.Time
}

func newGrace(now func() time.Time) grace {
	t := now()
	return grace{now: now, opened: t, quiet: t.Add(graceQuiet)}
}

// swallow reports whether a key now falls in the grace period, which it
// then extends.
func (g *grace) swallow() bool {
	if now := g.now(); now.Before(g.quiet) && now.Before(g.opened.Add(graceMax)) {
		g.quiet = now.Add(graceQuiet)
		return true
	}
	return false
}

// confirmOverlay asks yes or no about an outbound action. No is the default,
// and for a moment after it opens it swallows keys (grace).
type confirmOverlay struct {
	title, prompt string
	yes           bool // the focused button; No first
	onYes         func() tea.Cmd
	grace
}

func newConfirm(m *Model, title, prompt string, onYes func() tea.Cmd) *confirmOverlay {
	return &confirmOverlay{title: title, prompt: prompt, onYes: onYes, grace: newGrace(m.opts.Now)}
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
	if o.swallow() {
		return false, nil
	}
	return answer(k, &o.yes, o.onYes)
}

// answer applies a key to a yes/no question whose focused button is *yes.
func answer(k tea.KeyPressMsg, yes *bool, onYes func() tea.Cmd) (bool, tea.Cmd) {
	switch k.String() {
	case "y", "Y":
		return true, onYes()
	case "n", "N", "q":
		return true, nil
	case "tab", "shift+tab", "left", "right", "h", "l":
		*yes = !*yes
	case "enter", "space":
		if *yes {
			return true, onYes()
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
			return true, es[p.sel].run(m)
		}
		return true, nil
	}
	p.input.update(k)
	p.sel = 0
	return false, nil
}

func (p *paletteOverlay) view(c *Context) string { return renderPalette(c, p) }

// previewOverlay shows a reminder plan before anything is sent: the
// recipients, the skips grouped by reason and one rendered message, which
// scrolls. With messages to send it asks, like confirmOverlay (No first,
// the grace period); without, it only tells why and closes.
type previewOverlay struct {
	plan   backend.Plan
	scroll int            // the first line of the sample shown
	yes    bool           // the focused button; No first
	onYes  func() tea.Cmd // nil: nothing to send, nothing to ask
	grace
}

func (o *previewOverlay) key(m *Model, k tea.KeyPressMsg) (bool, tea.Cmd) {
	switch k.String() {
	case "esc", "ctrl+c": // cancelling is always safe, even in the grace period
		return true, nil
	}
	if o.onYes == nil {
		switch k.String() {
		case "enter", "q", "n", "space":
			return true, nil
		}
		return false, nil
	}
	if o.swallow() {
		return false, nil
	}
	if o.scrollKey(&m.c, k.String()) {
		return false, nil
	}
	return answer(k, &o.yes, o.onYes)
}

// scrollKey moves the sample for j/k, the arrows and the page keys.
func (o *previewOverlay) scrollKey(c *Context, k string) bool {
	lines, h := previewSample(c, o)
	step := 0
	switch k {
	case "j", "down":
		step = 1
	case "k", "up":
		step = -1
	case "pgdown", "ctrl+d":
		step = max(1, h-1)
	case "pgup", "ctrl+u":
		step = -max(1, h-1)
	default:
		return false
	}
	o.scroll = max(0, min(o.scroll+step, len(lines)-h))
	return true
}

func (o *previewOverlay) view(c *Context) string { return renderPreview(c, o) }

// funnelOverlay is "what works": the reconnect funnel per category and
// channel, read from the store when it opens; it scrolls when taller than
// the screen.
type funnelOverlay struct {
	id     int // the request whose result it shows
	loaded bool
	since  time.Time
	rows   []store.FunnelRow
	err    error
	scroll int
}

func (o *funnelOverlay) key(m *Model, k tea.KeyPressMsg) (bool, tea.Cmd) {
	if key.Matches(k, m.c.Keys.Funnel) {
		return true, nil
	}
	_, h, n := funnelLines(&m.c, o)
	switch k.String() {
	case "esc", "q", "enter":
		return true, nil
	case "ctrl+c":
		return true, m.quit()
	case "j", "down":
		o.scroll++
	case "k", "up":
		o.scroll--
	case "pgdown", "ctrl+d", "space":
		o.scroll += max(1, h-1)
	case "pgup", "ctrl+u":
		o.scroll -= max(1, h-1)
	case "g", "home":
		o.scroll = 0
	case "G", "end":
		o.scroll = n
	}
	o.scroll = max(0, min(o.scroll, n-h))
	return false, nil
}

func (o *funnelOverlay) view(c *Context) string { return renderFunnel(c, o) }
