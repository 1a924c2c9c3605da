package ui

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/relink/relink/backend"
	"github.com/relink/relink/internal/textfmt"
	"github.com/relink/relink/remind"
)

// previewParts are the pieces of the reminder preview, cut to the screen.
type previewParts struct {
	w       int      // the dialog's inner width
	head    []string // title, recipients, the skip summary: styled
	details []string // one line per skip reason, as many as fit: styled
	sample  []string // the sample's text body, wrapped: unstyled
	sampleH int      // how many sample lines show
}

// layoutPreview fits the preview into the screen: the sample's body gets
// the lines the rest leaves (at least 3, scrolled with the scroll keys), and
// the skip reasons are listed one a line while the body keeps at least 5.
func layoutPreview(c *Context, o *previewOverlay) previewParts {
	s := c.Styles
	p := o.plan
	pp := previewParts{w: max(20, min(76, c.Width-10))}
	room := max(1, c.Height-4) // inside the border, with a screen line spare above and below
	pp.head = []string{s.DialogTitle.Render("Remind by " + p.Channel), ""}
	if p.Sends() == 0 {
		text := "Nothing to send."
		if len(p.Skipped) > 0 {
			text += " " + skipText(p)
		}
		pp.head = append(pp.head, para(s.Warning, text, pp.w)...)
		details := skipDetails(c, p, pp.w, true)
		pp.details = details[:min(len(details), max(0, room-len(pp.head)-2))] // esc closes stays
		return pp
	}
	pp.head = append(pp.head, para(s.Text, recipientsText(p), pp.w)...)
	if len(p.Skipped) > 0 {
		pp.head = append(pp.head, para(s.Text, skipText(p), pp.w)...)
	}
	// blank, sample title, subject, link, blank, prompt, blank, buttons, blank, hint
	fixed := len(pp.head) + 10
	if p.Sample == nil || p.Sample.Subject == "" {
		fixed--
	}
	details := skipDetails(c, p, pp.w, false)
	pp.details = details[:min(len(details), 4, max(0, room-fixed-5))]
	if p.Sample != nil {
		for _, l := range strings.Split(strings.TrimRight(p.Sample.Text, "\n"), "\n") {
			pp.sample = append(pp.sample, strings.Split(ansi.Wrap(l, pp.w-2, ""), "\n")...)
		}
	}
	pp.sampleH = min(len(pp.sample), max(3, room-fixed-len(pp.details)))
	return pp
}

// previewSample is the sample's wrapped body and how many lines of it show.
func previewSample(c *Context, o *previewOverlay) ([]string, int) {
	pp := layoutPreview(c, o)
	return pp.sample, pp.sampleH
}

// renderPreview is the reminder preview: whom the plan reaches, who it
// skips and why, the one rendered message (subject, link, the text body),
// and the question with No focused. Without messages it only explains.
func renderPreview(c *Context, o *previewOverlay) string {
	s, ic := c.Styles, c.Styles.Icons
	p := o.plan
	pp := layoutPreview(c, o)
	w := pp.w
	lines := append([]string{}, pp.head...)
	lines = append(lines, pp.details...)
	if !o.asks() {
		lines = append(lines, "", s.Subtle.Render(firstKey(c.Keys.Dialog.Close)+" closes"))
		return s.Dialog.Render(clip(strings.Join(lines, "\n"), w, max(1, c.Height-4)))
	}
	lines = append(lines, "")
	if m := p.Sample; m != nil {
		title := s.Label.Render("Sample to ") + s.Text.Render(m.To)
		if len(pp.sample) > pp.sampleH {
			pos := s.Subtle.Render(" " + o.scroll.position(len(pp.sample), pp.sampleH))
			title = fit(title, w-lipgloss.Width(pos), ic.Ellipsis) + pos
		}
		lines = append(lines, fit(title, w, ic.Ellipsis))
		if m.Subject != "" {
			lines = append(lines, fit(s.Label.Render("Subject ")+s.Bold.Render(m.Subject), w, ic.Ellipsis))
		}
		link := ""
		if len(m.Items) > 0 {
			link = m.Items[0].Link
		}
		lines = append(lines, fit(s.Label.Render("Link    ")+s.Accent.Render(link)+
			s.Subtle.Render(" (one per connection, made when sent)"), w, ic.Ellipsis))
		for _, l := range o.scroll.window(pp.sample, pp.sampleH) {
			lines = append(lines, s.Rule.Render("│")+" "+s.Text.Render(l))
		}
	} else {
		lines = append(lines, s.Subtle.Render("no sample could be rendered"))
	}
	hint := questionHints(c.Keys.Dialog)
	if k := keysHint(c.Keys.Dialog.ScrollDown, c.Keys.Dialog.ScrollUp); len(pp.sample) > pp.sampleH && k != "" {
		hint += " · " + k + " scroll"
	}
	lines = append(lines, "")
	lines = append(lines, para(s.Text, sendPrompt(p), w)...)
	lines = append(lines, "", renderButtons(c, o.yes), "", s.Subtle.Render(fit(hint, w, ic.Ellipsis)))
	return s.Dialog.Render(clip(strings.Join(lines, "\n"), w, max(1, c.Height-4)))
}

