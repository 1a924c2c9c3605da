package ui

import (
	"strings"

	"charm.land/lipgloss/v2"
)

// renderHelp is the full help, one block per FullHelp group, laid out in as
// many columns as fit. Disabled bindings are left out.
func renderHelp(c *Context) string {
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
	body := s.DialogTitle.Render("Keys") + "\n\n" + strings.Join(rows, "\n\n")
	if c.ReadOnly {
		body += "\n\n" + s.Warning.Render("read-only: sending reminders and minting links are off")
	}
	body += "\n\n" + s.Subtle.Render("esc or ? closes · keys can be changed in [keys] of the config")
	return s.Dialog.Render(clip(body, room, max(1, c.Height-4)))
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
		s.Subtle.Render("y yes · n no · esc cancel · tab switch"),
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
	for i, a := range es {
		if i == 12 {
			lines = append(lines, s.Subtle.Render(ic.Ellipsis))
			break
		}
		k := a.get(&c.Keys).Help().Key
		text := fit(a.desc, width-lipgloss.Width(k)-3, ic.Ellipsis) + " " + k
		if i == p.sel {
			lines = append(lines, s.RowSelected.Render(ic.Cursor+" "+text))
		} else {
			lines = append(lines, "  "+s.Text.Render(text))
		}
	}
	if len(es) == 0 {
		lines = append(lines, s.Subtle.Render("no action matches"))
	}
	return s.Dialog.Render(strings.Join(lines, "\n"))
}
