package ui

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/relink/relink/health"
	"github.com/relink/relink/store"
)

// The agent's screen (issue 11): the whole picture on the first screen,
// anyone found, nothing that misleads.

// moreFailing adds connections in nine more failing categories to the test
// store, so that every kind of row (and more than a tab bar holds) is there.
func moreFailing(t *testing.T, st *store.Store) {
	t.Helper()
	addConnections(t, st, []spec{
		{health.PermissionRevoked, 2, "Chase"}, {health.PasswordExpired, 3, "Wells Fargo"}, {health.ConsentExpired, 2, "Banco Azul"},
		{health.ActionAtInstitution, 2, "Chase"}, {health.ConsentInsufficient, 1, "Nubank"}, {health.Incomplete, 2, "Chase"},
		{health.NotFound, 2, "Wells Fargo"}, {health.Unsupported, 1, "Nubank"}, {health.RateLimited, 1, "Chase"},
	})
}

// specNames name the connections addConnections adds, after their category.
var specNames = map[health.Category]string{
	health.PermissionRevoked: "Pat Revoked", health.PasswordExpired: "Paz Expired", health.ConsentExpired: "Cora Consent",
	health.ActionAtInstitution: "Abe Action", health.ConsentInsufficient: "Ines Scope", health.Incomplete: "Ivan Partial",
	health.NotFound: "Nora Gone", health.Unsupported: "Uma Nope", health.RateLimited: "Ray Slow", health.Healthy: "Hal Fine",
	health.Unknown: "Una Never",
}

type spec struct {
	cat  health.Category
	n    int
	inst string
}

// addConnections registers n Plaid connections per spec, named after their
// category ("Nora Gone 1" is not_found), failing since a day per row.
func addConnections(t *testing.T, st *store.Store, specs []spec) {
	t.Helper()
	ctx := context.Background()
	im, err := st.BeginImport(ctx, "test")
	if err != nil {
		t.Fatal(err)
	}
	var obs []store.Observation
	for _, sp := range specs {
		for j := 1; j <= sp.n; j++ {
			pid := fmt.Sprintf("%s-%d", sp.cat, j)
			name := fmt.Sprintf("%s %d", specNames[sp.cat], j)
			if err := im.Add(ctx, store.Registration{Provider: "plaid", ProviderID: pid, Name: name, Institution: sp.inst,
				Email: strings.ToLower(strings.ReplaceAll(name, " ", ".")) + "@example.com"}); err != nil {
				t.Fatal(err)
			}
			if sp.cat == health.Unknown {
				continue
			}
			at := epoch.Add(-time.Duration(24*j) * time.Hour)
			obs = append(obs, store.Observation{Provider: "plaid", ProviderID: pid, Kind: "poll", ReceivedAt: at,
				Signal: health.Signal{Effect: health.SetPrimary, Category: sp.cat, ProviderCode: "CODE", Source: health.SourcePoll, ObservedAt: at}})
		}
	}
	if err := im.Commit(ctx, "test"); err != nil {
		t.Fatal(err)
	}
	if len(obs) > 0 {
		if _, err := st.Apply(ctx, obs); err != nil {
			t.Fatal(err)
		}
	}
}

