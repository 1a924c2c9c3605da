package ui

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/relink/relink/internal/textfmt"
)

// The messages log: every result, error and refusal the status line
// showed, whole, newest first, as lazygit's command log or k9s's :events.
// The status line shows a message until it clears itself and cuts it at
// the edge; the log keeps it, in memory only, for this session.

// Bounds of the log: it keeps the newest logLimit messages, each at most
// logTextLimit bytes.
const (
	logLimit     = 200
	logTextLimit = 8 << 10
)

// logEntry is one message of the log; the same message again, straight
// after, counts as a repeat of it.
type logEntry struct {
	at      time.Time // the last time it was said
	ok      bool
	text    string // made harmless on a terminal (textfmt.SafeLines), never a credential
	repeats int    // how many more times it was said in a row
}

// messageLog is the model's messages, oldest first, at most logLimit.
type messageLog struct {
	entries []logEntry
	version int // counts the changes, for wrapped
	wrapped struct {
		version, width int
		rows           []logRow
	}
}

// logRow is one line of the log as shown: a part of an entry's text
// wrapped at the width, the first part under the entry's time and mark.
type logRow struct {
	entry int // in entries
	first bool
	text  string
}

// add keeps a message said at at.
func (l *messageLog) add(at time.Time, ok bool, text string) {
	l.version++
	if len(text) > logTextLimit {
		cut := logTextLimit
		for cut > 0 && !utf8.RuneStart(text[cut]) {
			cut--
		}
		text = text[:cut] + fmt.Sprintf(" … (%d more bytes not kept)", len(text)-cut)
	}
	if n := len(l.entries); n > 0 && l.entries[n-1].ok == ok && l.entries[n-1].text == text {
		l.entries[n-1].at = at
		l.entries[n-1].repeats++
		return
	}
	if len(l.entries) == logLimit {
		copy(l.entries, l.entries[1:])
		l.entries = l.entries[:logLimit-1]
	}
	l.entries = append(l.entries, logEntry{at: at, ok: ok, text: text})
}

// openLog opens the messages log.
func (m *Model) openLog() tea.Cmd {
	m.overlay = &logOverlay{log: &m.log}
	return nil
}

// logOverlay is the messages log, read live (a message said while it is
// open appears at its top); it scrolls when taller than the screen.
type logOverlay struct {
	log    *messageLog // the Model's
	scroll scroller
}

func (*logOverlay) id() dialogID { return logDialog }

func (o *logOverlay) key(c *Context, k tea.KeyPressMsg) dialogAction {
	if key.Matches(k, c.Keys.Messages) {
		return closeDialog{}
	}
	lines, h := logLines(c, o.log)
	return viewKey(c, k, &o.scroll, len(lines), h)
}

func (o *logOverlay) view(c *Context) string { return renderLog(c, o) }

// logWidth is the width of the log's lines: the screen's, up to a readable 120.
func logWidth(c *Context) int { return max(20, min(120, c.Width-8)) }

// logHeadWidth is the width of a row's head: "15:04:05 ✓ ".
const logHeadWidth = 11

// rows are the log's rows, newest message first, each wrapped at w under
// its time and mark; wrapped once per change of the log or the width, as
// every key and frame of the view asks for them.
func (l *messageLog) rows(w int) []logRow {
	if c := &l.wrapped; c.rows != nil && c.version == l.version && c.width == w {
		return c.rows
	}
	rows := []logRow{}
	room := max(10, w-logHeadWidth)
	for i := len(l.entries) - 1; i >= 0; i-- {
		e := l.entries[i]
		text := e.text
		if e.repeats > 0 {
			text += fmt.Sprintf(" (×%d)", e.repeats+1)
		}
		for j, part := range wrapWords(text, room) {
			rows = append(rows, logRow{entry: i, first: j == 0, text: part})
		}
	}
	l.wrapped.version, l.wrapped.width, l.wrapped.rows = l.version, w, rows
	return rows
}

// logLines are the log's rows and how many show at once.
func logLines(c *Context, l *messageLog) ([]logRow, int) {
	rows := l.rows(logWidth(c))
	fixed := 4 // title, blank … blank, hint
	return rows, max(1, min(max(1, len(rows)), c.Height-4-fixed))
}

