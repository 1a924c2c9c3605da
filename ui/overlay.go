package ui

import (
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/relink/relink/backend"
	"github.com/relink/relink/store"
)

// dialog is a window over the dashboard. It gets every key first, reads it
// with the dialog keys of the KeyMap, and answers with a dialogAction that
// the Model acts on (Model.act); it changes nothing but itself.
type dialog interface {
	id() dialogID
	key(c *Context, k tea.KeyPressMsg) dialogAction
	view(c *Context) string
}

// dialogID says which dialog one is: the Model acts on an answer by it.
type dialogID int

const (
	helpDialog    dialogID = iota
	paletteDialog          // the command palette
	quitDialog             // "… is still running. Quit anyway?"
	remindDialog           // the reminder preview: send, or a notice of why not
	funnelDialog           // what works: the reconnect funnel
	revokeDialog           // "Revoke the durable links of …?"
	logDialog              // the messages log
)

// dialogAction is what a key asks of the Model; nil: nothing, the dialog
// stays open. Every other action closes the dialog.
type dialogAction interface{ isDialogAction() }

type (
	closeDialog   struct{}                           // cancelled, answered No, or dismissed
	confirmDialog struct{}                           // answered Yes: do what the question asked (Model.confirmed)
	quitApp       struct{}                           // a quit key: what quit does on the main screen
	runAction     struct{ run func(*Model) tea.Cmd } // the palette's choice: an action, or a jump to a group
)

func (closeDialog) isDialogAction()   {}
func (confirmDialog) isDialogAction() {}
func (quitApp) isDialogAction()       {}
func (runAction) isDialogAction()     {}

var (
	_ dialog = (*helpOverlay)(nil)
	_ dialog = (*confirmOverlay)(nil)
	_ dialog = (*paletteOverlay)(nil)
	_ dialog = (*previewOverlay)(nil)
	_ dialog = (*funnelOverlay)(nil)
	_ dialog = (*logOverlay)(nil)
)

// exitKey is what every dialog reads first, even in its grace period:
// close, and the quit keys.
func exitKey(c *Context, k tea.KeyPressMsg) dialogAction {
	switch {
	case key.Matches(k, c.Keys.Dialog.Close):
		return closeDialog{}
	case isQuitKey(c, k):
		return quitApp{}
	}
	return nil
}

// isQuitKey says whether k quits from a dialog: a key of the quit action
// that no dialog key claims (ctrl+c by default; q answers no).
func isQuitKey(c *Context, k tea.KeyPressMsg) bool {
	return key.Matches(k, c.Keys.Quit) && !c.Keys.dialogClaims(k)
}

// viewKey is a key in a view, a dialog that shows something and asks
// nothing: close and quit, then scrolling its n lines of which h show,
// then no or choose close it.
func viewKey(c *Context, k tea.KeyPressMsg, s *scroller, n, h int) dialogAction {
	if a := exitKey(c, k); a != nil {
		return a
	}
	if s != nil && s.key(&c.Keys.Dialog, k, n, h) {
		return nil
	}
	if key.Matches(k, c.Keys.Dialog.No, c.Keys.Dialog.Choose) {
		return closeDialog{}
	}
	return nil
}

// answerKey applies an answer key to a yes/no question whose focused
// button is *yes; ok is false for a key that is none.
func answerKey(d *DialogKeyMap, k tea.KeyPressMsg, yes *bool) (a dialogAction, ok bool) {
	switch {
	case key.Matches(k, d.Yes):
		return confirmDialog{}, true
	case key.Matches(k, d.No):
		return closeDialog{}, true
	case key.Matches(k, d.Toggle):
		*yes = !*yes
		return nil, true
	case key.Matches(k, d.Choose):
		if *yes {
			return confirmDialog{}, true
		}
		return closeDialog{}, true
	}
	return nil, false
}

// scroller is the window of a dialog that scrolls (the reminder preview's
// sample, the funnel, the help, the messages): the first of its n lines
// shown, h at once. A page is h-1 lines (one stays for context), half a
// page h/2, as in less and vim.
type scroller struct{ top int }

