package store

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/relink/relink/health"
	"github.com/relink/relink/vault"
)

// funnelWorld is a store whose clock a test moves, with one Belvo
// connection r1 failing login_required since t0.
type funnelWorld struct {
	t     *testing.T
	s     *Store
	clock time.Time
	id    int64
}

func newFunnelWorld(t *testing.T) *funnelWorld {
	t.Helper()
	key, _, _ := vault.Generate()
	w := &funnelWorld{t: t, clock: t0}
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "f.db"), Options{Sealer: key, Now: func() time.Time { return w.clock }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	w.s = s
	o := obs("belvo", "r1", health.LoginRequired, 0, "poll")
	o.Register = true
	w.id = mustApply(t, s, o)[0].ConnectionID
	return w
}

// at moves the clock to t0 + h hours.
func (w *funnelWorld) at(h float64) *funnelWorld {
	w.clock = t0.Add(time.Duration(h * float64(time.Hour)))
	return w
}

func (w *funnelWorld) click() {
	id, err := w.s.AddLink(context.Background(), Link{ConnectionID: w.id, Kind: LinkDurable, URL: "https://relink.example/r/t1",
		Ticket: "t1", Operator: "dana", CreatedAt: w.clock})
	if err != nil {
		w.t.Fatal(err)
	}
	if err := w.s.RecordClick(context.Background(), id, "redirected to the provider"); err != nil {
		w.t.Fatal(err)
	}
}

func (w *funnelWorld) note(summary string) {
	if err := w.s.Note(context.Background(), w.id, "link", summary); err != nil {
		w.t.Fatal(err)
	}
}

func (w *funnelWorld) remind() {
	ctx := context.Background()
	queue(w.t, w.s, 0, w.clock, draft("k-"+w.clock.String(), w.id))
	c, _ := w.s.ClaimReminders(ctx, "email", "me", 10, w.clock)
	for _, m := range c {
		if err := w.s.FinishReminder(ctx, m.ID, ReminderResult{Status: ReminderSent, At: w.clock}); err != nil {
			w.t.Fatal(err)
		}
	}
}

func (w *funnelWorld) become(cat health.Category) {
	mustApply(w.t, w.s, obs("belvo", "r1", cat, int(w.clock.Sub(t0)/time.Minute), "webhook"))
}

// TestFunnelCountsRepairsAfterALinkWithoutAReminder: a repair that follows
// a click, or a link an agent copied or opened, with no reminder in the
// period shows on its category's LinkOnly row, timed from the first use;
// a mere mint, a reminded connection, a working one and a use before the
// period do not.
func TestFunnelCountsRepairsAfterALinkWithoutAReminder(t *testing.T) {
	for _, c := range []struct {
		name     string
		story    func(w *funnelWorld)
		cat      string // the LinkOnly row's category; "" for none
		linked   int
		repaired int
		median   time.Duration
	}{
		{"durable link clicked, repaired", func(w *funnelWorld) {
			w.at(2).click()
			w.at(5).become(health.Healthy)
		}, "login_required", 1, 1, 3 * time.Hour},
		{"link copied by an agent on a call, repaired", func(w *funnelWorld) {
			w.at(1).note("direct link copied by dana")
			w.at(1.5).become(health.Healthy)
		}, "login_required", 1, 1, 30 * time.Minute},
		{"link opened by an agent, the first use counts", func(w *funnelWorld) {
			w.at(1).note("durable link opened by dana")
			w.at(3).click()
			w.at(4).become(health.Healthy)
		}, "login_required", 1, 1, 3 * time.Hour},
		{"clicked, still failing", func(w *funnelWorld) {
			w.at(2).click()
		}, "login_required", 1, 0, 0},
		{"the category is the failure at the use, though it is healthy now", func(w *funnelWorld) {
			w.at(1).become(health.AccountLocked)
			w.at(2).note("direct link copied by dana")
			w.at(3).become(health.Healthy)
		}, "account_locked", 1, 1, time.Hour},
		{"a link minted and never used", func(w *funnelWorld) {
			w.at(1).note("direct link minted by dana")
			w.at(2).become(health.Healthy)
		}, "", 0, 0, 0},
		{"reminded, then clicked: the reminder's row counts it", func(w *funnelWorld) {
			w.at(1).remind()
			w.at(2).click()
			w.at(3).become(health.Healthy)
		}, "", 0, 0, 0},
		{"a reminder after the repair does not take it back", func(w *funnelWorld) {
			w.at(1).click()
			w.at(2).become(health.Healthy)
			w.at(3).become(health.LoginRequired)
			w.at(4).remind()
		}, "login_required", 1, 1, time.Hour},
		{"a click on a working connection repairs nothing", func(w *funnelWorld) {
			w.at(1).become(health.Healthy)
			w.at(2).click()
		}, "", 0, 0, 0},
		{"a use before the period", func(w *funnelWorld) {
			w.at(-30).click()
			w.at(1).become(health.Healthy)
		}, "", 0, 0, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := newFunnelWorld(t)
			c.story(w)
			rows, err := w.s.Funnel(context.Background(), t0.Add(-24*time.Hour), []string{"login_required", "account_locked"})
			if err != nil {
				t.Fatal(err)
			}
			var got *FunnelRow
			for i, r := range rows {
				if r.LinkOnly {
					if got != nil {
						t.Fatalf("two LinkOnly rows: %+v", rows)
					}
					got = &rows[i]
				}
			}
			if c.cat == "" {
				if got != nil {
					t.Fatalf("counted as repaired after a link: %+v", *got)
				}
				return
			}
			if got == nil {
				t.Fatalf("no LinkOnly row in %+v", rows)
			}
			if got.Category != c.cat || got.Channel != "" || got.Reminded != 0 || got.Clicked != c.linked ||
				got.Repaired != c.repaired || got.MedianRepair() != c.median {
				t.Errorf("got %+v (median %s), want %s: %d linked, %d repaired in %s", *got, got.MedianRepair(), c.cat, c.linked, c.repaired, c.median)
			}
		})
	}
}

// TestFunnelLinkOnlyRowFollowsTheChannelsAndStandsForTheCategory: the
// LinkOnly row comes after its category's channel rows, carries the
// category's failing count, and replaces the "no one reminded" row.
func TestFunnelLinkOnlyRowFollowsTheChannelsAndStandsForTheCategory(t *testing.T) {
	ctx := context.Background()
	w := newFunnelWorld(t)
	o := obs("belvo", "r2", health.LoginRequired, 0, "poll")
	o.Register = true
	reminded := mustApply(t, w.s, o)[0].ConnectionID
	w.at(1).click()
	first := w.id
	w.id = reminded
	w.at(1).remind()
	w.id = first
	o = obs("belvo", "r3", health.AccountLocked, 0, "poll")
	o.Register = true
	w.id = mustApply(t, w.s, o)[0].ConnectionID
	w.at(2).note("direct link copied by dana")
	rows, err := w.s.Funnel(ctx, t0.Add(-24*time.Hour), []string{"login_required", "account_locked"})
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		cat, ch         string
		link            bool
		failing, linked int
	}{{"login_required", "email", false, 2, 0}, {"login_required", "", true, 2, 1}, {"account_locked", "", true, 1, 1}}
	if len(rows) != len(want) {
		t.Fatalf("rows %+v", rows)
	}
	for i, r := range rows {
		if wt := want[i]; r.Category != wt.cat || r.Channel != wt.ch || r.LinkOnly != wt.link || r.Failing != wt.failing ||
			(wt.link && r.Clicked != wt.linked) {
			t.Errorf("row %d: %+v, want %+v", i, r, wt)
		}
	}
}