// renderRow styles a row of the log.
func renderRow(c *Context, l *messageLog, r logRow) string {
	s, ic := c.Styles, c.Styles.Icons
	if !r.first {
		return strings.Repeat(" ", logHeadWidth) + s.Text.Render(r.text)
	}
	e := l.entries[r.entry]
	mark := s.Success.Render(ic.OK)
	if !e.ok {
		mark = s.Error.Render(ic.Fail)
	}
	head := s.Subtle.Render(e.at.In(c.Now().Location()).Format("15:04:05")) + " " + mark + " "
	return fit(head, logHeadWidth, "") + s.Text.Render(r.text)
}

// renderLog is the messages log, scrolled to where the keys took it; only
// the rows that show are styled.
func renderLog(c *Context, o *logOverlay) string {
	s, ic := c.Styles, c.Styles.Icons
	w := logWidth(c)
	rows, h := logLines(c, o.log)
	n := len(rows)
	title := s.DialogTitle.Render("Messages") + s.Subtle.Render(" · newest first, this session only")
	d := c.Keys.Dialog
	closes := firstKey(d.Close)
	if k := firstKey(c.Keys.Messages); k != "" {
		closes += " or " + k
	}
	hint := hints([2]string{closes, "closes"})
	if n > h {
		hint = hints([2]string{closes, "closes"}, [2]string{keysHint(d.ScrollDown, d.ScrollUp), "scroll"}) +
			" · " + o.scroll.position(n, h)
	}
	out := []string{fit(title, w, ic.Ellipsis), ""}
	if n == 0 {
		out = append(out, s.Subtle.Render(fit("nothing yet: the results, errors and refusals of this session appear here", w, ic.Ellipsis)))
	}
	if from := o.scroll.from(n, h); n > 0 {
		for _, r := range rows[from:min(n, from+h)] {
			out = append(out, renderRow(c, o.log, r))
		}
	}
	out = append(out, "", fit(s.Subtle.Render(hint), w, ic.Ellipsis))
	return s.Dialog.Render(clip(strings.Join(out, "\n"), w, max(1, c.Height-4)))
}

// logHint is what a status message that is not shown whole ends with:
// "L: messages", or "" when the log has no key.
func logHint(c *Context) string {
	if k := firstKey(c.Keys.Messages); k != "" {
		return k + ": messages"
	}
	return ""
}

// cutResult fits the status line's right side rs (the running tasks, then
// the result r, if any) in most cells. When the result is cut at the edge,
// or the messages log holds more of it (r.more), it ends with "… L:
// messages", so the whole can be read; without a result, or without room
// for the hint, it is only cut, with an ellipsis.
func cutResult(c *Context, rs string, most int, r *result) string {
	s, ic := c.Styles, c.Styles.Icons
	cut := lipgloss.Width(rs) > most
	hint := logHint(c)
	if r == nil || hint == "" || (!cut && !r.more) {
		if cut {
			return textfmt.Truncate(rs, most, ic.Ellipsis)
		}
		return rs
	}
	tail := s.Subtle.Render(ic.Ellipsis + " " + hint)
	if room := most - lipgloss.Width(tail) - 1; room >= 10 {
		return textfmt.Truncate(rs, room, "") + " " + tail
	}
	return textfmt.Truncate(rs, most, ic.Ellipsis)
}

// wrapWords wraps plain text at w cells, between words only (a flag such
// as --read-only stays whole), breaking a word longer than w; its own
// newlines stay.
func wrapWords(text string, w int) []string {
	var out []string
	for _, para := range strings.Split(text, "\n") {
		line, lw, start := "", 0, len(out)
		for _, word := range strings.Fields(para) {
			ww := ansi.StringWidth(word)
			for ww > w { // a word longer than a line: cut it
				if line != "" {
					out, line, lw = append(out, line), "", 0
				}
				head := ansi.Truncate(word, w, "")
				if head == "" { // a wide character in a narrower line
					_, n := utf8.DecodeRuneInString(word)
					head = word[:n]
				}
				out, word = append(out, head), word[len(head):]
				ww = ansi.StringWidth(word)
			}
			switch {
			case word == "":
			case line == "":
				line, lw = word, ww
			case lw+1+ww <= w:
				line, lw = line+" "+word, lw+1+ww
			default:
				out, line, lw = append(out, line), word, ww
			}
		}
		if line != "" || len(out) == start { // an empty line stays one
			out = append(out, line)
		}
	}
	return out
}