// key moves the window for a scroll key; it reports whether k was one.
func (s *scroller) key(d *DialogKeyMap, k tea.KeyPressMsg, n, h int) bool {
	page := max(1, h-1)
	switch {
	case key.Matches(k, d.ScrollDown):
		s.top++
	case key.Matches(k, d.ScrollUp):
		s.top--
	case key.Matches(k, d.ScrollPageDown):
		s.top += page
	case key.Matches(k, d.ScrollPageUp):
		s.top -= page
	case key.Matches(k, d.ScrollHalfDown):
		s.top += max(1, h/2)
	case key.Matches(k, d.ScrollHalfUp):
		s.top -= max(1, h/2)
	case key.Matches(k, d.ScrollTop):
		s.top = 0
	case key.Matches(k, d.ScrollBottom):
		s.top = n
	default:
		return false
	}
	s.top = s.from(n, h)
	return true
}

// from is the first line to show, kept within the lines (the screen, and
// so h, may have changed since the last key).
func (s scroller) from(n, h int) int { return max(0, min(s.top, n-h)) }

// window is the h lines of lines showing (h ≤ len(lines)).
func (s scroller) window(lines []string, h int) []string {
	from := s.from(len(lines), h)
	return lines[from : from+h]
}

// position is "lines 3-18 of 40".
func (s scroller) position(n, h int) string {
	from := s.from(n, h)
	return fmt.Sprintf("lines %d-%d of %d", from+1, from+h, n)
}

// helpOverlay is the full help, built from the key map; it scrolls when
// taller than the screen.
type helpOverlay struct{ scroll scroller }

func (*helpOverlay) id() dialogID { return helpDialog }

func (o *helpOverlay) key(c *Context, k tea.KeyPressMsg) dialogAction {
	if key.Matches(k, c.Keys.Help) {
		return closeDialog{}
	}
	lines, h := helpLines(c)
	return viewKey(c, k, &o.scroll, len(lines), h)
}

func (o *helpOverlay) view(c *Context) string { return renderHelpAt(c, o.scroll) }

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
	which         dialogID // the question, for the Model to act on the answer
	title, prompt string
	yes           bool // the focused button; No first
	// onYes is what Yes does, for a question about a subject of its own
	// (whose links to revoke); nil: the Model acts on which (Model.confirmed).
	onYes func(*Model) tea.Cmd
	grace
}

func newConfirm(m *Model, which dialogID, title, prompt string) *confirmOverlay {
	return &confirmOverlay{which: which, title: title, prompt: prompt, grace: newGrace(m.opts.Now)}
}

func (o *confirmOverlay) id() dialogID { return o.which }

func (o *confirmOverlay) key(c *Context, k tea.KeyPressMsg) dialogAction {
	if a := exitKey(c, k); a != nil { // cancelling is always safe, even in the grace period
		return a
	}
	if o.swallow() {
		return nil
	}
	a, _ := answerKey(&c.Keys.Dialog, k, &o.yes)
	return a
}

func (o *confirmOverlay) view(c *Context) string { return renderConfirm(c, o) }

// paletteOverlay finds a group by its name (":mfa" goes to mfa_required,
// as k9s's ":" switches views) or an enabled action, filtered as you type;
// choose runs one. The groups come first, then the actions that act, and
// the moves, which have their own keys, last.
type paletteOverlay struct {
	input  lineInput
	sel    int
	groups []group // the tabs when it opened
}

// paletteEntry is one line of the palette: a group to go to, or an action.
type paletteEntry struct {
	name      string // the action's name, or "group:" and the group's key
	text, key string // what it does, and its key
	count     string // a group's count
	run       func(*Model) tea.Cmd
}

func newPalette(groups []group) *paletteOverlay {
	return &paletteOverlay{groups: groups,
		input: lineInput{prompt: ": ", placeholder: "a group (mfa, locked…) or an action", focused: true}}
}

func (*paletteOverlay) id() dialogID { return paletteDialog }

// movesLast are the actions the palette lists last: moving has its own keys.
var movesLast = map[string]bool{"down": true, "up": true, "top": true, "bottom": true, "page_down": true, "page_up": true,
	"half_page_down": true, "half_page_up": true,
	"next_group": true, "prev_group": true, "jump_group": true}

