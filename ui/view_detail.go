package ui

import (
	"fmt"
	"hash/fnv"
	"strings"
	"time"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/relink/relink/backend"
	"github.com/relink/relink/health"
	"github.com/relink/relink/internal/institution"
	"github.com/relink/relink/internal/textfmt"
	"github.com/relink/relink/store"
	"github.com/relink/relink/themes"
)

// detailData is what the connection pane shows.
type detailData struct {
	conn       store.Connection
	ok         bool
	history    []store.Event
	historyErr error
	link       *backend.Link
	spent      *backend.Link // else a live direct link minted elsewhere, whose token was not kept
	showQR     bool          // the QR code of link was asked for
	qr         qrImage       // …and here it is
	qrOff      string        // …or why it cannot be drawn
	left       string        // the group it left, when the pane holds one no longer in it (repaired)
	moveKeys   string        // the keys that go back to the rows then
}

func (m *Model) detailData(conn store.Connection, ok bool) detailData {
	d := detailData{conn: conn, ok: ok, showQR: m.showQR}
	if m.pinned != nil {
		d.left, d.moveKeys = m.group().label(), keysHint(m.c.Keys.Down, m.c.Keys.Up)
	}
	if ok && m.historyFor == conn.ID {
		d.history, d.historyErr = m.history, m.historyErr
	}
	if l, have := m.currentLink(conn); have && ok {
		d.link = &l
	} else if l, have := m.liveDirectLink(conn); have && ok {
		d.spent = &l
	}
	if d.showQR && d.link != nil {
		if m.opts.ASCII {
			d.qrOff = "a QR code needs block characters, which ASCII mode turns off"
		} else {
			d.qr = m.qrOf(d.link.URL)
		}
	}
	return d
}

// qrOf draws url as a QR code for the current background and colour mode,
// once: the pane is redrawn far more often than links change.
func (m *Model) qrOf(url string) qrImage {
	colour := !m.plain
	if c := m.qrCache; c == nil || c.url != url || c.dark != m.dark || c.colour != colour {
		m.qrCache = &qrCache{url: url, dark: m.dark, colour: colour, img: renderQR(url, m.dark, colour)}
	}
	return m.qrCache.img
}

// qrCache is the last QR code drawn.
type qrCache struct {
	url          string
	dark, colour bool
	img          qrImage
}

// currentLink is the newest still-valid link of conn: one minted in this
// session, else one the store recorded (minted by the CLI, another agent…).
func (m *Model) currentLink(conn store.Connection) (backend.Link, bool) {
	now := m.opts.Now()
	if l, ok := m.links[conn.ID]; ok && l.ExpiresAt.After(now) {
		return l, true
	}
	if m.historyFor != conn.ID {
		return backend.Link{}, false
	}
	return m.storedLink(conn, store.Link.Reusable)
}

// liveDirectLink is the newest direct link the store recorded for conn
// that has not expired: the store keeps only its page's origin (never a
// live token), so it can be told about but not copied, opened or drawn.
func (m *Model) liveDirectLink(conn store.Connection) (backend.Link, bool) {
	return m.storedLink(conn, func(l store.Link) bool { return l.Kind == store.LinkDirect })
}

// storedLink is the newest unrevoked, unexpired link of the open
// connection that ok accepts.
func (m *Model) storedLink(conn store.Connection, ok func(store.Link) bool) (backend.Link, bool) {
	if m.historyFor != conn.ID {
		return backend.Link{}, false
	}
	now := m.opts.Now()
	for _, l := range m.storedLinks {
		if l.RevokedAt != nil || (l.ExpiresAt != nil && !l.ExpiresAt.After(now)) || !ok(l) {
			continue
		}
		dl := backend.Link{URL: l.URL, Kind: l.Kind, Connection: conn.Ref()}
		if l.ExpiresAt != nil {
			dl.ExpiresAt = *l.ExpiresAt
		}
		return dl, true
	}
	return backend.Link{}, false
}

