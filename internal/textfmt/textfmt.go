// Package textfmt holds the small wordings the command line and the
// dashboard share, so both say "3 users", "12m ago" and "50%" alike, and
// cut text alike: every cut ends with an ellipsis (Truncate).
package textfmt

import (
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/charmbracelet/x/ansi"
)

// Plural is "1 user", "12 users".
func Plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// Percent is n's share of of in whole percent, rounded half up; 0 when of is 0.
func Percent(n, of int) int {
	if of == 0 {
		return 0
	}
	return (100*n + of/2) / of
}

// Share is n's share of of as the dashboard and relink report show it:
// whole percent rounded half up ("42%"), except that a share above nothing
// but below 1% reads "<1%" (never "0%" or "1%") and one above 99% but short
// of everything reads ">99%" (never "100%"); "-" when of is 0.
func Share(n, of int) string {
	switch {
	case of == 0:
		return "-"
	case n > 0 && 100*n < of:
		return "<1%"
	case n < of && 100*n > 99*of:
		return ">99%"
	}
	return fmt.Sprintf("%d%%", Percent(n, of))
}

// Age is a short duration: "now", "42s", "12m", "5h" (under two days), "3d".
func Age(d time.Duration) string {
	switch {
	case d < 0:
		return "0s"
	case d < time.Second:
		return "now"
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d/time.Hour))
	}
	return fmt.Sprintf("%dd", int(d/(24*time.Hour)))
}

// Dash is s, or "-" for nothing.
func Dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// Safe makes text that came from outside (the registry, a provider's
// answer, a webhook) harmless on a terminal: control characters (escape
// sequences such as OSC 52 or ESC[2J start with one), tabs and newlines,
// Unicode bidirectional overrides and invalid UTF-8 are shown as Go-style
// escapes (\x1b, \u202e) instead of being interpreted, so the operator sees
// that they are there and nothing rewrites the screen or the clipboard.
func Safe(s string) string {
	if isSafe(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case unsafeRune(r) && r < 0x100:
			fmt.Fprintf(&b, `\x%02x`, r)
		case unsafeRune(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
		i += size
	}
	return b.String()
}

func isSafe(s string) bool {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && size <= 1) || unsafeRune(r) {
			return false
		}
		i += size
	}
	return true
}

// unsafeRune: C0 and C1 controls, DEL, and the bidirectional embeddings,
// overrides and isolates that can make text read other than it is.
func unsafeRune(r rune) bool {
	return unicode.IsControl(r) || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069)
}

// SafeLines is Safe for text of several lines: the newlines stay.
func SafeLines(s string) string {
	if isSafe(strings.ReplaceAll(s, "\n", "")) {
		return s
	}
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = Safe(l)
	}
	return strings.Join(lines, "\n")
}

// Ellipsis ends every cut.
const Ellipsis = "…"

// Truncate cuts s to at most w terminal cells, the cut ending with tail
// (Ellipsis, or the ASCII mode's "~"), so that cut text never reads as
// whole. Widths are in cells: a wide rune or an emoji counts two and is
// never split; styles (ANSI sequences) in s are kept and take no room. A
// string that fits is returned as it is; a cut never leaves a space before
// the tail.
func Truncate(s string, w int, tail string) string {
	if w <= 0 {
		return ""
	}
	if ansi.StringWidth(s) <= w {
		return s
	}
	out := ansi.Truncate(s, w, tail)
	// A cut between words ends at the word, not at a space before the
	// tail: "First Platypus…", never "First Platypus …".
	kept := strings.TrimSuffix(ansi.Strip(out), tail)
	if n := len(kept) - len(strings.TrimRight(kept, " ")); n > 0 && n < len(kept) {
		out = ansi.Truncate(s, w-n, tail)
	}
	return out
}

// Width is the cells s takes on a terminal, its styles left out.
func Width(s string) int { return ansi.StringWidth(s) }