// sendPrompt is the question: "Send 12 reminders by email?".
func sendPrompt(p backend.Plan) string {
	if len(p.Messages) == 1 && p.Queued == 0 {
		return fmt.Sprintf("Send 1 reminder to %s by %s?", recipientName(p.Messages[0]), p.Channel)
	}
	return fmt.Sprintf("Send %s by %s?", textfmt.Plural(p.Sends(), "reminder", "reminders"), p.Channel)
}

// recipientsText is whom the plan reaches: "To 12 users, covering 15
// connections", or the one user by name and address.
func recipientsText(p backend.Plan) string {
	if p.Queued > 0 {
		left := textfmt.Plural(p.Queued, "reminder", "reminders") + " left queued by an interrupted run"
		if p.Recovered > 0 {
			left += fmt.Sprintf(" (%d recovered: that run stopped while sending them)", p.Recovered)
		}
		if len(p.Messages) == 0 {
			return left
		}
		return newRecipientsText(p) + "; and " + left
	}
	return newRecipientsText(p)
}

// newRecipientsText is whom the plan's own messages reach.
func newRecipientsText(p backend.Plan) string {
	conns := textfmt.Plural(p.Connections(), "connection", "connections")
	if len(p.Messages) == 1 {
		pm := p.Messages[0]
		who := recipientName(pm)
		if pm.To != who {
			who += " <" + pm.To + ">"
		}
		return fmt.Sprintf("To %s, covering %s", who, conns)
	}
	return fmt.Sprintf("To %s, covering %s", textfmt.Plural(len(p.Messages), "user", "users"), conns)
}

func recipientName(pm backend.PlannedMessage) string {
	if pm.User.Name != "" {
		return pm.User.Name
	}
	return pm.To
}

// skipGroup is the connections skipped for one reason.
type skipGroup struct {
	reason remind.Reason
	skips  []backend.Skipped
}

// skipGroups groups a plan's skips by reason, the most common first.
func skipGroups(p backend.Plan) []skipGroup {
	var out []skipGroup
	at := map[remind.Reason]int{}
	for _, sk := range p.Skipped {
		i, ok := at[sk.Reason]
		if !ok {
			i = len(out)
			at[sk.Reason] = i
			out = append(out, skipGroup{reason: sk.Reason})
		}
		out[i].skips = append(out[i].skips, sk)
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := len(out[i].skips), len(out[j].skips)
		return a > b || (a == b && out[i].reason < out[j].reason)
	})
	return out
}

// skipText sums the skips up: "3 skipped: 2 within cooldown, 1 not the
// user's to fix".
func skipText(p backend.Plan) string {
	var parts []string
	for _, g := range skipGroups(p) {
		parts = append(parts, fmt.Sprintf("%d %s", len(g.skips), reasonText(g.reason)))
	}
	return fmt.Sprintf("%d skipped: %s", len(p.Skipped), strings.Join(parts, ", "))
}

// skipNames is how many of the users skipped for one reason are named.
const skipNames = 8

// skipDetails are a line per reason (wrapped, or cut to w): who, and for a
// lone skip its specifics ("within cooldown: Ada Okafor · reminded 2h ago
// (cooldown 24h)").
func skipDetails(c *Context, p backend.Plan, w int, wrap bool) []string {
	s, ic := c.Styles, c.Styles.Icons
	var out []string
	for _, g := range skipGroups(p) {
		var names []string
		seen := map[string]bool{}
		for _, sk := range g.skips {
			n := sk.Name
			if n == "" {
				n = sk.Ref
			}
			if !seen[n] {
				seen[n] = true
				names = append(names, n)
			}
		}
		if len(names) > skipNames {
			names = append(names[:skipNames], fmt.Sprintf("and %d more", len(names)-skipNames))
		}
		text := reasonText(g.reason) + ": " + strings.Join(names, ", ")
		if len(g.skips) == 1 && g.skips[0].Detail != "" {
			text += " · " + g.skips[0].Detail
		} else if by := remindedBy(g.skips); by != "" {
			text += " · reminded by " + by
		}
		if !wrap {
			out = append(out, s.Subtle.Render(fit("  "+text, w, ic.Ellipsis)))
			continue
		}
		for i, l := range strings.Split(ansi.Wrap(text, max(1, w-4), ""), "\n") {
			indent := "    "
			if i == 0 {
				indent = "  "
			}
			out = append(out, s.Subtle.Render(indent+l))
		}
	}
	return out
}

// remindedBy names who reminded the skipped users (queued or within
// cooldown), when the outbox says: "dana, lee".
func remindedBy(skips []backend.Skipped) string {
	var by []string
	for _, sk := range skips {
		if sk.By != "" && !slices.Contains(by, sk.By) {
			by = append(by, sk.By)
		}
	}
	return strings.Join(by, ", ")
}

// reasonText is a skip reason as the preview words it.
func reasonText(r remind.Reason) string {
	switch r {
	case remind.ReasonCooldown:
		return "within cooldown"
	case remind.ReasonQuietHours:
		return "in quiet hours"
	}
	return r.Title()
}

// para wraps text to w cells and styles each line.
func para(st lipgloss.Style, text string, w int) []string {
	lines := strings.Split(ansi.Wrap(text, w, ""), "\n")
	for i, l := range lines {
		lines[i] = st.Render(l)
	}
	return lines
}