// emptyStore is a cache with nothing in it, as on a first run.
func emptyStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "relink.db"), store.Options{Now: func() time.Time { return epoch }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// paneText is the side pane's columns of the screen (beside the table), or
// the lines under the table when the pane is below it.
func (h *harness) paneText() string {
	l := h.m.lay
	lines := strings.Split(h.screen(), "\n")
	var out []string
	for i, line := range lines[2 : 2+l.mainH] {
		if l.paneBelow {
			if i >= l.tableH {
				out = append(out, line)
			}
			continue
		}
		out = append(out, ansi.Cut(line, l.tableW+1, l.w))
	}
	for i, l := range out { // without the border
		out[i] = strings.TrimRight(strings.TrimPrefix(strings.TrimSuffix(strings.TrimRight(l, " "), "│"), "│"), " ")
	}
	return strings.Join(out, "\n")
}

// status is the status line.
func (h *harness) status() string {
	lines := strings.Split(h.screen(), "\n")
	return lines[len(lines)-2]
}

func failingCounts(t *testing.T, st *store.Store) []string {
	t.Helper()
	c, err := st.Counts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, cat := range health.Categories() {
		if cat.Failing() && c.ByCategory[cat] > 0 {
			out = append(out, fmt.Sprintf("%s %d", cat, c.ByCategory[cat]))
		}
	}
	return out
}

// TestFirstScreenNamesEveryFailingCategoryWorstFirst: at 120x35 the side
// pane of All failing lists every non-empty failing category with its count,
// worst first, numbered for the jump keys; the ones no reminder fixes are
// marked, and what is not failing is counted too.
func TestFirstScreenNamesEveryFailingCategoryWorstFirst(t *testing.T) {
	st := newStore(t)
	moreFailing(t, st)
	h := newHarness(t, st, Options{}, 120, 35)
	pane := h.paneText()
	want := failingCounts(t, st)
	if len(want) != 13 {
		t.Fatalf("fixture: %d failing categories", len(want))
	}
	at := -1
	for _, w := range want {
		cat, n, _ := strings.Cut(w, " ")
		var line string
		for _, l := range strings.Split(pane, "\n") {
			if strings.Contains(l, " "+cat+" ") {
				line = l
			}
		}
		if !strings.HasSuffix(strings.Fields(strings.Split(line, cat)[1])[0], n) {
			t.Errorf("%s: line %q has no count %s", cat, line, n)
		}
		if i := strings.Index(pane, " "+cat+" "); i < at {
			t.Errorf("%s is listed before a worse category:\n%s", cat, pane)
		} else {
			at = i
		}
		if (strings.Contains(line, "✗")) == health.Category(cat).Remindable() {
			t.Errorf("%s: the no-reminder mark is wrong in %q", cat, line)
		}
	}
	mustContain(t, pane, "All failing: 45 in 13 categories", "2 permission_revoked", "8 action_at_institution", "9 consent_insufficient",
		"expiring", "healthy", "✗ a reminder cannot fix it", ": finds a group by name")
	mustContain(t, h.line("relink"), "›") // the tab bar holds a few: the pane has them all
}

// TestFirstScreenAt80ColumnsSaysHowManyMore: under the table at 80x24 the
// strip names as many categories as fit, worst first, and how many more,
// with the key that finds them.
func TestFirstScreenAt80ColumnsSaysHowManyMore(t *testing.T) {
	st := newStore(t)
	moreFailing(t, st)
	h := newHarness(t, st, Options{}, 80, 24)
	strip := h.paneText()
	want := failingCounts(t, st)
	shown := 0
	for _, w := range want {
		if strings.Contains(strip, w) {
			shown++
		}
	}
	if shown == 0 || shown == len(want) {
		t.Fatalf("%d of %d categories in the strip:\n%s", shown, len(want), strip)
	}
	for _, w := range want[:shown] { // the worst ones
		mustContain(t, strip, w)
	}
	mustContain(t, strip, fmt.Sprintf("+%d more (press :)", len(want)-shown))
}

// TestColonFindsAGroupByName: ":" lists the groups first, finds one by its
// name (":mfa" is mfa_required), and the number keys jump to the tabs.
func TestColonFindsAGroupByName(t *testing.T) {
	h := newHarness(t, newStore(t), Options{}, 120, 35)
	h.press(":")
	p := h.m.overlay.(*paletteOverlay)
	es := p.entries(&h.m.c)
	for i := range h.m.groups {
		if !strings.HasPrefix(es[i].text, "go to ") {
			t.Fatalf("entry %d is %q: the groups come first", i, es[i].text)
		}
	}
	for _, e := range es[:12] {
		if e.name == "down" || e.name == "up" {
			t.Fatalf("the palette shows %q among its first lines", e.text)
		}
	}
	h.typ("mfa")
	mustContain(t, h.screen(), "go to mfa_required")
	h.press("enter")
	if g := h.m.group(); g.sg.Category != health.MFARequired || h.m.overlay != nil {
		t.Fatalf(":mfa went to %s", g.key())
	}
	h.press(":")
	h.typ("locked")
	h.press("enter")
	if g := h.m.group(); g.sg.Category != health.AccountLocked {
		t.Fatalf(":locked went to %s", g.key())
	}
	h.press("3")
	if g := h.m.group(); g.key() != h.m.groups[2].key() || g.sg.Category != health.LoginRequired {
		t.Fatalf("3 went to %s", g.key())
	}
	h.press("1")
	if h.m.group().key() != "all" {
		t.Fatalf("1 went to %s", h.m.group().key())
	}
	h.press("9")
	mustContain(t, h.screen(), "there are 6 groups; : finds one by name")
}

// TestFirstRunSaysHowToStart: with no provider configured the empty screen
// names the config file looked for and the next steps, never "nothing
// failing"; ctrl+r says there is nothing to sync and why.
func TestFirstRunSaysHowToStart(t *testing.T) {
	st := emptyStore(t)
	h := newHarness(t, st, Options{Providers: []string{}, ConfigFile: "/home/dana/.config/relink/config.toml"}, 120, 35)
	s := h.screen()
	mustContain(t, s, "Getting started: no provider is configured", "/home/dana/.config/relink/config.toml (not found)",
		"cache   empty", "relink --demo", "add a provider's keys", "relink import users.csv", "relink sync",
		"no provider configured", "the cache is empty")
	if strings.Contains(s, "nothing failing") {
		t.Fatalf("a first run says nothing is failing:\n%s", s)
	}
	h.press("ctrl+r")
	mustContain(t, h.status(),
		"✗ nothing to sync: no provider configured in /home/dana/.config/relink/config.toml (not found); try relink --demo")

	// Imported, never checked: counted as such.
	addConnections(t, st, []spec{{health.Unknown, 3, "Chase"}})
	h.advance(h.m.opts.RefreshInterval)
	mustContain(t, h.screen(), "cache   3 connections, 3 never checked")
	mustContain(t, strings.Join(strings.Fields(h.paneText()), " "), "! nothing checked yet never checked 3")

	found := newHarness(t, st, Options{Providers: []string{}, ConfigFile: "/tmp/relink.toml", ConfigFound: true}, 80, 24)
	mustContain(t, found.screen(), "/tmp/relink.toml (read: it configures no provider)")
}

// TestNeverCheckedIsNotNothingFailing: with providers configured, an All
// failing that is empty because nothing was checked says so.
func TestNeverCheckedIsNotNothingFailing(t *testing.T) {
	st := emptyStore(t)
	addConnections(t, st, []spec{{health.Unknown, 3, "Chase"}, {health.Healthy, 2, "Chase"}})
	h := newHarness(t, st, Options{Actions: realDesk(st)}, 120, 35)
	mustContain(t, h.screen(), "! 3 connections were never checked: ctrl+r checks them (or relink sync)",
		"nothing failing among the 2 checked", "✓ nothing failing of the 2 checked")
	mustContain(t, strings.Join(strings.Fields(h.paneText()), " "), "never checked 3 healthy 2")
	if strings.Contains(h.screen(), "nothing failing here") {
		t.Fatal("never-checked connections shown as nothing failing")
	}
}

// TestFindAnyoneWhateverTheirState: / filters the group; the view says how
// many connections in any state match and tab (typing) or e shows them,
// healthy and never checked included, each with its state; esc goes back.
func TestFindAnyoneWhateverTheirState(t *testing.T) {
	st := newStore(t)
	addConnections(t, st, []spec{{health.Unknown, 1, "Epic"}})
	var healthy store.Connection
	st.List(context.Background(), store.ListQuery{Category: health.Healthy}, func(c store.Connection) error {
		if healthy.ID == 0 && c.Health.Warning == health.NoWarning {
			healthy = c
		}
		return nil
	})
	h := newHarness(t, st, Options{}, 120, 35)
	h.toGroup(string(health.MFARequired))
	h.press("/")
	h.typ(healthy.Email)
	h.advance(filterDebounce)
	if h.m.total != 0 {
		t.Fatalf("%s is in mfa_required?", healthy.Email)
	}
	mustContain(t, h.line("/ "+healthy.Email), "1 in any state: tab shows them")
	mustContain(t, h.screen(), "no match in this group; 1 in any state: e shows them, esc clears", "tab any state")
	h.press("tab")
	if !h.m.everyone || h.m.filterOn || h.m.total != 1 {
		t.Fatalf("tab: everyone %v, input %v, %d found", h.m.everyone, h.m.filterOn, h.m.total)
	}
	row := h.line(healthy.Name)
	mustContain(t, row, "›", healthy.Email, "healthy")
	mustContain(t, h.screen(), "Everyone: any state", `filter "`+healthy.Email+`" 1 found`, "everyone 38", "Everyone: 38 connections")

	h.press("esc") // back to the group, the filter kept; esc again clears it
	if h.m.everyone || h.m.group().sg.Category != health.MFARequired || h.m.filter.Value() != healthy.Email {
		t.Fatalf("esc: everyone %v, group %s, filter %q", h.m.everyone, h.m.group().key(), h.m.filter.Value())
	}
	h.press("esc")
	if h.m.total != 6 {
		t.Fatalf("filter not cleared: %d rows", h.m.total)
	}

	// Enter, when the group has nothing and others have: everyone.
	h.press("/")
	h.typ("una.never.1@")
	h.advance(filterDebounce)
	h.press("enter")
	if !h.m.everyone || h.m.total != 1 {
		t.Fatalf("enter: everyone %v, %d found", h.m.everyone, h.m.total)
	}
	mustContain(t, h.line("Una Never 1"), "una.never.1@example.com", "never checked")

	// e with no filter: the lookup opens, ready to type.
	h.press("esc", "esc")
	h.press("e")
	if !h.m.everyone || !h.m.filterOn {
		t.Fatalf("e: everyone %v, input %v", h.m.everyone, h.m.filterOn)
	}
	h.press("esc")
	mustContain(t, h.screen(), "Find anyone among 38 connections, failing, healthy or never checked:")
}

// TestFilterMatchesTheCategoryColumn: what the table shows is what the
// filter finds, the category column included.
func TestFilterMatchesTheCategoryColumn(t *testing.T) {
	st := newStore(t)
	h := newHarness(t, st, Options{}, 120, 35)
	h.press("/")
	h.typ("chase mfa_required")
	h.advance(filterDebounce)
	if h.m.total == 0 {
		t.Fatal("nothing found")
	}
	for _, c := range h.m.rows {
		if c.Institution != "Chase" || c.Health.Category != health.MFARequired {
			t.Errorf("%s: %s at %s", c.Name, c.Health.Category, c.Institution)
		}
		mustContain(t, h.line(c.Name), "Chase", "mfa_required")
	}
}

// TestFilterFindsTheEHRNameShown: a Cobalt institution shows as its EHR
// ("Epic · northwell" for mychart.northwell.example), and the filter finds
// it by that name, which the raw domain the store keeps does not hold.
func TestFilterFindsTheEHRNameShown(t *testing.T) {
	st := newStore(t)
	h := newHarness(t, st, Options{}, 120, 35)
	h.press("/")
	h.typ("epic")
	h.advance(filterDebounce)
	if h.m.total == 0 {
		t.Fatalf("epic found nothing:\n%s", h.screen())
	}
	for _, c := range h.m.rows {
		if c.Provider != "cobalt" {
			t.Errorf("%s at %s (%s) found by epic", c.Name, c.Institution, c.Provider)
		}
		mustContain(t, h.line(c.Name), "Epic · northwell")
	}
}

// TestRepairLandsInPlace: the open connection, repaired (a webhook, a sync
// or a recheck: the store changes and the dashboard re-reads it), stays in
// the pane, shown healthy, with "✓ … repaired"; the next j goes on from
// where it was.
func TestRepairLandsInPlace(t *testing.T) {
	st := newStore(t)
	h := newHarness(t, st, Options{}, 120, 35)
	h.toGroup(string(health.LoginRequired))
	h.press("j", "j", "enter")
	open, _ := h.m.selected()
	next := h.m.rows[h.m.cursor+1]
	repair := func(c store.Connection, cat health.Category, id string) {
		t.Helper()
		_, err := st.Apply(context.Background(), []store.Observation{{Provider: c.Provider, ProviderID: c.ProviderID, EventID: id,
			Kind: "webhook", Signal: health.Signal{Effect: health.SetPrimary, Category: cat, ProviderCode: "LOGIN_REPAIRED",
				Source: health.SourceWebhook, ObservedAt: epoch.Add(time.Minute)}}})
		if err != nil {
			t.Fatal(err)
		}
		h.advance(h.m.opts.RefreshInterval)
	}
	repair(open, health.Healthy, "evt-repaired")
	if c, ok := h.m.selected(); !ok || c.ID != open.ID {
		t.Fatalf("the pane moved to %q", c.Name)
	}
	pane := h.paneText()
	mustContain(t, pane, "Connection "+open.Ref(), open.Name, "✓ repaired: no longer in login_required", "Healthy (healthy)", "→ healthy")
	mustContain(t, h.status(), "✓ "+open.Name+" repaired")
	for _, l := range strings.Split(h.screen(), "\n")[3:] {
		if strings.HasPrefix(l, "›") {
			t.Fatalf("a row is selected while the pane holds another: %q", l)
		}
	}
	if h.m.total != 13 {
		t.Fatalf("login_required still has %d", h.m.total)
	}
	h.advance(h.m.opts.RefreshInterval) // said once
	if h.m.result != nil && strings.Contains(h.m.result.text, "repaired") && h.m.result.id != h.m.taskSeq {
		t.Fatal("the toast came again")
	}
	h.press("j")
	if c, _ := h.m.selected(); c.ID != next.ID || h.m.pinned != nil {
		t.Fatalf("j after the repair: %q, want %q (the row after it)", c.Name, next.Name)
	}

	// One that changes category leaves the group too, and says where it went.
	moved, _ := h.m.selected()
	repair(moved, health.MFARequired, "evt-moved")
	mustContain(t, strings.Join(strings.Fields(h.paneText()), " "), "now mfa_required: no longer in login_required", "MFA required")
	mustContain(t, h.status(), moved.Name+" is now mfa_required, no longer in login_required")
	h.press("esc")
	if h.m.pinned != nil || h.m.detailOpen {
		t.Fatal("esc closes the pane and lets go of the connection")
	}
}

// TestMarksStayInTheGroupTheyWereMadeIn: leaving a group clears its marks
// and says so, so r in the next group acts on what is on screen only.
func TestMarksStayInTheGroupTheyWereMadeIn(t *testing.T) {
	h := newHarness(t, newStore(t), Options{}, 120, 35)
	h.toGroup(string(health.AccountLocked))
	h.press("space", "space")
	if len(h.m.marks) != 2 {
		t.Fatalf("%d marks", len(h.m.marks))
	}
	h.press("tab")
	if len(h.m.marks) != 0 {
		t.Fatalf("%d marks after leaving account_locked", len(h.m.marks))
	}
	mustContain(t, h.status(), "✓ 2 marks cleared: marks stay in the group they were made in (account_locked)")
	c, _ := h.m.selected()
	if got := h.m.targets(); len(got) != 1 || got[0] != c.Ref() {
		t.Fatalf("r would act on %v, not the row on screen %s", got, c.Ref())
	}
	// A mark-all still reading when the group changes marks nothing.
	pending := h.m.markAllCmd()
	h.press("tab")
	h.run(pending)
	if len(h.m.marks) != 0 {
		t.Fatalf("a late mark-all marked %d in the group left", len(h.m.marks))
	}
	// So does the lookup of anyone.
	h.press("space", "e")
	if len(h.m.marks) != 0 {
		t.Fatal("marks followed into everyone")
	}
}

// TestRowsNoReminderCanFixSaySoBeforeR: the reminded column of a row no
// reminder can fix says why in a word, the pane in a sentence; and All
// failing starts with rows r works on, though permission_revoked is worst.
func TestRowsNoReminderCanFixSaySoBeforeR(t *testing.T) {
	st := newStore(t)
	moreFailing(t, st)
	h := newHarness(t, st, Options{}, 120, 35)
	if c := h.m.rows[0]; !c.Health.Category.Remindable() {
		t.Fatalf("All failing starts with %s, which r cannot fix", c.Health.Category)
	}
	h.press("G")
	for word, name := range map[string]string{"✗ contact": "Pat Revoked 1", "✗ re-link": "Nora Gone 1",
		"✗ manual": "Ines Scope 1", "✗ ours": "Uma Nope 1", "✗ waits": "Ray Slow 1"} {
		h.press("/")
		h.typ(strings.ToLower(strings.ReplaceAll(name, " ", ".")) + "@")
		h.advance(filterDebounce)
		h.press("enter")
		mustContain(t, h.line(name), word)
		h.press("esc")
	}
	for _, l := range strings.Split(h.screen(), "\n") {
		if l = ansi.Cut(l, 0, h.m.lay.tableW); strings.Contains(l, "login_required") && strings.Contains(l, "✗") {
			t.Fatalf("a row r can fix is marked: %q", l)
		}
	}
	h.toGroup(string(health.PermissionRevoked))
	h.press("enter")
	mustContain(t, strings.Join(strings.Fields(h.paneText()), " "), "✗ no reminder: the user revoked access: a reminder cannot undo that; contact them personally")
}

// TestSortLabelMatchesTheOrder: the view bar names the sorted column as the
// table titles it, its arrow points the way the values run, and the words
// say every key of the order; the rows are in that order.
func TestSortLabelMatchesTheOrder(t *testing.T) {
	st := newStore(t)
	moreFailing(t, st)
	h := newHarness(t, st, Options{}, 120, 35)
	bar := func() string { return strings.Split(h.screen(), "\n")[1] }
	head := func() string { return strings.Split(h.screen(), "\n")[2] }
	mustContain(t, bar(), "sort failing ↓ (remindable first, then worst, then longest)")
	mustContain(t, head(), "failing ↓")
	rows := h.m.rows
	for i := 1; i < len(rows); i++ {
		a, b := rows[i-1].Health, rows[i].Health
		switch {
		case a.Category.Remindable() != b.Category.Remindable():
			if !a.Category.Remindable() {
				t.Fatalf("row %d: %s (no reminder) before %s", i, a.Category, b.Category)
			}
		case a.Category.Rank() != b.Category.Rank():
			if a.Category.Rank() < b.Category.Rank() {
				t.Fatalf("row %d: %s before the worse %s", i, a.Category, b.Category)
			}
		case a.FirstFailedAt.After(*b.FirstFailedAt):
			t.Fatalf("row %d: failing for less long first", i)
		}
	}
	h.press("S")
	mustContain(t, bar(), "sort failing ↑ (not remindable first, then mildest, then newest)")
	mustContain(t, head(), "failing ↑")
	if h.m.rows[0].Health.Category.Remindable() {
		t.Fatalf("reversed, All failing starts with %s", h.m.rows[0].Health.Category)
	}
	h.press("S")
	h.toGroup(string(health.LoginRequired))
	mustContain(t, bar(), "sort failing ↓ (longest failing first)")
	for i := 1; i < len(h.m.rows); i++ {
		if h.m.rows[i-1].Health.FirstFailedAt.After(*h.m.rows[i].Health.FirstFailedAt) {
			t.Fatalf("login_required row %d is failing for less long than the next", i)
		}
	}
	h.press("s")
	mustContain(t, bar(), "sort user ↑ (A→Z)")
	mustContain(t, head(), "user ↑")
	h.press("s")
	mustContain(t, bar(), "sort institution ↑ (A→Z)")
	mustContain(t, head(), "institution ↑")
	h.press("s")
	h.toGroup("expiring")
	mustContain(t, bar(), "sort deadline ↑ (soonest first, no date last)")
	mustContain(t, head(), "deadline ↑")
}

// TestExpiringSoonestFirstNoDateLast: a warning without a deadline comes
// after every dated one, saying "no date"; the pane counts the deadlines
// and warnings instead of a sentence cut at its edge.
func TestExpiringSoonestFirstNoDateLast(t *testing.T) {
	st := newStore(t)
	addConnections(t, st, []spec{{health.Healthy, 1, "Epic"}})
	_, err := st.Apply(context.Background(), []store.Observation{{Provider: "plaid", ProviderID: "healthy-1", Kind: "webhook",
		Signal: health.Signal{Effect: health.SetWarning, Warning: health.PasswordChangeWarning, Source: health.SourceWebhook,
			ObservedAt: epoch}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, size := range [][2]int{{120, 35}, {80, 24}} {
		h := newHarness(t, st, Options{}, size[0], size[1])
		h.toGroup("expiring")
		last := h.m.rows[len(h.m.rows)-1]
		if last.Health.Warning != health.PasswordChangeWarning || h.m.total != 4 {
			t.Fatalf("last row %s (%s), %d rows", last.Name, last.Health.Warning, h.m.total)
		}
		for i := 1; i < len(h.m.rows)-1; i++ {
			if h.m.rows[i-1].Health.Deadline.After(*h.m.rows[i].Health.Deadline) {
				t.Fatalf("row %d: a later deadline first", i)
			}
		}
		mustContain(t, h.line(last.Name), "password_change_warning", "no date")
		pane := h.paneText()
		if size[0] == 120 {
			mustContain(t, strings.Join(strings.Fields(pane), " "), "within a week 3", "no date 1 listed last", "By warning",
				"consent_expiring 3 password_change_warning 1")
		} else {
			mustContain(t, pane, "3 within a week · 1 no date", "consent_expiring 3 · password_change_warning 1")
		}
		if strings.Contains(pane, "…") {
			t.Fatalf("%dx%d: the pane cuts a line:\n%s", size[0], size[1], pane)
		}
	}
}

// TestSortIsNamedAfterItsColumn: every sort, in every kind of group, is
// named by the title of the column it sorts by, and that column carries
// the arrow.
func TestSortIsNamedAfterItsColumn(t *testing.T) {
	for _, kind := range []store.GroupKind{store.GroupCategory, store.GroupAllFailing, store.GroupExpiring, store.GroupEveryone} {
		for _, by := range []store.Sort{store.SortSince, store.SortName, store.SortInstitution} {
			var title string
			for _, c := range tableColumns(kind) {
				if c.id == sortColumn(by) {
					title = c.title
				}
			}
			if name := sortColumnName(kind, by); name != title {
				t.Errorf("kind %d, sort %d: named %q, its column is titled %q", kind, by, name, title)
			}
		}
	}
}

// TestViewBarFitsAt80Columns: the group, the order in words and the
// position fit on the view bar of an 80-column terminal, uncut; with marks
// the marks stay and the order keeps its column and arrow.
func TestViewBarFitsAt80Columns(t *testing.T) {
	h := newHarness(t, newStore(t), Options{}, 80, 24)
	bar := func() string { return strings.Split(h.screen(), "\n")[1] }
	for _, g := range []string{"all", string(health.LoginRequired), "expiring"} {
		h.toGroup(g)
		if strings.Contains(bar(), "…") {
			t.Errorf("%s: %q", g, bar())
		}
	}
	h.toGroup(string(health.LoginRequired))
	h.press("space", "space")
	mustContain(t, bar(), "● 2 marked · sort failing ↓")
}

// TestGoldenFirstScreen draws the first screen over a cache with thirteen
// failing categories, and a first run, at 80x24 and 120x35.
func TestGoldenFirstScreen(t *testing.T) {
	st := newStore(t)
	moreFailing(t, st)
	for _, size := range [][2]int{{80, 24}, {120, 35}} {
		for _, variant := range []string{"dark", "light"} {
			t.Run(fmt.Sprintf("%dx%d/%s", size[0], size[1], variant), func(t *testing.T) {
				h := newHarness(t, st, Options{Operator: "dana"}, size[0], size[1])
				h.themed(variant)
				t.Run("overview", func(t *testing.T) { golden(t, h.m.render()) })
				first := newHarness(t, emptyStore(t), Options{Operator: "dana", Providers: []string{},
					ConfigFile: "/home/dana/.config/relink/config.toml"}, size[0], size[1])
				first.themed(variant)
				t.Run("first-run", func(t *testing.T) { golden(t, first.m.render()) })
			})
		}
	}
}
