package ui

import (
	"fmt"
	"strings"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
)

// View implements tea.Model.
func (m *Model) View() tea.View {
	v := tea.NewView(m.render())
	v.AltScreen = true
	v.WindowTitle = "relink"
	if len(m.tasks) > 0 {
		v.ProgressBar = tea.NewProgressBar(tea.ProgressBarIndeterminate, 0)
	}
	return v
}

// render draws the whole screen: header with tabs, view bar, table and
// pane, status line, footer; an overlay on top.
func (m *Model) render() string {
	c := &m.c
	if c.Width == 0 || c.Height == 0 || m.quitting {
		return ""
	}
	if m.lay.tooSmall {
		return renderTooSmall(c)
	}
	l, style := m.lay, m.styleKey()
	table := m.memo.table.draw(c, style, m.tableData(), l.tableW, l.tableH) // renderTable(c, m.tableData(), l.tableW, l.tableH)
	var pane string
	switch {
	case m.detailOpen:
		conn, ok := m.selected()
		pane = renderDetail(c, m.detailData(conn, ok), l.paneW, l.paneH)
	default:
		d := m.insightsData()
		pane = m.memo.insights.draw(style, l.paneW, l.paneH, d, func() string { return renderInsights(c, d, l.paneW, l.paneH) })
	}
	var main string
	if l.paneBelow {
		main = table + "\n" + pane
	} else {
		main = m.memo.beside(table, pane) // lipgloss.JoinHorizontal(lipgloss.Top, table, " ", pane)
	}
	tabs, gi := m.groups, m.gi
	if m.everyone { // the lookup of anyone shows as a tab of its own while open
		tabs, gi = append(append([]group(nil), m.groups...), m.group()), len(m.groups)
	}
	mode := m.footerMode()
	screen := strings.Join([]string{
		m.memo.tabs.draw(style, c.Width, 0, m.tabsInput(tabs, gi), func() string { return renderTabs(c, tabs, gi, m.opts.Operator, c.Width) }),
		m.renderViewBar(),
		main,
		renderStatus(c, m.statusData(), c.Width),
		m.memo.footer.draw(style, c.Width, 0, footerIn{mode: mode, keys: c.Keys}, func() string { return renderFooter(c, mode, c.Width) }),
	}, "\n")
	if m.overlay != nil {
		screen = place(screen, m.overlay.view(c), c.Width, c.Height)
	}
	if m.opts.ASCII {
		screen = asciiText.Replace(screen)
	}
	return screen
}

// asciiText replaces the glyphs of running text that Icons does not cover,
// one cell for one cell.
var asciiText = strings.NewReplacer("·", "-", "…", "~", "↑", "^", "↓", "v", "←", "<", "→", ">", "│", "|")

// place draws box centred over base.
func place(base, box string, w, h int) string {
	bw, bh := lipgloss.Size(box)
	x, y := max(0, (w-bw)/2), max(0, (h-bh)/2)
	canvas := lipgloss.NewCanvas(w, h)
	canvas.Compose(lipgloss.NewCompositor(lipgloss.NewLayer(base), lipgloss.NewLayer(box).X(x).Y(y).Z(1)))
	return canvas.Render()
}

func renderTooSmall(c *Context) string {
	s := c.Styles
	msg := s.Error.Render(fmt.Sprintf("terminal too small (need %dx%d)", minWidth, minHeight)) + "\n" +
		s.Subtle.Render(fmt.Sprintf("now %dx%d: enlarge the window, or press q to quit", c.Width, c.Height))
	return clip(lipgloss.Place(c.Width, c.Height, lipgloss.Center, lipgloss.Center, msg), c.Width, c.Height)
}

// renderTabs is the header: the app's name, the group tabs with counts
// (scrolled to keep the current one visible) and the operator.
func renderTabs(c *Context, groups []group, gi int, operator string, w int) string {
	s, ic := c.Styles, c.Styles.Icons
	title := s.Title.Render("relink") + " "
	right := ""
	if operator != "" {
		right = " " + s.Subtle.Render(operator)
	}
	if c.ReadOnly {
		right = " " + s.Warning.Render("read-only") + right
	}
	avail := w - lipgloss.Width(title) - lipgloss.Width(right)
	sep := s.Subtle.Render(" │ ")
	labels := make([]string, len(groups))
	for i, g := range groups {
		var text string
		if i == gi {
			text = s.TabActive.Render(g.label()) + " " + s.Bold.Render(fmt.Sprint(g.count))
		} else {
			text = s.TabInactive.Render(g.label()) + " " + s.TabCount.Render(fmt.Sprint(g.count))
		}
		labels[i] = text
	}
	from, to := tabWindow(labels, gi, avail, lipgloss.Width(sep))
	var b strings.Builder
	if from > 0 {
		b.WriteString(s.Subtle.Render(ic.Left + " "))
	}
	b.WriteString(strings.Join(labels[from:to], sep))
	if to < len(labels) {
		b.WriteString(s.Subtle.Render(" " + ic.Right))
	}
	return fit(title+fit(b.String(), avail, ic.Ellipsis)+right, w, ic.Ellipsis)
}

// tabWindow picks the tabs [from, to) around gi that fit in w cells,
// leaving room for the scroll markers.
func tabWindow(labels []string, gi, w, sepW int) (int, int) {
	width := func(from, to int) int {
		n := 0
		for i := from; i < to; i++ {
			n += lipgloss.Width(labels[i])
		}
		n += sepW * max(0, to-from-1)
		if from > 0 {
			n += 2
		}
		if to < len(labels) {
			n += 2
		}
		return n
	}
	from, to := gi, gi+1
	for {
		grown := false
		if to < len(labels) && width(from, to+1) <= w {
			to++
			grown = true
		}
		if from > 0 && width(from-1, to) <= w {
			from--
			grown = true
		}
		if !grown {
			return from, to
		}
	}
}
