package cli

import (
	"fmt"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/relink/relink/backend"
	"github.com/relink/relink/provider"
)

// progressLine redraws one line of progress on stderr when it is a
// terminal, at most every 100 ms, and stays quiet otherwise. Sync and
// remind both draw theirs with it.
type progressLine struct {
	out   *os.File // nil: not a terminal
	start time.Time
	last  time.Time
}

func (a *app) progressLine() *progressLine {
	p := &progressLine{start: time.Now()}
	if f, ok := a.stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.out = f
	}
	return p
}

// due reports whether a redraw is wanted now (always when final).
func (p *progressLine) due(final bool) bool {
	if p.out == nil || (!final && time.Since(p.last) < 100*time.Millisecond) {
		return false
	}
	p.last = time.Now()
	return true
}

func (p *progressLine) draw(line string) { fmt.Fprintf(p.out, "\r\033[K%s", line) }

// done clears the line.
func (p *progressLine) done() {
	if p.out != nil {
		fmt.Fprint(p.out, "\r\033[K")
	}
}

// rateAndETA is " (45/s)"-style speed of done items since since, and the
// time left to reach total at that speed ("" when it cannot be told).
func rateAndETA(done, total int, since time.Time) (rate float64, eta string) {
	if el := time.Since(since).Seconds(); el > 0 {
		rate = float64(done) / el
	}
	if rate > 0 && total > 0 && done < total {
		eta = (time.Duration(float64(total-done)/rate) * time.Second).Round(time.Second).String()
	}
	return rate, eta
}

// syncProgress is "syncing: plaid 120/3000 eta 40s (75/s) · belvo 800 (400/s)".
type syncProgress struct {
	line  *progressLine
	state map[string]backend.SyncProgress
}

func (a *app) syncProgress() *syncProgress {
	return &syncProgress{line: a.progressLine(), state: map[string]backend.SyncProgress{}}
}

func (p *syncProgress) update(s backend.SyncProgress) {
	if p.line.out == nil {
		return
	}
	p.state[s.Provider] = s
	if !p.line.due(false) {
		return
	}
	var parts []string
	for _, name := range provider.Names() {
		s, ok := p.state[name]
		if !ok {
			continue
		}
		rate, eta := rateAndETA(s.Seen, s.Total, s.Started)
		part := fmt.Sprintf("%s %d", name, s.Seen)
		if s.Total > 0 {
			part += fmt.Sprintf("/%d", s.Total)
			if eta != "" {
				part += " eta " + eta
			}
		}
		part += fmt.Sprintf(" (%.0f/s)", rate)
		parts = append(parts, part)
	}
	p.line.draw("syncing: " + strings.Join(parts, " · "))
}

func (p *syncProgress) done() { p.line.done() }

// remindProgress is "[███░░░] sending reminders: 120/3000 (45/s) eta 1m4s".
type remindProgress struct{ line *progressLine }

func (a *app) remindProgress() *remindProgress { return &remindProgress{line: a.progressLine()} }

func (p *remindProgress) update(done, total int) {
	if !p.line.due(done >= total) {
		return
	}
	rate, eta := rateAndETA(done, total, p.line.start)
	line := fmt.Sprintf("sending reminders: %d/%d (%.0f/s)", done, total, rate)
	if eta != "" {
		line += " eta " + eta
	}
	const width = 30
	if total > 0 {
		filled := width * done / total
		line = "[" + strings.Repeat("█", filled) + strings.Repeat("░", width-filled) + "] " + line
	}
	p.line.draw(line)
}

func (p *remindProgress) done() { p.line.done() }
