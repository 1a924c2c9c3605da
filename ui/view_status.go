package ui

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/relink/relink/store"
)

// renderViewBar is the line under the tabs: what the table shows (group,
// filter, sort, marks) and where the cursor is. While the filter has focus
// it holds the input.
func (m *Model) renderViewBar() string {
	c := &m.c
	s, ic := c.Styles, c.Styles.Icons
	w := c.Width
	pos := ""
	if m.total > 0 {
		pos = s.Subtle.Render(fmt.Sprintf("%d/%d", m.cursor+1, m.total))
	} else if m.loaded {
		pos = s.Subtle.Render("0/0")
	}
	var left string
	if m.filterOn {
		left = m.filter.view(c, w/2)
	} else {
		g := m.group()
		parts := []string{s.Bold.Render(groupTitle(g))}
		if f := m.filter.Value(); f != "" {
			parts = append(parts, s.Accent.Render(fmt.Sprintf("filter %q", f))+s.Subtle.Render(fmt.Sprintf(" %d of %d", m.total, g.count)))
		}
		dir := ic.Asc
		if m.desc {
			dir = ic.Desc
		}
		by := m.sort.String()
		if by == "since" && g.sg.Kind == store.GroupExpiring {
			by = "deadline"
		}
		parts = append(parts, s.Subtle.Render("sort "+by+" "+dir))
		if n := len(m.marks); n > 0 {
			parts = append(parts, s.MarkGlyph.Render(fmt.Sprintf("%s %d marked", ic.Mark, n)))
		}
		left = strings.Join(parts, s.Subtle.Render(" "+ic.Sep+" "))
	}
	room := w - lipgloss.Width(pos) - 1
	return fit(fit(left, room, ic.Ellipsis)+" "+pos, w, ic.Ellipsis)
}

func groupTitle(g group) string {
	switch g.sg.Kind {
	case store.GroupAllFailing:
		return "All failing"
	case store.GroupExpiring:
		return "Expiring: working, with a deadline"
	}
	return g.sg.Category.Info().Title + " (" + string(g.sg.Category) + ")"
}

// statusData is what the status line shows.
type statusData struct {
	providers  []string
	states     map[string]store.SyncState
	staleAfter time.Duration
	tasks      []task
	spin       int
	result     *result
}

func (m *Model) statusData() statusData {
	names := map[string]bool{}
	for _, p := range m.opts.Providers {
		names[p] = true
	}
	for p := range m.syncStates {
		names[p] = true
	}
	d := statusData{states: m.syncStates, staleAfter: m.opts.StaleAfter, tasks: m.tasks, spin: m.spin, result: m.result}
	for p := range names {
		d.providers = append(d.providers, p)
	}
	sort.Strings(d.providers)
	return d
}

// renderStatus is the status line: freshness per provider on the left;
// running tasks and the last result on the right, which win the space.
func renderStatus(c *Context, d statusData, w int) string {
	s, ic := c.Styles, c.Styles.Icons
	now := c.Now()
	var fresh []string
	for _, p := range d.providers {
		st, ok := d.states[p]
		switch {
		case !ok || st.LastSuccessAt == nil:
			item := p + " never"
			if ok && st.LastError != "" {
				item = s.Error.Render(p+" "+ic.Fail) + " " + s.Subtle.Render("never")
			}
			fresh = append(fresh, s.Subtle.Render(item))
		default:
			item := s.Text.Render(p) + " " + s.Subtle.Render(agoText(st.LastSuccessAt, now))
			if failedSince(st) {
				item += " " + s.Error.Render("("+ic.Fail+" last sync)")
			} else if now.Sub(*st.LastSuccessAt) > d.staleAfter {
				item += " " + s.Warning.Render("(stale)")
			}
			fresh = append(fresh, item)
		}
	}
	left := strings.Join(fresh, s.Subtle.Render(" "+ic.Sep+" "))
	if len(fresh) == 0 {
		left = s.Subtle.Render("cache only " + ic.Sep + " no provider synced yet")
	}
	var right []string
	for _, t := range d.tasks {
		frame := ic.Spinner[d.spin%len(ic.Spinner)]
		text := s.Info.Render(frame + " " + t.label)
		if t.progress != "" {
			text += " " + s.Subtle.Render(t.progress)
		}
		right = append(right, text)
	}
	if r := d.result; r != nil {
		if r.ok {
			right = append(right, s.Success.Render(ic.OK+" "+r.text))
		} else {
			right = append(right, s.Error.Render(ic.Fail+" "+r.text))
		}
	}
	rs := strings.Join(right, "  ")
	if rs == "" {
		return fit(left, w, ic.Ellipsis)
	}
	most := w * 3 / 4
	if d.result != nil && !d.result.ok {
		most = w // an error may take the whole line: what to do is often at its end
	}
	if lipgloss.Width(rs) > most {
		rs = ansi.Truncate(rs, most, ic.Ellipsis)
	}
	room := w - lipgloss.Width(rs) - 1
	if room < 1 {
		return fit(rs, w, ic.Ellipsis)
	}
	return fit(fit(left, room, ic.Ellipsis)+" "+rs, w, ic.Ellipsis)
}

// failedSince reports whether the provider's last sync attempt failed.
func failedSince(st store.SyncState) bool {
	return st.LastError != "" && st.LastAttemptAt != nil && (st.LastSuccessAt == nil || st.LastAttemptAt.After(*st.LastSuccessAt))
}
