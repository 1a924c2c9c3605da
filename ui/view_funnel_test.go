package ui

import (
	"context"
	"regexp"
	"testing"
	"time"

	"github.com/relink/relink/health"
	"github.com/relink/relink/store"
)

// TestFunnelShowsRepairsAfterALinkWithoutAReminder: an account_locked
// user who clicked a reconnect link that no reminder brought, and was
// repaired two hours later, shows on account_locked's link row and in the
// link total, with the note saying what the row counts.
func TestFunnelShowsRepairsAfterALinkWithoutAReminder(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	seedFunnel(t, st)
	var locked store.Connection
	err := st.List(ctx, store.ListQuery{Failing: true, Category: health.AccountLocked}, func(c store.Connection) error {
		if locked.ID == 0 {
			locked = c
		}
		return nil
	})
	if err != nil || locked.ID == 0 {
		t.Fatalf("no account_locked connection: %v", err)
	}
	id, err := st.AddLink(ctx, store.Link{ConnectionID: locked.ID, Kind: store.LinkDurable, URL: "https://relink.example/r/t",
		Ticket: "t-locked", Operator: "dana"})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.RecordClick(ctx, id, "redirected"); err != nil {
		t.Fatal(err)
	}
	at := epoch.Add(2 * time.Hour)
	if _, err := st.Apply(ctx, []store.Observation{{Provider: locked.Provider, ProviderID: locked.ProviderID, Kind: "poll",
		ReceivedAt: at, Signal: health.Signal{Effect: health.SetPrimary, Category: health.Healthy, Source: health.SourcePoll, ObservedAt: at}}}); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, st, Options{}, 120, 35)
	h.press("F")
	s := h.screen()
	if row := regexp.MustCompile(`account_locked\s+link\s+4\s+-\s+1\s+1\s+100%\s+2h █+`); !row.MatchString(s) {
		t.Fatalf("no account_locked link row like %s in:\n%s", row, s)
	}
	if row := regexp.MustCompile(`│\s+link\s+-\s+1\s+1\s+100%\s+2h`); !row.MatchString(s) {
		t.Fatalf("no link total like %s in:\n%s", row, s)
	}
	mustContain(t, s, "A link row counts what happened with no reminder")
}

// TestFunnelSharesNeverRoundToNothingOrEverything: one click of 150
// reminded reads "<1%", 149 repairs of 150 ">99%", on the category's row
// and in the channel's total.
func TestFunnelSharesNeverRoundToNothingOrEverything(t *testing.T) {
	st := newStore(t)
	h := newHarness(t, st, Options{}, 120, 35)
	h.press("F")
	o := h.m.overlay.(*funnelOverlay)
	o.rows = []store.FunnelRow{{Category: "login_required", Channel: "email", Failing: 300, Reminded: 150, Clicked: 1, Repaired: 149,
		RepairTimes: []time.Duration{time.Hour}}}
	s := h.screen()
	for _, row := range []*regexp.Regexp{
		regexp.MustCompile(`login_required\s+email\s+300\s+150\s+1\s+<1%\s+149\s+>99%\s+1h`),
		regexp.MustCompile(`│\s+email\s+150\s+1\s+<1%\s+149\s+>99%\s+1h`),
	} {
		if !row.MatchString(s) {
			t.Errorf("no row like %s in:\n%s", row, s)
		}
	}
	if regexp.MustCompile(`\b0%|100%`).MatchString(s) {
		t.Errorf("a share rounded to nothing or to everything:\n%s", s)
	}
}
