package textfmt

import (
	"testing"
	"time"
)

func TestPlural(t *testing.T) {
	for n, want := range map[int]string{0: "0 users", 1: "1 user", 2: "2 users"} {
		if got := Plural(n, "user", "users"); got != want {
			t.Errorf("Plural(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestPercentRoundsHalfUpAndSurvivesNothing(t *testing.T) {
	for _, c := range []struct{ n, of, want int }{{1, 2, 50}, {1, 3, 33}, {2, 3, 67}, {1, 8, 13}, {5, 0, 0}, {3, 3, 100}} {
		if got := Percent(c.n, c.of); got != c.want {
			t.Errorf("Percent(%d, %d) = %d, want %d", c.n, c.of, got, c.want)
		}
	}
}

func TestShareNeverRoundsSomethingToNothingOrAllButOneToAll(t *testing.T) {
	for _, c := range []struct {
		n, of int
		want  string
	}{
		{0, 0, "-"}, {0, 10, "0%"}, {1, 2, "50%"}, {2, 3, "67%"}, {10, 10, "100%"},
		{1, 100, "1%"}, {1, 101, "<1%"}, {1, 150, "<1%"}, {1, 1000, "<1%"}, {3, 200, "2%"},
		{99, 100, "99%"}, {149, 150, ">99%"}, {199, 200, ">99%"}, {999, 1000, ">99%"},
	} {
		if got := Share(c.n, c.of); got != c.want {
			t.Errorf("Share(%d, %d) = %q, want %q", c.n, c.of, got, c.want)
		}
	}
}

func TestAgeSaysTheLargestWholeUnit(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want string
	}{
		{-time.Second, "0s"}, {0, "now"}, {42 * time.Second, "42s"}, {12*time.Minute + 59*time.Second, "12m"},
		{5 * time.Hour, "5h"}, {47 * time.Hour, "47h"}, {48 * time.Hour, "2d"}, {30 * 24 * time.Hour, "30d"},
	} {
		if got := Age(c.d); got != c.want {
			t.Errorf("Age(%v) = %q, want %q", c.d, got, c.want)
		}
	}
}

func TestDash(t *testing.T) {
	if Dash("") != "-" || Dash("Tartan Bank") != "Tartan Bank" {
		t.Error("Dash stands in for nothing only")
	}
}

func TestSafeShowsWhatWouldDriveTheTerminal(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"Ana Silva", "Ana Silva"},
		{"São Paulo – 銀行", "São Paulo – 銀行"},
		{"evil\x1b]52;c;aGk=\x07name", `evil\x1b]52;c;aGk=\x07name`},
		{"\x1b[2Jclear", `\x1b[2Jclear`},
		{"two\nlines\tand tab\r", `two\x0alines\x09and tab\x0d`},
		{"nul\x00byte", `nul\x00byte`},
		{"c1 \u009b31m", `c1 \x9b31m`},
		{"bidi \u202eevil", `bidi \u202eevil`},
		{"latin-1 \xe9t\xe9", `latin-1 \xe9t\xe9`},
	} {
		if got := Safe(c.in); got != c.want {
			t.Errorf("Safe(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestSafeLinesKeepsTheLines(t *testing.T) {
	if got := SafeLines("line 3: bad\nline 9: \x1b[2J"); got != "line 3: bad\nline 9: \\x1b[2J" {
		t.Errorf("SafeLines = %q", got)
	}
}

// TestTruncateEndsEveryCutWithTheEllipsis: text that does not fit is cut
// to the width in cells and ends with the tail; a wide rune is not split,
// styles take no room, and text that fits is left alone.
func TestTruncateEndsEveryCutWithTheEllipsis(t *testing.T) {
	for _, c := range []struct {
		in   string
		w    int
		want string
	}{
		{"First Platypus Bank", 19, "First Platypus Bank"},
		{"First Platypus Bank", 12, "First Platy…"},
		{"São Paulo", 4, "São…"},
		{"銀行の支店", 5, "銀行…"},                            // 2+2+1: the third wide rune would not fit with the tail
		{"ok 👍 then", 4, "ok…"},                        // the emoji does not fit: the cut ends at the word
		{"First Platypus Bank", 16, "First Platypus…"}, // never "First Platypus …"
		{"\x1b[1mbold text\x1b[m", 6, "\x1b[1mbold…\x1b[m"},
		{"anything", 1, "…"},
		{"anything", 0, ""},
	} {
		got := Truncate(c.in, c.w, Ellipsis)
		if got != c.want {
			t.Errorf("Truncate(%q, %d) = %q, want %q", c.in, c.w, got, c.want)
		}
		if Width(got) > c.w {
			t.Errorf("Truncate(%q, %d) = %q takes %d cells", c.in, c.w, got, Width(got))
		}
	}
}
