package ui

import (
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/lipgloss/v2"
)

// footerMode says which hints the footer shows.
type footerMode int

const (
	footerTable footerMode = iota
	footerDetail
	footerFilter
	footerConfirm
	footerHelp
	footerOverlay
	footerPreview // the reminder preview, asking
	footerView    // a view that scrolls and closes
)

func (m *Model) footerMode() footerMode {
	switch o := m.overlay.(type) {
	case *confirmOverlay:
		return footerConfirm
	case *helpOverlay:
		return footerHelp
	case *previewOverlay:
		if o.onYes == nil {
			return footerHelp
		}
		if lines, h := previewSample(&m.c, o); len(lines) <= h {
			return footerConfirm // nothing to scroll
		}
		return footerPreview
	case *funnelOverlay:
		return footerView
	case nil:
	default:
		return footerOverlay
	}
	switch {
	case m.filterOn:
		return footerFilter
	case m.detailOpen:
		return footerDetail
	}
	return footerTable
}

// renderFooter is the key hints. "? help" is pinned at the right and the
// other hints fill the rest, so it never falls off a narrow terminal.
func renderFooter(c *Context, mode footerMode, w int) string {
	s, ic := c.Styles, c.Styles.Icons
	hint := func(k, d string) string { return s.FooterKey.Render(k) + " " + s.FooterDesc.Render(d) }
	var items []string
	switch mode {
	case footerFilter:
		items = []string{hint("enter", "keep filter"), hint("esc", "clear"), hint("↑/↓", "move")}
	case footerConfirm:
		items = []string{hint("y", "yes"), hint("n/esc", "no"), hint("tab", "switch"), hint("enter", "choose")}
	case footerPreview:
		items = []string{hint("y", "send"), hint("n/esc", "no"), hint("j/k", "scroll"), hint("tab", "switch"), hint("enter", "choose")}
	case footerHelp:
		items = []string{hint("esc", "close")}
	case footerView:
		items = []string{hint("j/k", "scroll"), hint("esc", "close")}
	case footerOverlay:
		items = []string{hint("enter", "run"), hint("↑/↓", "choose"), hint("esc", "close")}
	default:
		for _, b := range c.Keys.ShortHelp() {
			switch {
			case !b.Enabled():
			case mode == footerDetail && b.Help().Desc == "open":
				items = append(items, hint(helpOf(c.Keys.Back), "close"))
			default:
				items = append(items, hint(b.Help().Key, b.Help().Desc))
			}
		}
	}
	pinned := ""
	if mode == footerTable || mode == footerDetail {
		if c.Keys.Help.Enabled() {
			pinned = hint(c.Keys.Help.Help().Key, "help")
		}
	}
	room := w - lipgloss.Width(pinned) - 1
	var b strings.Builder
	used := 0
	for _, it := range items {
		iw := lipgloss.Width(it)
		if used > 0 {
			iw += 2
		}
		if used+iw > room {
			break
		}
		if used > 0 {
			b.WriteString("  ")
		}
		b.WriteString(it)
		used += iw
	}
	return fit(b.String(), room, ic.Ellipsis) + " " + pinned
}

func helpOf(b key.Binding) string { return b.Help().Key }
