package demo

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/relink/relink/health"
	"github.com/relink/relink/store"
)

// A stand-in receiver: accepts every delivery. The real server is tested in
// package server; here only the seeding and the first sync are under test.
func accept(*Env) (http.Handler, error) {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) }), nil
}

func TestDemoSeedsEveryProviderAndManyCategories(t *testing.T) {
	ctx := context.Background()
	e, err := Start(ctx, Options{Connections: 600, Dir: t.TempDir(), Handler: accept})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	for _, r := range e.Reports {
		if r.Err != nil || r.Seen == 0 {
			t.Errorf("%s sync: %+v", r.Provider, r)
		}
	}
	c, err := e.Store.Counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c.Total != 600 {
		t.Fatalf("total %d (belvo links must not be registered twice)", c.Total)
	}
	if c.Failing < 40 || c.Failing > 200 || c.ByCategory[health.Healthy] < 400 {
		t.Fatalf("failing %d, healthy %d", c.Failing, c.ByCategory[health.Healthy])
	}
	if c.ByCategory[health.Unknown] != 0 {
		t.Fatalf("%d connections never checked after the first sync", c.ByCategory[health.Unknown])
	}
	for _, cat := range []health.Category{health.LoginRequired, health.MFARequired, health.AccountLocked, health.PasswordExpired} {
		if c.ByCategory[cat] == 0 {
			t.Errorf("no %s in the demo: %v", cat, c.ByCategory)
		}
	}
	if c.Expiring == 0 {
		t.Error("no warnings in the demo")
	}
	// Failures carry their backdated start, so ages and the chart look lived-in.
	page, _ := e.Store.Page(ctx, store.PageQuery{Group: store.Group{Kind: store.GroupAllFailing}, Limit: 200})
	old := 0
	for _, p := range page {
		if p.Health.FirstFailedAt != nil && p.Health.FirstFailedAt.Before(e.Backend.Now().Add(-24*3600e9)) {
			old++
		}
	}
	if old == 0 {
		t.Error("every failure started today")
	}
}

// TestDemoSeedsAMonthOfRemindersForTheFunnel: the funnel of a new demo is
// computed from seeded rows: reminders by email and SMS, some clicked, some
// repaired after, and repairs after a link alone; every reminder is older
// than the demo's cooldown (the newcomer can remind anyone still failing),
// and a repaired user's history reads in the order it happened.
func TestDemoSeedsAMonthOfRemindersForTheFunnel(t *testing.T) {
	ctx := context.Background()
	e, err := Start(ctx, Options{Connections: 600, Dir: t.TempDir(), Handler: accept})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	now := e.Backend.Now()
	rows, err := e.Store.Funnel(ctx, now.Add(-30*24*time.Hour), health.Topics())
	if err != nil {
		t.Fatal(err)
	}
	var email, sms, link store.FunnelRow
	for _, r := range rows {
		sum := &email
		switch {
		case r.LinkOnly:
			sum = &link
			if r.Repaired > r.Clicked {
				t.Errorf("more repaired than linked: %+v", r)
			}
		case r.Channel == "sms":
			sum = &sms
		case r.Channel != "email":
			continue
		}
		if !r.LinkOnly && (r.Clicked > r.Reminded || r.Repaired > r.Reminded) {
			t.Errorf("more clicked or repaired than reminded: %+v", r)
		}
		sum.Reminded += r.Reminded
		sum.Clicked += r.Clicked
		sum.Repaired += r.Repaired
	}
	for name, r := range map[string]store.FunnelRow{"email": email, "sms": sms} {
		if r.Reminded < 10 || r.Clicked == 0 || r.Repaired == 0 || r.Clicked >= r.Reminded || r.Repaired >= r.Reminded {
			t.Errorf("%s: %+v, want a believable funnel", name, r)
		}
	}
	if link.Clicked == 0 || link.Repaired == 0 || link.Repaired > link.Clicked {
		t.Errorf("repairs after a link with no reminder: %+v", link)
	}

	var ids []int64
	var repaired *store.Connection
	err = e.Store.List(ctx, store.ListQuery{}, func(c store.Connection) error {
		ids = append(ids, c.ID)
		if repaired == nil && c.Health.Category == health.Healthy {
			if rs, err := e.Store.RemindersOf(ctx, c.ID, 5); err == nil && len(rs) == 1 {
				repaired = &c
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	states, err := e.Store.ReminderStates(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	for id, st := range states {
		if st.Pending || st.LastSentAt == nil || st.LastSentAt.After(now.Add(-24*time.Hour)) || st.LastSentAt.Before(now.Add(-30*24*time.Hour)) {
			t.Errorf("#%d: seeded reminder %+v, want one sent 1 to 30 days ago", id, st)
		}
	}
	if repaired == nil {
		t.Fatal("no working connection was repaired after a reminder")
	}
	hist, err := e.Store.History(ctx, repaired.ID, 20)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for i := len(hist) - 1; i >= 0; i-- { // oldest first
		k := hist[i].Kind
		if hist[i].Category == string(health.Healthy) {
			k = "healthy"
		}
		kinds = append(kinds, k)
	}
	got := strings.Join(kinds, " ")
	if !regexp.MustCompile(`^webhook link reminder (click )?healthy$`).MatchString(got) {
		t.Errorf("%s's history, oldest first: %s", repaired.Ref(), got)
	}
}
