package ui

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/lipgloss/v2"
)

// helpLines are the help's key columns, one block per FullHelp group laid
// out in as many columns as fit (disabled bindings left out), and how many
// of their lines show at once.
func helpLines(c *Context) ([]string, int) {
	s := c.Styles
	var blocks []string
	for i, col := range c.Keys.FullHelp() {
		var keys, descs []string
		for _, b := range col {
			if b.Enabled() {
				keys = append(keys, b.Help().Key)
				descs = append(descs, b.Help().Desc)
			}
		}
		if len(keys) == 0 {
			continue
		}
		kw := 0
		for _, k := range keys {
			kw = max(kw, lipgloss.Width(k))
		}
		lines := []string{s.PaneTitle.Render(helpTitles[i])}
		for j := range keys {
			lines = append(lines, s.FooterKey.Render(fit(keys[j], kw, ""))+"  "+s.Text.Render(descs[j]))
		}
		blocks = append(blocks, strings.Join(lines, "\n"))
	}
	room := c.Width - 8
	var rows []string
	var row []string
	rowW := 0
	for _, b := range blocks {
		bw := lipgloss.Width(b)
		if len(row) > 0 && rowW+4+bw > room {
			rows = append(rows, lipgloss.JoinHorizontal(lipgloss.Top, row...))
			row, rowW = nil, 0
		}
		if len(row) > 0 {
			row = append(row, "    ")
			rowW += 4
		}
		row = append(row, b)
		rowW += bw
	}
	if len(row) > 0 {
		rows = append(rows, lipgloss.JoinHorizontal(lipgloss.Top, row...))
	}
	lines := strings.Split(strings.Join(rows, "\n\n"), "\n")
	fixed := 4 // title, blank … blank, hint
	if c.ReadOnly {
		fixed += 2
	}
	if n := len(mailboxHelp(c)); n > 0 {
		fixed += 1 + n
	}
	return lines, max(1, min(len(lines), c.Height-4-fixed))
}

// mailboxHelp is help's note on the demo's mailbox page, wrapped; none
// outside the demo.
func mailboxHelp(c *Context) []string {
	if c.DemoMailbox == "" {
		return nil
	}
	return para(c.Styles.Text, "The demo's reminders arrive in a local mailbox; open a message in a browser, click its link and watch the row heal: "+c.DemoMailbox, c.Width-8)
}

// renderHelp is the full help from its top.
func renderHelp(c *Context) string { return renderHelpAt(c, scroller{}) }

// renderHelpAt is the full help scrolled to sc: when it is taller than the
// screen, the title says which lines show.
func renderHelpAt(c *Context, sc scroller) string {
	s, ic := c.Styles, c.Styles.Icons
	room := c.Width - 8
	lines, h := helpLines(c)
	title := s.DialogTitle.Render("Keys")
	if len(lines) > h {
		w := 0
		for _, l := range lines {
			w = max(w, lipgloss.Width(l))
		}
		pos := s.Subtle.Render(" " + hints([2]string{keysHint(c.Keys.Dialog.ScrollDown, c.Keys.Dialog.ScrollUp), "scroll"}) +
			" · " + sc.position(len(lines), h))
		title = fit(title, max(0, min(w, room)-lipgloss.Width(pos)), ic.Ellipsis)
		title += strings.Repeat(" ", max(0, min(w, room)-lipgloss.Width(title)-lipgloss.Width(pos))) + pos
	}
	body := title + "\n\n" + strings.Join(sc.window(lines, h), "\n")
	if c.ReadOnly {
		body += "\n\n" + s.Warning.Render("read-only: sending reminders, minting and revoking links are off")
	}
	if l := mailboxHelp(c); len(l) > 0 {
		body += "\n\n" + strings.Join(l, "\n")
	}
	closes := firstKey(c.Keys.Dialog.Close)
	if k := firstKey(c.Keys.Help); k != "" {
		closes += " or " + k
	}
	body += "\n\n" + s.Subtle.Render(closes+" closes · keys can be changed in [keys] of the config")
	return s.Dialog.Render(clip(body, room, max(1, c.Height-4)))
}

// firstKey is how a binding's first key reads in a hint, "" when it has none.
func firstKey(b key.Binding) string {
	if !b.Enabled() {
		return ""
	}
	return helpKey(b.Keys()[:1])
}

// keysHint is the first keys of bs, those bound: "n/esc", "j/k".
func keysHint(bs ...key.Binding) string {
	var out []string
	for _, b := range bs {
		if k := firstKey(b); k != "" {
			out = append(out, k)
		}
	}
	return strings.Join(out, "/")
}

// hints is a line of key hints, "y yes · n no", from pairs of keys and
// what they do; a pair without keys is left out.
func hints(pairs ...[2]string) string {
	return strings.Join(dialogHints(func(k, d string) string { return k + " " + d }, pairs...), " · ")
}

// questionHints are a question's hints: "y yes · n no · esc cancel · tab switch".
func questionHints(d DialogKeyMap) string {
	return hints([2]string{firstKey(d.Yes), "yes"}, [2]string{firstKey(d.No), "no"},
		[2]string{firstKey(d.Close), "cancel"}, [2]string{firstKey(d.Toggle), "switch"})
}

// renderConfirm is a yes/no question; No is focused until chosen otherwise,
// and the focus is shown by a marker as well as by colour.
func renderConfirm(c *Context, o *confirmOverlay) string {
	s := c.Styles
	buttons := renderButtons(c, o.yes)
	prompt := lipgloss.NewStyle().Width(min(60, c.Width-10)).Render(o.prompt)
	body := strings.Join([]string{
		s.DialogTitle.Render(o.title),
		"",
		s.Text.Render(prompt),
		"",
		buttons,
		"",
		s.Subtle.Render(questionHints(c.Keys.Dialog)),
	}, "\n")
	return s.Dialog.Render(body)
}

// renderButtons are No and Yes, the focused one marked as well as coloured.
func renderButtons(c *Context, yes bool) string {
	s, ic := c.Styles, c.Styles.Icons
	button := func(label string, focused bool) string {
		if focused {
			return s.ButtonActive.Render(ic.Cursor + " " + label)
		}
		return s.Button.Render("  " + label)
	}
	return button("No", !yes) + "   " + button("Yes", yes)
}

// renderPalette is the command palette: a query and the matching actions.
func renderPalette(c *Context, p *paletteOverlay) string {
	s, ic := c.Styles, c.Styles.Icons
	es := p.entries(c)
	width := min(56, c.Width-10)
	lines := []string{s.DialogTitle.Render("Commands"), p.input.view(c, width), ""}
	for i, e := range es {
		if i == 12 {
			lines = append(lines, s.Subtle.Render(fmt.Sprintf("%s %d more: type to narrow", ic.Ellipsis, len(es)-12)))
			break
		}
		right := e.key
		if e.count != "" { // a group: its count, then its number key (or room for one)
			right = e.count + "  " + fit(e.key, 1, "")
		}
		text := fit(e.text, width-lipgloss.Width(right)-3, ic.Ellipsis) + " " + right
		if i == p.sel {
			lines = append(lines, s.RowSelected.Render(ic.Cursor+" "+text))
		} else {
			lines = append(lines, "  "+s.Text.Render(text))
		}
	}
	if len(es) == 0 {
		lines = append(lines, s.Subtle.Render("no action matches, and no group"))
	}
	return s.Dialog.Render(strings.Join(lines, "\n"))
}
