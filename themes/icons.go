package themes

import "charm.land/lipgloss/v2"

// Icons are the glyphs the dashboard draws. Every one that carries meaning
// has an ASCII fallback, and none relies on colour to be read.
type Icons struct {
	Cursor   string // the selected row's marker
	Mark     string // a marked row
	OK, Fail string // last result in the status line
	Warn     string // a warning with a deadline
	Sep      string // between items of a line
	Ellipsis string // cut text
	Left     string // more tabs to the left
	Right    string // more tabs to the right
	Asc      string // sort direction
	Desc     string
	Bar      string // breakdown bars
	Spark    []string
	Spinner  []string
	Border   lipgloss.Border
}

// UnicodeIcons are the default glyphs.
func UnicodeIcons() Icons {
	return Icons{
		Cursor: "›", Mark: "●", OK: "✓", Fail: "✗", Warn: "!", Sep: "·", Ellipsis: "…",
		Left: "‹", Right: "›", Asc: "↑", Desc: "↓", Bar: "█",
		Spark:   []string{"▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"},
		Spinner: []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"},
		Border:  lipgloss.RoundedBorder(),
	}
}

// ASCIIIcons are fallbacks for terminals or fonts without those glyphs.
func ASCIIIcons() Icons {
	return Icons{
		Cursor: ">", Mark: "*", OK: "+", Fail: "x", Warn: "!", Sep: "|", Ellipsis: "~",
		Left: "<", Right: ">", Asc: "^", Desc: "v", Bar: "#",
		Spark:   []string{"_", ".", "-", "~", "=", "+", "*", "#"},
		Spinner: []string{"|", "/", "-", "\\"},
		Border:  lipgloss.ASCIIBorder(),
	}
}
