package store

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/relink/relink/health"
)

// TestRemindableMatchesHealth: migration 0008's remindable column, which
// orders All failing, says yes exactly where the taxonomy does.
func TestRemindableMatchesHealth(t *testing.T) {
	s := openTest(t)
	for i, cat := range health.Categories() {
		o := obs("belvo", fmt.Sprintf("r%d", i), cat, i, "poll")
		o.Register = true
		mustApply(t, s, o)
		var got bool
		if err := s.db.QueryRow(`SELECT remindable FROM connections WHERE provider_id = ?`, o.ProviderID).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != cat.Remindable() {
			t.Errorf("%s: remindable %v in the store, %v in health: update migration 0008's list (in a new migration)", cat, got, cat.Remindable())
		}
	}
}

// TestAllFailingShowsWhatARemindersCanFixFirst: a revoked permission is the
// worst category, but no reminder fixes it, so it comes after every row a
// reminder can fix; reversed, it comes first.
func TestAllFailingShowsWhatARemindersCanFixFirst(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	seedFailing(t, s) // Bob account_locked; Zoe, Mia, Ana login_required (longest failing first)
	for _, r := range []struct {
		id, name string
		cat      health.Category
	}{{"p", "Pat", health.PermissionRevoked}, {"n", "Nil", health.NotFound}} {
		o := obs("belvo", r.id, r.cat, 0, "poll")
		o.Register = true
		mustApply(t, s, o)
		s.db.Exec("UPDATE connections SET name = ? WHERE provider_id = ?", r.name, r.id)
	}
	all := Group{Kind: GroupAllFailing}
	for _, c := range []struct {
		q    PageQuery
		want string
	}{
		{PageQuery{Group: all}, "Bob,Ana,Mia,Zoe,Pat,Nil"},
		{PageQuery{Group: all, Desc: true}, "Nil,Pat,Zoe,Mia,Ana,Bob"},
	} {
		got, err := s.Page(ctx, c.q)
		if err != nil {
			t.Fatal(err)
		}
		if names(got) != c.want {
			t.Errorf("desc %v: %q, want %q", c.q.Desc, names(got), c.want)
		}
	}
}

// TestFilterMatchesTheCategoryColumn: the filter finds what the table shows,
// the category (or warning) column included: "/azul login" is Banco Azul's
// login failures, not its locked accounts.
func TestFilterMatchesTheCategoryColumn(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	seedFailing(t, s)
	o := obs("belvo", "l", health.AccountLocked, 5, "poll")
	o.Register, o.Institution = true, "Banco Azul"
	mustApply(t, s, o)
	s.db.Exec("UPDATE connections SET name = 'Lea' WHERE provider_id = 'l'")
	all := Group{Kind: GroupAllFailing}
	for filter, want := range map[string]string{
		"azul login_required": "Mia,Zoe",
		"banco azul locked":   "Lea",
		"chase account_lock":  "Bob",
		"azul":                "Lea,Mia,Zoe",
	} {
		got, err := s.Page(ctx, PageQuery{Group: all, Filter: filter})
		if err != nil {
			t.Fatal(err)
		}
		if names(got) != want {
			t.Errorf("filter %q: %q, want %q", filter, names(got), want)
		}
	}
	// A warning is on screen in the expiring group, and is found there.
	dl := t0.Add(48 * time.Hour)
	mustApply(t, s, Observation{Provider: "belvo", ProviderID: "e", Kind: "webhook", Signal: health.Signal{Effect: health.SetWarning,
		Warning: health.ConsentExpiring, Deadline: &dl, Source: health.SourceWebhook, ObservedAt: t0}})
	if got, _ := s.Page(ctx, PageQuery{Group: Group{Kind: GroupExpiring}, Filter: "consent_exp"}); names(got) != "Eve" {
		t.Errorf("expiring filtered by its warning: %q", names(got))
	}
}

// TestExpiringSoonestFirstNoDeadlineLast: a password change due has no date;
// it comes after every dated warning, and first when the order is reversed
// (latest first: no date is the latest of all).
func TestExpiringSoonestFirstNoDeadlineLast(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	warn := func(id string, w health.Warning, in time.Duration) {
		o := obs("belvo", id, health.Healthy, 0, "poll")
		o.Register = true
		mustApply(t, s, o)
		sig := health.Signal{Effect: health.SetWarning, Warning: w, Source: health.SourceWebhook, ObservedAt: t0.Add(time.Minute)}
		if in != 0 {
			d := t0.Add(in)
			sig.Deadline = &d
		}
		mustApply(t, s, Observation{Provider: "belvo", ProviderID: id, Kind: "webhook", Signal: sig})
		s.db.Exec("UPDATE connections SET name = ? WHERE provider_id = ?", id, id)
	}
	warn("pw", health.PasswordChangeWarning, 0)
	warn("in9d", health.ConsentExpiring, 9*24*time.Hour)
	warn("in5h", health.ConsentExpiring, 5*time.Hour)
	warn("gone", health.ConsentExpiring, -time.Hour)
	warn("in3d", health.ConsentExpiring, 3*24*time.Hour)
	exp := Group{Kind: GroupExpiring}
	if got, _ := s.Page(ctx, PageQuery{Group: exp}); names(got) != "gone,in5h,in3d,in9d,pw" {
		t.Errorf("soonest first: %q", names(got))
	}
	if got, _ := s.Page(ctx, PageQuery{Group: exp, Desc: true}); names(got) != "pw,in9d,in3d,in5h,gone" {
		t.Errorf("reversed: %q", names(got))
	}
	sum, err := s.Expiring(ctx, t0)
	if err != nil {
		t.Fatal(err)
	}
	want := ExpiringSummary{ByWarning: map[health.Warning]int{health.ConsentExpiring: 4, health.PasswordChangeWarning: 1},
		Passed: 1, Within24h: 1, Within7d: 1, Later: 1, NoDeadline: 1}
	if fmt.Sprint(sum) != fmt.Sprint(want) {
		t.Errorf("summary %+v, want %+v", sum, want)
	}
}

