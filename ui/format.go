package ui

import (
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/relink/relink/backend"
	"github.com/relink/relink/internal/textfmt"
	"github.com/relink/relink/store"
)

// agoText is "3m ago", or "never" for no time.
func agoText(t *time.Time, now time.Time) string {
	if t == nil || t.IsZero() {
		return "never"
	}
	a := textfmt.Age(now.Sub(*t))
	if a == "now" {
		return "just now"
	}
	return a + " ago"
}

// untilText is the time left before a deadline: "29m", or "expired".
func untilText(d time.Duration) string {
	if d <= 0 {
		return "expired"
	}
	return textfmt.Age(d)
}

// leftText is a link's time left: "29m left", "expired", "no expiry".
func leftText(l backend.Link, now time.Time) string {
	if l.ExpiresAt.IsZero() {
		return "no expiry"
	}
	if d := l.ExpiresAt.Sub(now); d >= time.Minute {
		return textfmt.Age(d.Round(time.Minute)) + " left" // a link minted a moment ago has its full 30m
	} else if d > 0 {
		return textfmt.Age(d) + " left"
	}
	return "expired"
}

// expiresText is a link's time left in words, for the status line:
// "expires in 29 min", "expires in 7 days", "expired", "no expiry". Like
// leftText it counts whole minutes, then whole units of those.
func expiresText(l backend.Link, now time.Time) string {
	if l.ExpiresAt.IsZero() {
		return "no expiry"
	}
	d := l.ExpiresAt.Sub(now)
	switch {
	case d <= 0:
		return "expired"
	case d < time.Minute:
		return "expires in under a minute"
	}
	d = d.Round(time.Minute)
	switch {
	case d < 90*time.Minute:
		return fmt.Sprintf("expires in %d min", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("expires in %d h", int(d/time.Hour))
	}
	return fmt.Sprintf("expires in %d days", int(d/(24*time.Hour)))
}

// displayName is how a connection's user is named on screen.
func displayName(c store.Connection) string {
	switch {
	case c.Name != "":
		return c.Name
	case c.UserRef != "":
		return c.UserRef
	}
	return c.Ref()
}

// fit cuts s (which may hold styles) to w cells, the cut ending with tail
// (the icons' ellipsis; the ellipsis when tail is ""), and pads it with
// spaces to exactly w. Every cut on screen goes through it, or through
// textfmt.Truncate, which it uses: no cut text reads as whole.
func fit(s string, w int, tail string) string {
	if w <= 0 {
		return ""
	}
	if tail == "" {
		tail = textfmt.Ellipsis
	}
	s = textfmt.Truncate(s, w, tail)
	return s + strings.Repeat(" ", max(0, w-ansi.StringWidth(s)))
}

// clip cuts every line of s to w cells, with the ellipsis, and keeps at
// most h lines, the last of them ending with the ellipsis when more were
// left out.
func clip(s string, w, h int) string {
	lines := strings.Split(s, "\n")
	more := len(lines) > h
	if more {
		lines = lines[:max(0, h)]
	}
	for i, l := range lines {
		lines[i] = textfmt.Truncate(l, w, textfmt.Ellipsis)
	}
	if n := len(lines); more && n > 0 && !strings.HasSuffix(ansi.Strip(lines[n-1]), textfmt.Ellipsis) {
		lines[n-1] = textfmt.Truncate(strings.TrimRight(lines[n-1], " ")+textfmt.Ellipsis, w, textfmt.Ellipsis)
	}
	return strings.Join(lines, "\n")
}

// box pads or cuts s to exactly w×h cells, a cut line ending with the ellipsis.
func box(s string, w, h int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > h {
		lines = lines[:h]
	}
	for len(lines) < h {
		lines = append(lines, "")
	}
	for i, l := range lines {
		lines[i] = fit(l, w, "")
	}
	return strings.Join(lines, "\n")
}

// dateText is an absolute time in the clock's zone.
func dateText(t time.Time, now time.Time) string {
	return t.In(now.Location()).Format("2006-01-02 15:04")
}
