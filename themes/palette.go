// Package themes turns semantic palettes into the dashboard's styles. A
// palette names colours by what they mean (text, subtle text, accent,
// selection, error, the severities of the taxonomy…), each with a value for
// light and one for dark terminal backgrounds; Build picks one side and
// derives every style from the tokens. The built-in themes are embedded TOML
// files; a user theme may set only some colours and inherits the rest.
package themes

import (
	"fmt"
	"strconv"
	"strings"
)

// Pair is one colour token's value on light and on dark backgrounds: "#rrggbb",
// "#rgb", an ANSI colour number "0"–"255", or "" for the terminal's default.
type Pair struct {
	Light, Dark string
}

// Palette is a theme's semantic colours.
type Palette struct {
	Name string

	Fg          Pair // body text
	Subtle      Pair // secondary text: hints, ages, labels
	Accent      Pair // active tab, titles, keys in the footer
	Border      Pair // pane borders and separators
	SelectionFg Pair // the selected row's text
	SelectionBg Pair // the selected row's background; "" = reverse video
	Marked      Pair // the mark glyph of marked rows
	Error       Pair // failures in the status line
	Warning     Pair // stale data, warnings with a deadline
	Success     Pair // ✓ results
	Info        Pair // running tasks, links
	Chart       Pair // the new-failures sparkline and breakdown bars

	// Severities of the taxonomy's categories (TAXONOMY.md §2 rank).
	Critical  Pair // rank ≥ 85: permission revoked, account locked
	High      Pair // rank 75–84: password expired, login required, consent expired
	Medium    Pair // rank 55–74: MFA, action at institution, consent insufficient, incomplete
	Low       Pair // rank < 55: not found, unsupported, integration error, other
	Transient Pair // outages and throttles that pass by themselves
}

// token names one palette field in theme files.
type token struct {
	name string
	get  func(*Palette) *Pair
}

// tokens lists the keys a theme file may set, in the order the docs show them.
var tokens = []token{
	{"fg", func(p *Palette) *Pair { return &p.Fg }},
	{"subtle", func(p *Palette) *Pair { return &p.Subtle }},
	{"accent", func(p *Palette) *Pair { return &p.Accent }},
	{"border", func(p *Palette) *Pair { return &p.Border }},
	{"selection_fg", func(p *Palette) *Pair { return &p.SelectionFg }},
	{"selection_bg", func(p *Palette) *Pair { return &p.SelectionBg }},
	{"marked", func(p *Palette) *Pair { return &p.Marked }},
	{"error", func(p *Palette) *Pair { return &p.Error }},
	{"warning", func(p *Palette) *Pair { return &p.Warning }},
	{"success", func(p *Palette) *Pair { return &p.Success }},
	{"info", func(p *Palette) *Pair { return &p.Info }},
	{"chart", func(p *Palette) *Pair { return &p.Chart }},
	{"critical", func(p *Palette) *Pair { return &p.Critical }},
	{"high", func(p *Palette) *Pair { return &p.High }},
	{"medium", func(p *Palette) *Pair { return &p.Medium }},
	{"low", func(p *Palette) *Pair { return &p.Low }},
	{"transient", func(p *Palette) *Pair { return &p.Transient }},
}

// TokenNames lists the colour keys a theme file may set.
func TokenNames() []string {
	out := make([]string, len(tokens))
	for i, t := range tokens {
		out[i] = t.name
	}
	return out
}

func lookupToken(name string) (token, bool) {
	for _, t := range tokens {
		if t.name == name {
			return t, true
		}
	}
	return token{}, false
}

// checkColour validates a colour value as a theme file writes it.
func checkColour(v string) error {
	switch {
	case v == "" || v == "none":
		return nil
	case strings.HasPrefix(v, "#"):
		hex := v[1:]
		if len(hex) != 3 && len(hex) != 6 {
			break
		}
		if _, err := strconv.ParseUint(hex, 16, 32); err == nil {
			return nil
		}
	default:
		if n, err := strconv.Atoi(v); err == nil && n >= 0 && n <= 255 {
			return nil
		}
	}
	return fmt.Errorf("%q is not a colour (want \"#rrggbb\", \"#rgb\", an ANSI number 0-255, or \"none\")", v)
}
