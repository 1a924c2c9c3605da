package store

import (
	"context"
	"testing"

	"github.com/relink/relink/health"
)

// A repeated failure that only moves observed_at updates that column, not
// the ones the page indexes hold (a trigger on them records every UPDATE
// that sets them), and still stores the event; the counts stay right.
func TestRepeatedFailureSetsOnlyWhatChanged(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	importRows(t, s, Registration{Provider: "cobalt", ProviderID: "at-1", Name: "Ana"})
	if _, err := s.db.Exec(`CREATE TABLE touched (id INTEGER);
		CREATE TRIGGER touched_page_columns AFTER UPDATE OF category, rank, failing, first_failed_at, provider_code ON connections
		BEGIN INSERT INTO touched VALUES (NEW.id); END`); err != nil {
		t.Fatal(err)
	}
	touched := func() int {
		var n int
		if err := s.db.QueryRow(`SELECT COUNT(*) FROM touched`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	first := obs("cobalt", "at-1", health.LoginRequired, 1, "webhook")
	first.EventID = "evt-1"
	mustApply(t, s, first)
	if touched() != 1 {
		t.Fatalf("the first failure set the page columns %d times, want 1", touched())
	}
	again := obs("cobalt", "at-1", health.LoginRequired, 5, "webhook")
	again.EventID = "evt-2"
	out := mustApply(t, s, again)[0]
	if out.Duplicate || !out.Change.Changed || out.Change.StateChanged {
		t.Fatalf("a repeat should refresh observed_at only: %+v", out)
	}
	if touched() != 1 {
		t.Fatalf("the repeat set the page columns again (%d UPDATEs)", touched())
	}
	c, err := s.Connection(ctx, "cobalt", "at-1")
	if err != nil {
		t.Fatal(err)
	}
	if !c.Health.ObservedAt.Equal(again.Signal.ObservedAt) || c.Health.Category != health.LoginRequired {
		t.Fatalf("after the repeat: %+v", c.Health)
	}
	evs, err := s.History(ctx, c.ID, 10)
	if err != nil || len(evs) != 2 {
		t.Fatalf("history holds %d events, want both: %v", len(evs), err)
	}
	counts, err := s.Counts(ctx)
	if err != nil || counts.ByCategory[health.LoginRequired] != 1 || counts.Failing != 1 {
		t.Fatalf("counts after the repeat: %+v %v", counts, err)
	}
	if n, err := s.CountPage(ctx, PageQuery{Group: Group{Kind: GroupAllFailing}}); err != nil || n != 1 {
		t.Fatalf("the failing page counts %d: %v", n, err)
	}
	// Repaired: every changed column is written, the counts follow.
	fixed := obs("cobalt", "at-1", health.Healthy, 9, "webhook")
	fixed.EventID = "evt-3"
	mustApply(t, s, fixed)
	if c, _ := s.Connection(ctx, "cobalt", "at-1"); c.Health.Category != health.Healthy || c.Health.FirstFailedAt != nil {
		t.Fatalf("after the repair: %+v", c.Health)
	}
	if n, _ := s.CountPage(ctx, PageQuery{Group: Group{Kind: GroupAllFailing}}); n != 0 {
		t.Fatalf("the failing page still counts %d after the repair", n)
	}
}

// The unfiltered all-failing count is the triggers' counts of the failing
// categories, not a scan of the failing rows, and it stays right through a
// burst of new failures, repeats, a change of category and a repair.
func TestAllFailingCountFollowsABurst(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	var regs []Registration
	for _, id := range []string{"a", "b", "c", "d"} {
		regs = append(regs, Registration{Provider: "cobalt", ProviderID: id, Name: "Person " + id, Institution: "Clinic " + id})
	}
	importRows(t, s, regs...)
	burst := []Observation{
		obs("cobalt", "a", health.LoginRequired, 1, "webhook"), obs("cobalt", "b", health.LoginRequired, 1, "webhook"),
		obs("cobalt", "c", health.AccountLocked, 1, "webhook"), obs("cobalt", "a", health.LoginRequired, 2, "webhook"),
		obs("cobalt", "b", health.AccountLocked, 3, "webhook"), obs("cobalt", "c", health.Healthy, 4, "poll"),
		obs("cobalt", "d", health.Healthy, 4, "poll"),
	}
	for i := range burst {
		if burst[i].Kind == "webhook" {
			burst[i].EventID = "evt-" + string(rune('0'+i))
		}
	}
	mustApply(t, s, burst...)
	all := PageQuery{Group: Group{Kind: GroupAllFailing}}
	var rows int
	if err := s.db.QueryRow(`SELECT COUNT(*) FROM connections WHERE failing = 1`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	page, err := s.Page(ctx, all)
	if err != nil {
		t.Fatal(err)
	}
	n, err := s.CountPage(ctx, all)
	if err != nil || n != 2 || rows != 2 || len(page) != 2 {
		t.Fatalf("all failing counts %d (%v), the rows %d, the page %d; want 2 (a and b)", n, err, rows, len(page))
	}
	if _, err := s.db.Exec(`UPDATE counts SET n = n + 40 WHERE category = 'login_required' AND institution = 'Clinic a'`); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.CountPage(ctx, all); n != 42 {
		t.Fatalf("the count %d does not come from the kept counts (want 2 + 40)", n)
	}
}
