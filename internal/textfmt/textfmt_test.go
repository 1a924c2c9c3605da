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