// seedPeople registers connections in every state: failing, healthy, never
// checked, with a warning.
func seedPeople(t *testing.T, s *Store) {
	t.Helper()
	importRows(t, s,
		Registration{Provider: "plaid", ProviderID: "item-hiro", UserRef: "u_77", Name: "Hiro Schmidt", Email: "hiro.schmidt@example.com", Institution: "Tartan Bank"},
		Registration{Provider: "plaid", ProviderID: "item-hiro2", UserRef: "u_78", Name: "Hiro Schmidtke", Email: "hiro.schmidt2@example.com", Institution: "Tartan Bank"},
		Registration{Provider: "belvo", ProviderID: "link-grace", UserRef: "u_90", Name: "Grace Müller", Email: "grace@example.org", Institution: "Banco Azul"},
		Registration{Provider: "cobalt", ProviderID: "cb-never", UserRef: "u_91", Name: "Nadia Never", Email: "nadia@example.net", Institution: "Epic"},
	)
	mustApply(t, s, obs("plaid", "item-hiro", health.MFARequired, 1, "poll"), obs("plaid", "item-hiro2", health.Healthy, 1, "poll"),
		obs("belvo", "link-grace", health.Healthy, 1, "poll"))
}

// TestFindAnyoneInAnyState: a lookup by email, name or id finds a person
// whether they are failing, healthy or never checked, by the start of what
// is typed, in any case.
func TestFindAnyoneInAnyState(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	seedPeople(t, s)
	every := Group{Kind: GroupEveryone}
	for _, c := range []struct{ filter, want string }{
		{"hiro.schmidt@example.com", "Hiro Schmidt"},  // the email, exactly: not hiro.schmidt2@
		{"HIRO.SCHMIDT@EXAMPLE.COM", "Hiro Schmidt"},  // any case
		{"hiro.schmidt@exampl", "Hiro Schmidt"},       // as it is typed
		{"hiro.schmidt@exampx", ""},                   //
		{"hiro.schm", "Hiro Schmidt,Hiro Schmidtke"},  // its start
		{"Hiro Schmidtke", "Hiro Schmidtke"},          // a name
		{"hiro  schm", "Hiro Schmidt,Hiro Schmidtke"}, // as it is typed, spaces as one
		{"schmidt", ""},                                    // not a word inside it: that is the group filter's (/)
		{"grace", "Grace Müller"},                          // healthy (name and email: once)
		{"grace mü", "Grace Müller"},                       //
		{"nadia@example.net", "Nadia Never"},               // never checked
		{"U_91", "Nadia Never"},                            // the user ref
		{"item-hiro2", "Hiro Schmidtke"},                   // the provider id
		{"plaid:item-hiro", "Hiro Schmidt,Hiro Schmidtke"}, // the CONN ref (its start)
		{"belvo:item-hiro", ""},                            // of another provider
		{"zed", ""},
		{"", ""},
		{"   ", ""},
	} {
		got, err := s.Page(ctx, PageQuery{Group: every, Filter: c.filter, Sort: SortName})
		if err != nil {
			t.Fatalf("%q: %v", c.filter, err)
		}
		if names(got) != c.want {
			t.Errorf("find %q: %q, want %q", c.filter, names(got), c.want)
		}
		n, err := s.CountPage(ctx, PageQuery{Group: every, Filter: c.filter})
		if err != nil || n != len(got) {
			t.Errorf("count %q: %d (%v), want %d", c.filter, n, err, len(got))
		}
	}
	// Failing first (longest failing first), then the rest by name.
	got, _ := s.Page(ctx, PageQuery{Group: every, Filter: "u_"})
	if names(got) != "Hiro Schmidt,Grace Müller,Hiro Schmidtke,Nadia Never" {
		t.Errorf("default order: %q", names(got))
	}
}