// pane draws body in a bordered box of exactly w×h with title in its top border.
func pane(c *Context, title, body string, w, h int) string {
	s, b := c.Styles, c.Styles.Icons.Border
	t := " " + textfmt.Truncate(title, max(0, w-6), c.Styles.Icons.Ellipsis) + " "
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

// labelW is the label column: nine cells and a space, so that a label,
// cut if it must be, never runs into its value.
const labelW = 10

func (f *fields) line(label, value string) {
	f.lines = append(f.lines, f.s.Label.Render(fit(label, labelW-1, f.s.Icons.Ellipsis)+" ")+value)
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

// text wraps plain text under its label, at most n lines, the last ending
// with the ellipsis when there is more; hard cuts words too long for a
// line (URLs).
func (f *fields) text(label string, st lipgloss.Style, text string, n int, hard bool) {
	for i, l := range wrapLines(text, max(1, f.w-labelW), n, hard) {
		if i > 0 {
			label = ""
		}
		f.line(label, st.Render(l))
	}
}

// wrapLines wraps text at w cells into at most n lines (n <= 0: all);
// when more would follow, the last one ends with the ellipsis. It wraps
// between words, a word too long for a line cut into pieces; hard wraps
// anywhere (a URL, a domain).
func wrapLines(text string, w, n int, hard bool) []string {
	var lines []string
	if hard {
		lines = strings.Split(ansi.Hardwrap(text, w, false), "\n")
	} else {
		lines = wordLines(text, w)
	}
	for i, l := range lines {
		lines[i] = textfmt.Truncate(l, w, textfmt.Ellipsis)
	}
	if n > 0 && len(lines) > n { // more follows: the last line says so
		lines = lines[:n]
		last := strings.TrimRight(lines[n-1], " ")
		if !strings.HasSuffix(last, textfmt.Ellipsis) {
			last = textfmt.Truncate(last+textfmt.Ellipsis, w, textfmt.Ellipsis)
		}
		lines[n-1] = last
	}
	return lines
}

// wordLines wraps plain text at w cells between words only (a date such
// as 2026-05-14T12:29 stays whole), a word longer than a line cut into
// pieces.
func wordLines(text string, w int) []string {
	var lines []string
	cur := ""
	for _, word := range strings.Fields(text) {
		switch {
		case cur == "":
		case textfmt.Width(cur)+1+textfmt.Width(word) <= w:
			cur += " " + word
			continue
		default:
			lines = append(lines, cur)
		}
		cur = word
		if textfmt.Width(word) > w {
			pieces := strings.Split(ansi.Hardwrap(word, w, false), "\n")
			lines = append(lines, pieces[:len(pieces)-1]...)
			cur = pieces[len(pieces)-1]
		}
	}
	return append(lines, cur)
}

// flow puts pieces on lines of the pane's full width, joined by sep, a
// piece that does not fit going to the next line, and one wider than a
// line cut with the ellipsis.
func (f *fields) flow(sep string, pieces ...string) {
	cur := ""
	for _, p := range pieces {
		p = textfmt.Truncate(p, f.w, textfmt.Ellipsis)
		switch {
		case cur == "":
			cur = p
		case lipgloss.Width(cur+sep+p) <= f.w:
			cur += sep + p
		default:
			f.lines = append(f.lines, cur)
			cur = p
		}
	}
	if cur != "" {
		f.lines = append(f.lines, cur)
	}
}

// wrap adds text at the pane's full width, word-wrapped.
func (f *fields) wrap(st lipgloss.Style, text string) {
	for _, l := range strings.Split(ansi.Wordwrap(text, f.w, " "), "\n") {
		f.lines = append(f.lines, st.Render(l))
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
	if d.showQR {
		return renderQRDetail(c, d, f, w, h)
	}
	f.flow(s.Subtle.Render(" · "), append(styled(s.Bold, displayName(conn)), styled(s.Subtle, conn.UserRef)...)...)
	f.flow(s.Text.Render(" · "), styled(s.Text, conn.Email, conn.Phone)...)
	f.who(conn)
	if d.left != "" {
		note, st := s.Icons.OK+" repaired: no longer in "+d.left, s.Success
		if hl.Category.Failing() {
			note, st = "now "+string(hl.Category)+": no longer in "+d.left, s.Warning
		}
		if d.moveKeys != "" {
			note += "; " + d.moveKeys + " back to the list"
		}
		f.wrap(st, note)
	}
	f.parts("health", s.Category(hl.Category).Render(hl.Category.Info().Title), s.Subtle.Render("("+string(hl.Category)+")"))
	if hl.ProviderCode != "" || hl.ProviderReason != "" {
		f.text("code", s.Text, strings.Join(nonBlank(hl.ProviderCode, hl.ProviderReason), " · "), 2, false)
	}
	if hl.UserMessage != "" {
		f.text("message", s.Text, hl.UserMessage, 3, false)
	}
	if hl.FirstFailedAt != nil {
		f.parts("failing", s.Text.Render("for "+textfmt.Age(now.Sub(*hl.FirstFailedAt))), s.Subtle.Render("· since "+dateText(*hl.FirstFailedAt, now)))
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
	if why := noRemindWhy(conn); why != "" {
		f.text("", s.Warning, s.Icons.Fail+" no reminder: "+why, 5, false)
	}
	f.link(d.link, now)
	f.spentLink(d.spent, now, helpOf(c.Keys.CopyLink))
	f.history(d, now)
	return pane(c, fmt.Sprintf("Connection %s", conn.Ref()), clip(strings.Join(f.lines, "\n"), f.w, h-2), w, h)
}

// who is the connection's id and its institution, by name: an EHR's
// instance as the EHR and the organisation, its domain on a line of its
// own, labelled, to tell it by when the name cannot.
func (f *fields) who(conn store.Connection) {
	s, name := f.s, institution.Name(conn.Provider, conn.Institution)
	f.flow(s.Subtle.Render(" · "), styled(s.Subtle, conn.Ref(), name)...)
	if name != conn.Institution && conn.Institution != "" {
		f.text("domain", s.Subtle, conn.Institution, 2, true)
	}
}

// link shows a link: its kind and time left, then the whole URL at the
// pane's full width, as text to select and as a terminal hyperlink (OSC 8).
func (f *fields) link(l *backend.Link, now time.Time) {
	if l == nil {
		return
	}
	s := f.s
	f.parts("link", s.Info.Render(string(l.Kind)), s.Subtle.Render("· "+leftText(*l, now)))
	st := s.Info.Hyperlink(l.URL, "id="+hyperlinkID(l.URL))
	for _, part := range strings.Split(ansi.Hardwrap(l.URL, f.w, false), "\n") {
		f.lines = append(f.lines, st.Render(part))
	}
}

// spentLink tells of a live direct link minted elsewhere: its kind, time
// left and page host, and that its token is not kept here.
func (f *fields) spentLink(l *backend.Link, now time.Time, copyKey string) {
	if l == nil {
		return
	}
	s, host := f.s, strings.TrimPrefix(strings.TrimPrefix(l.URL, "https://"), "http://")
	f.parts("link", s.Info.Render(string(l.Kind)), s.Subtle.Render("· "+leftText(*l, now)+" · "+host))
	f.lines = append(f.lines, s.Subtle.Render(fit("its token is not kept: "+copyKey+" mints a new one", f.w, s.Icons.Ellipsis)))
}

// hyperlinkID names a hyperlink, so that a terminal treats the pieces of a
// wrapped URL as one link.
func hyperlinkID(url string) string {
	h := fnv.New32a()
	h.Write([]byte(url))
	return fmt.Sprintf("relink-%08x", h.Sum32())
}

// renderQRDetail is the pane with the QR code of the link: who, the link,
// the code, then as much history as fits. A code that does not fit is not
// drawn (a cut code does not scan): a line says to widen the terminal.
func renderQRDetail(c *Context, d detailData, f *fields, w, h int) string {
	s, conn, now := c.Styles, d.conn, c.Now()
	f.flow(s.Subtle.Render(" · "), append(styled(s.Bold, displayName(conn)), styled(s.Subtle, conn.UserRef)...)...)
	f.who(conn)
	f.link(d.link, now)
	f.spentLink(d.spent, now, helpOf(c.Keys.CopyLink))
	room := h - 2 - len(f.lines) - 1 // under a blank line
	switch {
	case d.link == nil:
		msg := "no valid link to show as a QR code"
		if k := c.Keys.CopyLink; k.Enabled() {
			msg += "; " + helpOf(k) + " makes one"
		}
		f.wrap(s.Subtle, msg)
	case d.qrOff != "":
		f.wrap(s.Warning, d.qrOff)
	case d.qr.err != nil:
		f.wrap(s.Error, s.Icons.Fail+" QR code: "+d.qr.err.Error())
	case d.qr.w > f.w || d.qr.h > room:
		do := "widen the terminal"
		switch {
		case d.qr.w > f.w:
		case w >= c.Width && c.Width < wideAt: // the pane is under the table
			do = fmt.Sprintf("widen the terminal to %d columns to have the pane beside the table", wideAt)
		default:
			do = "make the terminal taller"
		}
		f.wrap(s.Warning, fmt.Sprintf("%s QR code hidden: it needs %d×%d cells, the pane has %d×%d; %s",
			s.Icons.Warn, d.qr.w, d.qr.h, f.w, max(0, room), do))
	default:
		f.lines = append(f.lines, "")
		pad := strings.Repeat(" ", (f.w-d.qr.w)/2)
		for _, l := range d.qr.lines {
			f.lines = append(f.lines, pad+l)
		}
		if k := c.Keys.QR; k.Enabled() {
			f.lines = append(f.lines, pad+s.Subtle.Render("scan to open · "+helpOf(k)+" hides"))
		}
	}
	f.history(d, now)
	return pane(c, fmt.Sprintf("Connection %s", conn.Ref()), clip(strings.Join(f.lines, "\n"), f.w, h-2), w, h)
}

// history adds the connection's events, newest first.
func (f *fields) history(d detailData, now time.Time) {
	s := f.s
	f.lines = append(f.lines, "", s.PaneTitle.Render("History"))
	switch {
	case d.historyErr != nil:
		f.wrap(s.Error, s.Icons.Fail+" "+d.historyErr.Error())
	case len(d.history) == 0:
		f.lines = append(f.lines, s.Subtle.Render("no events"))
	}
	const headW = 16 // "8s    webhook   "
	room, indent := max(1, f.w-headW), strings.Repeat(" ", headW)
	for _, e := range d.history {
		head := s.Subtle.Render(fit(textfmt.Age(now.Sub(e.ObservedAt)), 5, s.Icons.Ellipsis) + " " + fit(e.Kind, 9, s.Icons.Ellipsis) + " ")
		what := strings.Join(nonBlank(e.Summary, e.ProviderCode), " ")
		if lipgloss.Width(what) <= room {
			f.lines = append(f.lines, head+s.Text.Render(what))
			continue
		}
		// the summary wraps under its column, the raw code on a line of its own
		if e.Summary != "" {
			for _, l := range wrapLines(e.Summary, room, 3, false) {
				f.lines = append(f.lines, head+s.Text.Render(l))
				head = indent
			}
		}
		if code := e.ProviderCode; code != "" {
			if head == indent && textfmt.Width(code) > room { // under the kind, rather than cut
				head = indent[:6]
			}
			f.lines = append(f.lines, head+s.Subtle.Render(textfmt.Truncate(code, f.w-textfmt.Width(head), s.Icons.Ellipsis)))
		}
	}
}

// styled are the values that are not empty, each rendered in st.
func styled(st lipgloss.Style, vs ...string) []string {
	out := nonBlank(vs...)
	for i, v := range out {
		out[i] = st.Render(v)
	}
	return out
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
