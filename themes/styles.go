package themes

import (
	"image/color"

	"charm.land/lipgloss/v2"

	"github.com/relink/relink/health"
)

// Styles are every style the dashboard draws with, all derived from one
// palette. Meaning never rests on colour alone: the selected row also gets a
// marker and bold (reverse video when the palette has no selection colour),
// the active tab is bold and underlined, results carry ✓/✗.
type Styles struct {
	Dark  bool
	Icons Icons

	Text, Subtle, Accent, Bold lipgloss.Style

	Title       lipgloss.Style // the app name in the header
	TabActive   lipgloss.Style
	TabInactive lipgloss.Style
	TabCount    lipgloss.Style

	TableHeader lipgloss.Style
	Row         lipgloss.Style
	RowSelected lipgloss.Style
	MarkGlyph   lipgloss.Style

	Pane      lipgloss.Style // a bordered pane (border and its colour)
	Rule      lipgloss.Style // border-coloured text: rules, hand-drawn border parts
	PaneTitle lipgloss.Style
	Label     lipgloss.Style
	Chart     lipgloss.Style

	Error, Warning, Success, Info lipgloss.Style

	FooterKey  lipgloss.Style
	FooterDesc lipgloss.Style

	Dialog       lipgloss.Style
	DialogTitle  lipgloss.Style
	Button       lipgloss.Style
	ButtonActive lipgloss.Style

	InputPrompt lipgloss.Style
	InputText   lipgloss.Style

	severity [5]lipgloss.Style // critical, high, medium, low, transient
}

// Build derives the styles from p for a dark (isDark) or light background.
// A token left empty in p means the terminal's default colour; Build of an
// empty Palette is a colourless theme that stays readable (NO_COLOR).
func Build(p Palette, isDark bool) Styles {
	pick := func(pr Pair) color.Color {
		v := pr.Light
		if isDark {
			v = pr.Dark
		}
		if v == "" {
			return lipgloss.NoColor{}
		}
		return lipgloss.Color(v)
	}
	fg := func(pr Pair) lipgloss.Style { return lipgloss.NewStyle().Foreground(pick(pr)) }

	s := Styles{Dark: isDark, Icons: UnicodeIcons()}
	s.Text = fg(p.Fg)
	s.Subtle = fg(p.Subtle)
	s.Accent = fg(p.Accent)
	s.Bold = s.Text.Bold(true)

	s.Title = s.Accent.Bold(true)
	s.TabActive = s.Accent.Bold(true).Underline(true)
	s.TabInactive = s.Subtle
	s.TabCount = s.Subtle

	s.TableHeader = s.Subtle.Bold(true)
	s.Row = s.Text
	if p.SelectionBg.Light == "" && p.SelectionBg.Dark == "" {
		s.RowSelected = lipgloss.NewStyle().Reverse(true).Bold(true)
	} else {
		s.RowSelected = fg(p.SelectionFg).Background(pick(p.SelectionBg)).Bold(true)
	}
	s.MarkGlyph = fg(p.Marked).Bold(true)

	s.Pane = lipgloss.NewStyle().Border(s.Icons.Border).BorderForeground(pick(p.Border))
	s.Rule = fg(p.Border)
	s.PaneTitle = s.Accent.Bold(true)
	s.Label = s.Subtle
	s.Chart = fg(p.Chart)

	s.Error = fg(p.Error).Bold(true)
	s.Warning = fg(p.Warning)
	s.Success = fg(p.Success)
	s.Info = fg(p.Info)

	s.FooterKey = s.Accent.Bold(true)
	s.FooterDesc = s.Subtle

	s.Dialog = lipgloss.NewStyle().Border(s.Icons.Border).BorderForeground(pick(p.Accent)).Padding(0, 2)
	s.DialogTitle = s.Text.Bold(true)
	s.Button = s.Subtle.Padding(0, 1)
	s.ButtonActive = s.RowSelected.Padding(0, 1)

	s.InputPrompt = s.Accent.Bold(true)
	s.InputText = s.Text

	s.severity = [5]lipgloss.Style{
		fg(p.Critical).Bold(true), fg(p.High), fg(p.Medium), fg(p.Low), fg(p.Transient),
	}
	return s
}

// WithIcons returns s drawing with icons (for example ASCIIIcons), borders included.
func (s Styles) WithIcons(ic Icons) Styles {
	s.Icons = ic
	s.Pane = s.Pane.Border(ic.Border)
	s.Dialog = s.Dialog.Border(ic.Border)
	return s
}

// Category is the style of a category's name, by its severity.
func (s Styles) Category(c health.Category) lipgloss.Style {
	if c == health.Healthy {
		return s.Success
	}
	if !c.Failing() {
		return s.Subtle
	}
	info := c.Info()
	switch {
	case info.Transient:
		return s.severity[4]
	case info.Rank >= 85:
		return s.severity[0]
	case info.Rank >= 75:
		return s.severity[1]
	case info.Rank >= 55:
		return s.severity[2]
	}
	return s.severity[3]
}