// TestFindFollowsTheRegistry: a re-import that changes an email is found by
// the new one only; a deleted connection is found no more.
func TestFindFollowsTheRegistry(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	seedPeople(t, s)
	importRows(t, s, Registration{Provider: "cobalt", ProviderID: "cb-never", UserRef: "u_91", Name: "Nadia Never",
		Email: "nadia.new@example.net", Institution: "Epic"})
	mustApply(t, s, obs("cobalt", "cb-never", health.LoginRequired, 2, "poll"))
	every := Group{Kind: GroupEveryone}
	if got, _ := s.Page(ctx, PageQuery{Group: every, Filter: "nadia@example.net"}); len(got) != 0 {
		t.Errorf("the old email still finds %q", names(got))
	}
	got, _ := s.Page(ctx, PageQuery{Group: every, Filter: "nadia.new@"})
	if names(got) != "Nadia Never" || got[0].Health.Category != health.LoginRequired {
		t.Errorf("the new email: %+v", got)
	}
	if _, err := s.db.Exec(`DELETE FROM connections WHERE provider_id = 'cb-never'`); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.CountPage(ctx, PageQuery{Group: every, Filter: "nadia"}); n != 0 {
		t.Errorf("a deleted connection is still found (%d)", n)
	}
}

// TestFindStopsAtFindLimit: text that matches more than FindLimit
// connections finds FindLimit of them.
func TestFindStopsAtFindLimit(t *testing.T) {
	s := openTest(t)
	var regs []Registration
	for i := 0; i < FindLimit+20; i++ {
		regs = append(regs, Registration{Provider: "belvo", ProviderID: fmt.Sprintf("l%d", i), Name: fmt.Sprintf("Same %d", i)})
	}
	importRows(t, s, regs...)
	if n, err := s.CountPage(context.Background(), PageQuery{Group: Group{Kind: GroupEveryone}, Filter: "same"}); err != nil || n != FindLimit {
		t.Fatalf("count %d, %v", n, err)
	}
}

// TestFindUsesItsIndexes: every part of a lookup reads one of migration
// 0008's indexes, never the whole table, and sorts only what it found.
func TestFindUsesItsIndexes(t *testing.T) {
	s := openTest(t)
	ids, args, _ := findIDs("plaid:item")
	plan := explain(t, s.db, `SELECT `+connColumns+` FROM connections WHERE id IN (`+ids+`) ORDER BY name LIMIT 50`, args...)
	for _, ix := range []string{"connections_find_email", "connections_find_name", "connections_find_user", "connections_find_id"} {
		if !strings.Contains(plan, "INDEX "+ix+" (<expr>>? AND <expr><?)") {
			t.Errorf("%s not used:\n%s", ix, plan)
		}
	}
	if strings.Contains(plan, "SCAN connections") || strings.Contains(plan, "sqlite_autoindex") {
		t.Errorf("a scan:\n%s", plan)
	}
}

// TestMigration0008OnAnExistingCache: connections written before 0008 are
// found, and filtered by category, after it.
func TestMigration0008OnAnExistingCache(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	cacheAt(t, path, 7, func(db *sql.DB) {
		for _, q := range []string{
			`INSERT INTO connections (provider, provider_id, name, email, institution, category, failing, rank, first_failed_at, created_at, updated_at)
			 VALUES ('plaid', 'i1', 'Hiro Schmidt', 'hiro@example.com', 'Tartan Bank', 'mfa_required', 1, 70, 5, 0, 0)`,
			`INSERT INTO connections (provider, provider_id, name, created_at, updated_at) VALUES ('belvo', 'l1', 'Ana Never', 0, 0)`,
		} {
			if _, err := db.Exec(q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
	})
	s, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got, _ := s.Page(ctx, PageQuery{Group: Group{Kind: GroupEveryone}, Filter: "hiro@example"}); names(got) != "Hiro Schmidt" {
		t.Errorf("found %q", names(got))
	}
	if got, _ := s.Page(ctx, PageQuery{Group: Group{Kind: GroupAllFailing}, Filter: "tartan mfa_required"}); names(got) != "Hiro Schmidt" {
		t.Errorf("filtered %q", names(got))
	}
	if got, _ := s.Page(ctx, PageQuery{Group: Group{Kind: GroupEveryone}, Filter: "ana"}); names(got) != "Ana Never" {
		t.Errorf("never checked: %q", names(got))
	}
}

// The new failures per day of all failing connections seek the days'
// rows in connections_cat_since, one category after another, instead of
// reading every failing row (80,000 at 1,000,000 connections) for its
// first_failed_at; a category's seeks the same index; nothing is sorted.
func TestNewFailuresPerDaySeeksTheWindow(t *testing.T) {
	s := openTest(t)
	for _, g := range []Group{{Kind: GroupAllFailing}, {Kind: GroupCategory, Category: health.LoginRequired}} {
		q, args := newFailuresQuery(g, t0, 14)
		plan := explain(t, s.db, q, args...)
		if !strings.Contains(plan, "INDEX connections_cat_since (category=? AND first_failed_at>? AND first_failed_at<?)") ||
			strings.Contains(plan, "TEMP B-TREE") || strings.Contains(plan, "SCAN connections") {
			t.Errorf("%+v plan:\n%s", g, plan)
		}
	}
}
