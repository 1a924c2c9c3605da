package ui

import (
	"fmt"
	"strings"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/relink/relink/desk"
	"github.com/relink/relink/health"
	"github.com/relink/relink/store"
	"github.com/relink/relink/themes"
)

// detailData is what the connection pane shows.
type detailData struct {
	conn       store.Connection
	ok         bool
	history    []store.Event
	historyErr error
	link       *desk.Link
}

func (m *Model) detailData(conn store.Connection, ok bool) detailData {
	d := detailData{conn: conn, ok: ok}
	if ok && m.historyFor == conn.ID {
		d.history, d.historyErr = m.history, m.historyErr
	}
	if l, have := m.currentLink(conn); have && ok {
		d.link = &l
	}
	return d
}

// currentLink is the newest still-valid link of conn: one minted in this
// session, else one the store recorded (minted by the CLI, another agent…).
func (m *Model) currentLink(conn store.Connection) (desk.Link, bool) {
	now := m.opts.Now()
	if l, ok := m.links[conn.ID]; ok && l.ExpiresAt.After(now) {
		return l, true
	}
	if m.historyFor != conn.ID {
		return desk.Link{}, false
	}
	for _, l := range m.storedLinks {
		if l.RevokedAt != nil || (l.ExpiresAt != nil && !l.ExpiresAt.After(now)) {
			continue
		}
		dl := desk.Link{URL: l.URL, Kind: l.Kind, Connection: conn.Ref()}
		if l.ExpiresAt != nil {
			dl.ExpiresAt = *l.ExpiresAt
		}
		return dl, true
	}
	return desk.Link{}, false
}

// pane draws body in a bordered box of exactly w×h with title in its top border.
func pane(c *Context, title, body string, w, h int) string {
	s, b := c.Styles, c.Styles.Icons.Border
	t := " " + ansi.Truncate(title, max(0, w-6), c.Styles.Icons.Ellipsis) + " "
	top := s.Rule.Render(b.TopLeft+b.Top) + s.PaneTitle.Render(t) +
		s.Rule.Render(strings.Repeat(b.Top, max(0, w-3-lipgloss.Width(t)))+b.TopRight)
	rest := s.Pane.BorderTop(false).Padding(0, 1).Render(box(body, max(0, w-4), max(0, h-2)))
	return top + "\n" + rest
}

// fields lays out "label  value" lines in a pane of inner width w.
type fields struct {
	s     themes.Styles
	w     int
	lines []string
}

func (f *fields) line(label, value string) {
	f.lines = append(f.lines, f.s.Label.Render(fit(label, 10, ""))+value)
}

// parts puts styled pieces after the label, moving a piece that does not
// fit to a continuation line.
func (f *fields) parts(label string, parts ...string) {
	cur, used := "", 0
	for _, p := range parts {
		pw := lipgloss.Width(p)
		if used > 0 && 10+used+1+pw > f.w {
			f.line(label, cur)
			label, cur, used = "", "", 0
		}
		if used > 0 {
			cur += " "
			used++
		}
		cur += p
		used += pw
	}
	if cur != "" {
		f.line(label, cur)
	}
}

// text wraps plain text under its label, at most n lines; hard cuts words
// too long for a line (URLs).
func (f *fields) text(label string, st lipgloss.Style, text string, n int, hard bool) {
	wrapped := ansi.Wordwrap(text, max(1, f.w-10), " ")
	if hard {
		wrapped = ansi.Hardwrap(text, max(1, f.w-10), false)
	}
	for i, l := range strings.Split(wrapped, "\n") {
		if i == n {
			break
		}
		if i > 0 {
			label = ""
		}
		f.line(label, st.Render(l))
	}
}