// entries are the groups whose name or title contains the query, then the
// enabled actions whose name or description does.
func (p *paletteOverlay) entries(c *Context) []paletteEntry {
	q := strings.ToLower(strings.TrimSpace(p.input.Value()))
	has := func(texts ...string) bool {
		for _, t := range texts {
			if strings.Contains(strings.ToLower(t), q) {
				return true
			}
		}
		return q == ""
	}
	var out, moves []paletteEntry
	for i, g := range p.groups {
		if !has(g.key(), g.label(), groupTitle(g)) {
			continue
		}
		gk := g.key()
		e := paletteEntry{name: "group:" + gk, text: "go to " + g.label(), count: fmt.Sprint(g.count), run: func(m *Model) tea.Cmd { return m.switchToKey(gk) }}
		if i < 9 && c.Keys.JumpGroup.Enabled() {
			e.key = fmt.Sprint(i + 1)
		}
		out = append(out, e)
	}
	for _, a := range actions {
		b := a.get(&c.Keys)
		if b == &c.Keys.Palette || b == &c.Keys.JumpGroup || !b.Enabled() || !has(a.name, a.desc) {
			continue
		}
		e := paletteEntry{name: a.name, text: a.desc, key: b.Help().Key, run: a.run}
		if movesLast[a.name] {
			moves = append(moves, e)
		} else {
			out = append(out, e)
		}
	}
	return append(out, moves...)
}

// key types what is text into the query; of the other keys, close and
// quit, scroll_down and scroll_up move the selection, choose runs it, and
// the rest edit the query.
func (p *paletteOverlay) key(c *Context, k tea.KeyPressMsg) dialogAction {
	if !typesText(k) {
		d := &c.Keys.Dialog
		es := p.entries(c)
		if a := exitKey(c, k); a != nil {
			return a
		}
		switch {
		case key.Matches(k, d.ScrollDown):
			p.sel = max(0, min(p.sel+1, len(es)-1))
			return nil
		case key.Matches(k, d.ScrollUp):
			p.sel = max(p.sel-1, 0)
			return nil
		case key.Matches(k, d.Choose):
			if p.sel < len(es) {
				return runAction{es[p.sel].run}
			}
			return closeDialog{}
		}
	}
	p.input.update(k)
	p.sel = 0
	return nil
}

// typesText says whether k types text into an input (space included).
func typesText(k tea.KeyPressMsg) bool {
	return k.Text != "" && k.Mod&(tea.ModCtrl|tea.ModAlt) == 0
}

func (p *paletteOverlay) view(c *Context) string { return renderPalette(c, p) }

// previewOverlay shows a reminder plan before anything is sent: the
// recipients, the skips grouped by reason and one rendered message, which
// scrolls. With messages to send it asks, like confirmOverlay (No first,
// the grace period); without, it is a notice that tells why and closes.
type previewOverlay struct {
	plan   backend.Plan
	scroll scroller // over the sample's lines
	yes    bool     // the focused button; No first
	grace
}

func newPreview(m *Model, plan backend.Plan) *previewOverlay {
	o := &previewOverlay{plan: plan}
	if o.asks() {
		o.grace = newGrace(m.opts.Now)
	}
	return o
}

func (*previewOverlay) id() dialogID { return remindDialog }

// asks says whether there is anything to send, and so a question.
func (o *previewOverlay) asks() bool { return o.plan.Sends() > 0 }

func (o *previewOverlay) key(c *Context, k tea.KeyPressMsg) dialogAction {
	if !o.asks() {
		return viewKey(c, k, nil, 0, 0)
	}
	if a := exitKey(c, k); a != nil { // cancelling is always safe, even in the grace period
		return a
	}
	if o.swallow() {
		return nil
	}
	if a, ok := answerKey(&c.Keys.Dialog, k, &o.yes); ok {
		return a
	}
	lines, h := previewSample(c, o)
	o.scroll.key(&c.Keys.Dialog, k, len(lines), h)
	return nil
}

func (o *previewOverlay) view(c *Context) string { return renderPreview(c, o) }

// funnelOverlay is "what works": the reconnect funnel per category and
// channel, read from the store when it opens; it scrolls when taller than
// the screen.
type funnelOverlay struct {
	req    int // the request whose result it shows
	loaded bool
	since  time.Time
	rows   []store.FunnelRow
	err    error
	scroll scroller
}

func (*funnelOverlay) id() dialogID { return funnelDialog }

func (o *funnelOverlay) key(c *Context, k tea.KeyPressMsg) dialogAction {
	if key.Matches(k, c.Keys.Funnel) {
		return closeDialog{}
	}
	_, h, n := funnelLines(c, o)
	return viewKey(c, k, &o.scroll, n, h)
}

func (o *funnelOverlay) view(c *Context) string { return renderFunnel(c, o) }
