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
		if lines, h := helpLines(&m.c); len(lines) > h {
			return footerView // it scrolls
		}
		return footerHelp
	case *previewOverlay:
		if !o.asks() {
			return footerHelp
		}
		if lines, h := previewSample(&m.c, o); len(lines) <= h {
			return footerConfirm // nothing to scroll
		}
		return footerPreview
	case *funnelOverlay:
		return footerView
	case *logOverlay:
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
	d := c.Keys.Dialog
	var items []string
	switch mode {
	case footerFilter:
		items = []string{hint("enter", "keep filter"), hint("esc", "clear"), hint("↑/↓", "move"), hint("tab", "any state")}
	case footerConfirm:
		items = dialogHints(hint, [2]string{firstKey(d.Yes), "yes"}, [2]string{keysHint(d.No, d.Close), "no"},
			[2]string{firstKey(d.Toggle), "switch"}, [2]string{firstKey(d.Choose), "choose"})
	case footerPreview:
		items = dialogHints(hint, [2]string{firstKey(d.Yes), "send"}, [2]string{keysHint(d.No, d.Close), "no"},
			[2]string{keysHint(d.ScrollDown, d.ScrollUp), "scroll"}, [2]string{firstKey(d.Toggle), "switch"},
			[2]string{firstKey(d.Choose), "choose"})
	case footerHelp:
		items = dialogHints(hint, [2]string{firstKey(d.Close), "close"})
	case footerView:
		items = dialogHints(hint, [2]string{keysHint(d.ScrollDown, d.ScrollUp), "scroll"}, [2]string{firstKey(d.Close), "close"})
	case footerOverlay: // the palette, where keys that type text type it
		items = dialogHints(hint, [2]string{firstKey(d.Choose), "run"},
			[2]string{keysHint(namedKeys(d.ScrollUp), namedKeys(d.ScrollDown)), "choose"}, [2]string{firstKey(d.Close), "close"})
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

// dialogHints are the footer items of pairs of keys and what they do; a
// pair without keys is left out.
func dialogHints(hint func(k, d string) string, pairs ...[2]string) []string {
	var out []string
	for _, p := range pairs {
		if p[0] != "" {
			out = append(out, hint(p[0], p[1]))
		}
	}
	return out
}

// namedKeys is b with only its keys that do not type text, for the
// palette, whose query takes those: of k, up, ctrl+p it keeps up, ctrl+p.
func namedKeys(b key.Binding) key.Binding {
	var keys []string
	for _, k := range b.Keys() {
		if len([]rune(k)) > 1 && k != "space" {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return key.NewBinding(key.WithDisabled())
	}
	nb := key.NewBinding(key.WithKeys(keys...))
	nb.SetEnabled(b.Enabled())
	return nb
}