// renderDetail is the open connection: who, health, raw code and reason, the
// provider's message, the deadline of a warning, the last transient error,
// its newest valid link, and the event history.
func renderDetail(c *Context, d detailData, w, h int) string {
	s := c.Styles
	if !d.ok {
		return pane(c, "Connection", s.Subtle.Render("no connection selected"), w, h)
	}
	conn, hl, now := d.conn, d.conn.Health, c.Now()
	f := &fields{s: s, w: max(1, w-4)}
	f.lines = append(f.lines,
		s.Bold.Render(displayName(conn))+s.Subtle.Render(nonEmpty(" · ", conn.UserRef)),
		s.Text.Render(strings.Join(nonBlank(conn.Email, conn.Phone), " · ")),
		s.Subtle.Render(conn.Ref()+nonEmpty(" · ", conn.Institution)))
	f.parts("health", s.Category(hl.Category).Render(hl.Category.Info().Title), s.Subtle.Render("("+string(hl.Category)+")"))
	if hl.ProviderCode != "" || hl.ProviderReason != "" {
		f.text("code", s.Text, strings.Join(nonBlank(hl.ProviderCode, hl.ProviderReason), " · "), 2, false)
	}
	if hl.UserMessage != "" {
		f.text("message", s.Text, hl.UserMessage, 3, false)
	}
	if hl.FirstFailedAt != nil {
		f.parts("failing", s.Text.Render("for "+ageText(now.Sub(*hl.FirstFailedAt))), s.Subtle.Render("· since "+dateText(*hl.FirstFailedAt, now)))
	}
	if !hl.ObservedAt.IsZero() {
		f.parts("seen", s.Subtle.Render(agoText(&hl.ObservedAt, now)), s.Subtle.Render(nonEmpty("by ", string(hl.Source))))
	}
	if hl.Warning != health.NoWarning {
		p := []string{s.Warning.Render(s.Icons.Warn + " " + hl.Warning.Title())}
		if hl.Deadline != nil {
			p = append(p, s.Text.Render("· in "+untilText(hl.Deadline.Sub(now))), s.Subtle.Render("("+dateText(*hl.Deadline, now)+")"))
		}
		f.parts("warning", p...)
	}
	if hl.LastTransient != "" && hl.LastTransientAt != nil {
		f.parts("outage", s.Category(hl.LastTransient).Render(string(hl.LastTransient)),
			s.Subtle.Render(hl.LastTransientCode), s.Subtle.Render("· "+agoText(hl.LastTransientAt, now)))
	}
	f.line("reminded", s.Text.Render(agoText(conn.LastRemindedAt, now)))
	if l := d.link; l != nil {
		f.parts("link", s.Info.Render(l.Kind), s.Subtle.Render("· "+leftText(*l, now)))
		f.text("", s.Info.Hyperlink(l.URL), l.URL, 3, true)
	}
	f.lines = append(f.lines, "", s.PaneTitle.Render("History"))
	switch {
	case d.historyErr != nil:
		f.lines = append(f.lines, s.Error.Render(s.Icons.Fail+" "+d.historyErr.Error()))
	case len(d.history) == 0:
		f.lines = append(f.lines, s.Subtle.Render("no events"))
	}
	for _, e := range d.history {
		head := s.Subtle.Render(fit(ageText(now.Sub(e.ObservedAt)), 5, "") + " " + fit(e.Kind, 9, ""))
		what := strings.Join(nonBlank(e.Summary, e.ProviderCode), " ")
		if e.ProviderCode != "" && 15+lipgloss.Width(what) > f.w { // the raw code on a line of its own
			f.lines = append(f.lines, head+s.Text.Render(e.Summary), strings.Repeat(" ", 15)+s.Subtle.Render(e.ProviderCode))
			continue
		}
		f.lines = append(f.lines, head+s.Text.Render(what))
	}
	return pane(c, fmt.Sprintf("Connection %s", conn.Ref()), clip(strings.Join(f.lines, "\n"), f.w, h-2), w, h)
}

func nonEmpty(prefix, v string) string {
	if v == "" {
		return ""
	}
	return prefix + v
}

func nonBlank(vs ...string) []string {
	var out []string
	for _, v := range vs {
		if v != "" {
			out = append(out, v)
		}
	}
	return out
}
