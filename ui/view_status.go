package ui

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"charm.land/lipgloss/v2"

	"github.com/relink/relink/store"
	"github.com/relink/relink/themes"
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
	g := m.group()
	if m.filterOn {
		left = m.filter.view(c, w/2)
		if hint := m.anywhereHint(true); hint != "" {
			left += "  " + hint
		}
	} else {
		parts := []string{s.Bold.Render(groupTitle(g))}
		if f := m.filter.Value(); f != "" {
			of := fmt.Sprintf(" %d of %d", m.total, g.count)
			if g.sg.Kind == store.GroupEveryone {
				of = " " + foundText(m.total)
			}
			parts = append(parts, s.Accent.Render(fmt.Sprintf("filter %q", f))+s.Subtle.Render(of))
			if hint := m.anywhereHint(false); hint != "" {
				parts = append(parts, hint)
			}
		}
		if n := len(m.marks); n > 0 {
			parts = append(parts, s.MarkGlyph.Render(fmt.Sprintf("%s %d marked", ic.Mark, n)))
		}
		// The order in words when it fits; else the column and its arrow.
		sep := s.Subtle.Render(" " + ic.Sep + " ")
		left = strings.Join(append(parts, s.Subtle.Render("sort "+sortLabel(ic, g.sg.Kind, m.sort, m.desc))), sep)
		if lipgloss.Width(left) > w-lipgloss.Width(pos)-1 {
			left = strings.Join(append(parts, s.Subtle.Render("sort "+sortColumnName(g.sg.Kind, m.sort)+" "+sortArrow(ic, g.sg.Kind, m.sort, m.desc))), sep)
		}
	}
	room := w - lipgloss.Width(pos) - 1
	return fit(fit(left, room, ic.Ellipsis)+" "+pos, w, ic.Ellipsis)
}

// anywhereHint says, when the filter finds more connections in any state
// than the group holds, how many and the key that shows them: in the
// filter input tab (and enter, when the group has none), else the everyone key.
func (m *Model) anywhereHint(typing bool) string {
	s := m.c.Styles
	k := firstKey(m.c.Keys.Everyone)
	if typing {
		k = "tab"
	}
	if m.anywhere <= m.total || k == "" || m.group().sg.Kind == store.GroupEveryone {
		return ""
	}
	n := fmt.Sprint(m.anywhere)
	if m.anywhere >= store.FindLimit {
		n += "+"
	}
	return s.Accent.Render(n+" in any state") + s.Subtle.Render(": "+k+" shows them")
}

// foundText is how many a lookup found: "3 found", "1000+ found" at the cap.
func foundText(n int) string {
	if n >= store.FindLimit {
		return fmt.Sprintf("%d+ found (type more)", store.FindLimit)
	}
	return fmt.Sprintf("%d found", n)
}

// sortColumnName is the title of the column a sort sorts by, as the table
// heads it: failing (deadline in the expiring group), user, institution.
func sortColumnName(kind store.GroupKind, by store.Sort) string {
	if by == store.SortSince && kind == store.GroupExpiring {
		return "deadline"
	}
	return by.String()
}

// sortArrow points the way the sorted column's values run down the screen:
// ↑ for names A to Z and deadlines soonest first, ↓ for "failing" when the
// longest failing come first (the ages shrink down the column).
func sortArrow(ic themes.Icons, kind store.GroupKind, by store.Sort, desc bool) string {
	up := !desc
	if by == store.SortSince && kind != store.GroupExpiring {
		up = desc
	}
	if up {
		return ic.Asc
	}
	return ic.Desc
}

// sortLabel is the order as the view bar says it: the sorted column's name
// (its title in the table), the arrow of its values, and the order in
// words, every key of it: "failing ↓ (remindable first, then worst, then
// longest)": a reminder can fix the first rows, the worst category first,
// the longest failing first within it.
func sortLabel(ic themes.Icons, kind store.GroupKind, by store.Sort, desc bool) string {
	col, arrow := sortColumnName(kind, by), sortArrow(ic, kind, by, desc)
	var words string
	switch {
	case by == store.SortName || by == store.SortInstitution:
		words = "A→Z"
		if desc {
			words = "Z→A"
		}
		if kind == store.GroupEveryone && by == store.SortInstitution {
			words += ", then by user"
		}
	case kind == store.GroupExpiring:
		words = "soonest first, no date last"
		if desc {
			words = "no date first, then latest first"
		}
	case kind == store.GroupAllFailing:
		words = "remindable first, then worst, then longest"
		if desc {
			words = "not remindable first, then mildest, then newest"
		}
	case kind == store.GroupEveryone:
		words = "failing first, longest first, then A→Z"
		if desc {
			words = "failing first, newest first, then Z→A"
		}
	default:
		words = "longest failing first"
		if desc {
			words = "newest failing first"
		}
	}
	return col + " " + arrow + " (" + words + ")"
}

func groupTitle(g group) string {
	switch g.sg.Kind {
	case store.GroupAllFailing:
		return "All failing"
	case store.GroupExpiring:
		return "Expiring, still working"
	case store.GroupEveryone:
		return "Everyone: any state"
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
	noProvider bool // none configured: the first-run screen says how to start
}

func (m *Model) statusData() statusData {
	names := map[string]bool{}
	for _, p := range m.opts.Providers {
		names[p] = true
	}
	for p := range m.syncStates {
		names[p] = true
	}
	d := statusData{states: m.syncStates, staleAfter: m.opts.StaleAfter, tasks: m.tasks, spin: m.spin, result: m.result,
		noProvider: m.firstRun()}
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
	switch {
	case d.noProvider:
		left = s.Warning.Render("no provider configured") + s.Subtle.Render(" "+ic.Sep+" cache only")
		if len(fresh) > 0 {
			left += s.Subtle.Render(" "+ic.Sep+" ") + strings.Join(fresh, s.Subtle.Render(" "+ic.Sep+" "))
		}
	case len(fresh) == 0:
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
	rs = cutResult(c, rs, most, d.result) // cut at the edge: "… L: messages" (view_log.go)
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
