package demo

import (
	"context"
	"net/http"
	"testing"

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
