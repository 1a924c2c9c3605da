package ui

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/relink/relink/health"
	"github.com/relink/relink/store"
)

// TestEveryCutEndsWithTheEllipsis: the helpers every view cuts with mark a
// cut: a cell, a line of a pane, and the last line of a pane that had more.
func TestEveryCutEndsWithTheEllipsis(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{fit("First Platypus Bank", 12, ""), "First Platy…"},
		{fit("First Platypus Bank", 12, "~"), "First Platy~"},
		{fit("Chase", 8, ""), "Chase   "},
		{fit("銀行の支店", 5, ""), "銀行…"},
		{box("a long line that does not fit\nshort", 10, 3), "a long li…\nshort     \n          "},
		{clip("one\ntwo\nthree\nfour", 10, 3), "one\ntwo\nthree…"},
		{clip("one\ntwo", 10, 3), "one\ntwo"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

// cobaltRows are connections at EHRs, one the names do not know, and a bank.
func cobaltRows() []store.Connection {
	failing := health.Health{Category: health.LoginRequired, ProviderCode: "access_token.login_required"}
	row := func(id int64, prov, pid, name, inst string) store.Connection {
		return store.Connection{ID: id, Provider: prov, ProviderID: pid, Name: name, Email: strings.ToLower(strings.ReplaceAll(name, " ", ".")) + "@example.com",
			Institution: inst, Health: failing}
	}
	return []store.Connection{
		row(1, "cobalt", "clinic-1", "Hiro Schmidt", "https://ecw.northside-clinic.example"),
		row(2, "cobalt", "clinic-2", "Kemi Costa", "https://epic.valleyhealth.example"),
		row(3, "cobalt", "clinic-3", "Ana Ibrahim", "https://ehr.example-clinic.com"),
		row(4, "plaid", "item-4", "Elena Tanaka", "First Platypus Bank"),
	}
}

// TestCobaltInstitutionsShowTheirEHRNeverAURL: at every size the table
// names a Cobalt institution by its EHR and organisation (the EHR's short
// name, then a cut, where the column is narrow), an unknown EHR by its host,
// and never shows a URL.
func TestCobaltInstitutionsShowTheirEHRNeverAURL(t *testing.T) {
	h := newHarness(t, newStore(t), Options{}, 120, 35)
	rows := cobaltRows()
	d := tableData{rows: rows, total: len(rows), loaded: true, kind: store.GroupAllFailing}
	for _, c := range []struct {
		w, h int
		want []string
	}{
		{80, 24, []string{"eCW · northside…", "Epic · valleyhe…", "ehr.example-cli…"}},
		{120, 35, []string{"eCW · northside…", "Epic · valleyhe…", "ehr.example-cli…"}},
		{160, 40, []string{"eCW · northside-clinic", "Epic · valleyhealth", "ehr.example-clinic.com"}},
		{200, 50, []string{"eClinicalWorks · northside-clinic", "Epic · valleyhealth", "ehr.example-clinic.com", "First Platypus Bank"}},
	} {
		l := computeLayout(c.w, c.h, false, false)
		out := ansi.Strip(renderTable(&h.m.c, d, l.tableW, 6))
		mustContain(t, out, c.want...)
		if strings.Contains(out, "https") {
			t.Errorf("%dx%d: the table shows a URL:\n%s", c.w, c.h, out)
		}
	}
}

// TestTheBreakdownNamesEHRsAndFitsItsNames: the side pane's institutions
// are named as in the table; in a narrow pane a bank's name stays whole
// and an EHR loses its long name before its organisation.
func TestTheBreakdownNamesEHRsAndFitsItsNames(t *testing.T) {
	h := newHarness(t, newStore(t), Options{}, 120, 35)
	bs := []store.Breakdown{{Provider: "plaid", Institution: "First Platypus Bank", N: 62},
		{Provider: "cobalt", Institution: "https://ecw.northside-clinic.example", N: 30}}
	narrow := ansi.Strip(strings.Join(breakdownLines(&h.m.c, bs, paneLeast-4), "\n"))
	mustContain(t, narrow, "First Platypus Bank ", "eCW · northside-clin… cobalt")
	wide := ansi.Strip(strings.Join(breakdownLines(&h.m.c, bs, 60), "\n"))
	mustContain(t, wide, "eClinicalWorks · northside-clinic cobalt")
	if strings.Contains(narrow+wide, "https") {
		t.Errorf("the breakdown shows a URL:\n%s\n%s", narrow, wide)
	}
}

// paneLines are the inner lines of a pane drawn by pane(), borders and
// padding left out.
func paneLines(p string) []string {
	lines := strings.Split(ansi.Strip(p), "\n")
	var out []string
	for _, l := range lines[1 : len(lines)-1] {
		l = strings.TrimSuffix(strings.TrimPrefix(l, "│ "), " │")
		out = append(out, strings.TrimRight(l, " "))
	}
	return out
}

// TestADetailValueStaysInItsColumn: in the open connection a long value
// wraps under its own column and, past its lines, ends with the ellipsis;
// it never runs into the label column or past the pane. History lines wrap
// under their summary and end with the ellipsis; a long event kind keeps
// its space before the summary. The institution is the EHR's name, its
// domain on a labelled line of its own.
func TestADetailValueStaysInItsColumn(t *testing.T) {
	h := newHarness(t, newStore(t), Options{}, 120, 35)
	conn := cobaltRows()[0]
	conn.UserRef = "user-00010-with-a-rather-long-reference-from-the-registry"
	conn.Health.ProviderReason = "account_locked_because_of_too_many_attempts_in_one_day"
	conn.Health.UserMessage = "Your EHR account is locked. Unlock it with your administrator, then reconnect. " +
		"If you do not know who your administrator is, ask the front desk of your clinic, who will know."
	at := epoch.Add(-time.Hour)
	d := detailData{conn: conn, ok: true, history: []store.Event{
		{Kind: "api_error", ObservedAt: at, Summary: "the EHR answered 503 three times in a row while the connection was checked, and then stopped answering at all"},
		{Kind: "webhook", ObservedAt: at, Summary: "→ account_locked", ProviderCode: "access_token.login_required"},
	}}
	const w = 46
	lines := paneLines(renderDetail(&h.m.c, d, w, 60))
	labels := regexp.MustCompile(`^(health|code|message|failing|seen|warning|outage|reminded|link|domain) +\S`)
	var message []string
	for i, l := range lines {
		if ansi.StringWidth(l) > w-4 {
			t.Errorf("line %d is wider than the pane: %q", i, l)
		}
		if strings.HasPrefix(l, "message ") {
			message = append(message, l)
			for _, more := range lines[i+1:] {
				if !strings.HasPrefix(more, strings.Repeat(" ", labelW)) {
					break
				}
				message = append(message, more)
			}
		}
		if len(l) > labelW && l[:labelW] != strings.Repeat(" ", labelW) && l[labelW-1] != ' ' && labels.MatchString(l) {
			t.Errorf("a value runs into its label: %q", l)
		}
	}
	if len(message) != 3 || !strings.HasSuffix(message[2], "…") {
		t.Errorf("the message wraps under its column in three lines, the last ending with …: %q", message)
	}
	text := strings.Join(lines, "\n")
	mustContain(t, text, "eClinicalWorks · northside-clinic", "\ndomain    https://ecw.northside-clinic.exa\n          mple",
		"1h    api_error the EHR answered 503 three",
		"1h    webhook   → account_locked\n      access_token.login_required")
	var summary []string
	for i, l := range lines {
		if strings.Contains(l, "api_error") {
			summary = lines[i : i+3]
			if strings.HasPrefix(lines[i+3], strings.Repeat(" ", 16)+"while") || !strings.HasSuffix(summary[2], "…") {
				t.Errorf("a long history line wraps in three lines under its summary and ends with …: %q", lines[i:i+4])
			}
		}
	}
	for _, l := range summary[1:] {
		if !strings.HasPrefix(l, strings.Repeat(" ", 16)) {
			t.Errorf("a history line wraps under its summary: %q", l)
		}
	}
}

// columnWidths are the columns of group kind's table and their widths on a
// w×h terminal, with the pane open or not.
func columnWidths(kind store.GroupKind, w, h int, detail bool) map[string]int {
	l := computeLayout(w, h, detail, false)
	cols, widths := layoutColumns(tableColumns(kind), l.tableW-3)
	out := map[string]int{}
	for i, c := range cols {
		out[c.id] = widths[i]
	}
	return out
}

// TestWideTerminalsGiveTheTableItsWidthFirst: from 160 columns the user
// and the institution grow to their natural width ("eClinicalWorks ·
// northside-clinic") while the side pane stays at its least; only a table
// that has them gives the pane more. At 80 and 120 columns the columns are
// as wide as they were.
func TestWideTerminalsGiveTheTableItsWidthFirst(t *testing.T) {
	natural := len([]rune("eClinicalWorks · northside-clinic"))
	for _, c := range []struct {
		w, h          int
		user, inst    int // at least
		paneAtMost    int // the pane: 64 before the table had first call
		everyColumnIn bool
	}{
		{160, 40, 18, len([]rune("eCW · northside-clinic")), paneLeast, false},
		{200, 50, 22, natural, paneLeast + 1, true}, // the expiring group's natural table is 158 wide
		{240, 60, 22, natural, 64, true},
	} {
		got := columnWidths(store.GroupAllFailing, c.w, c.h, false)
		if got["user"] < c.user || got["institution"] < c.inst {
			t.Errorf("%dx%d: user %d, institution %d; want at least %d and %d", c.w, c.h, got["user"], got["institution"], c.user, c.inst)
		}
		if l := computeLayout(c.w, c.h, false, false); l.paneW > c.paneAtMost || (c.w == 240 && l.paneW <= paneLeast) {
			t.Errorf("%dx%d: the pane is %d wide, want at most %d (and more than %d once the table is natural)", c.w, c.h, l.paneW, c.paneAtMost, paneLeast)
		}
		if c.everyColumnIn && len(got) != len(tableColumns(store.GroupAllFailing)) {
			t.Errorf("%dx%d: columns %v, want every one", c.w, c.h, got)
		}
	}
	// what 80 and 120 columns showed before the wide layout: no narrower
	for _, c := range []struct {
		w, h int
		want map[string]int
	}{
		{80, 24, map[string]int{"user": 19, "institution": 16, "category": 20, "since": 9, "reminded": 9}},
		{120, 35, map[string]int{"user": 18, "institution": 16, "category": 20, "since": 9, "reminded": 9}},
	} {
		if got := columnWidths(store.GroupAllFailing, c.w, c.h, false); fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("%dx%d: columns %v, want %v", c.w, c.h, got, c.want)
		}
	}
}

// TestOpeningAConnectionMovesFewColumns: opening the pane keeps every
// column of the table; it only takes the cells the pane needs, from the
// columns' last growth, and none grows. (At 120 columns the expiring
// group's 23-cell warning column and the lookup's email leave no room:
// there the lowest column goes.)
func TestOpeningAConnectionMovesFewColumns(t *testing.T) {
	for _, size := range [][2]int{{120, 35}, {160, 40}, {200, 50}} {
		for _, kind := range []store.GroupKind{store.GroupAllFailing, store.GroupCategory, store.GroupEveryone, store.GroupExpiring} {
			if (kind == store.GroupExpiring || kind == store.GroupEveryone) && size[0] == 120 {
				continue
			}
			closed, open := columnWidths(kind, size[0], size[1], false), columnWidths(kind, size[0], size[1], true)
			lc, lo := computeLayout(size[0], size[1], false, false), computeLayout(size[0], size[1], true, false)
			if len(open) != len(closed) {
				t.Errorf("%dx%d kind %d: enter changes the columns %v to %v", size[0], size[1], kind, closed, open)
				continue
			}
			took := 0
			for id, w := range closed {
				if open[id] > w {
					t.Errorf("%dx%d kind %d: %s grows from %d to %d", size[0], size[1], kind, id, w, open[id])
				}
				took += w - open[id]
			}
			if took != lc.tableW-lo.tableW {
				t.Errorf("%dx%d kind %d: the columns gave %d cells, the pane took %d", size[0], size[1], kind, took, lc.tableW-lo.tableW)
			}
		}
	}
}

// TestTheExpiringPaneKeepsItsNotesWhole: a note that does not fit beside
// its count goes under it, whole; the pane spends no width on a cut sentence.
func TestTheExpiringPaneKeepsItsNotesWhole(t *testing.T) {
	h := newHarness(t, newStore(t), Options{}, 120, 35)
	h.toGroup("expiring")
	d := h.m.insightsData()
	d.ins.group, d.ins.err = d.g.key(), nil
	d.ins.expiring = store.ExpiringSummary{Passed: 2, Within7d: 3, NoDeadline: 1,
		ByWarning: map[health.Warning]int{health.ConsentExpiring: 5, health.PasswordChangeWarning: 1}}
	lines := paneLines(renderInsights(&h.m.c, d, paneLeast, 20))
	text := strings.Join(lines, "\n")
	mustContain(t, text, "the next check tells", "listed last", "password_change_warning")
	for _, l := range lines {
		if strings.HasSuffix(l, "…") {
			t.Errorf("the expiring pane cuts a line: %q\n%s", l, text)
		}
	}
}
