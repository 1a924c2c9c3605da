package store

import (
	"context"
	"fmt"
	"testing"

	"github.com/relink/relink/health"
)

// Apply's statements are prepared once for the store, and once the cache
// is full a statement is prepared for its transaction alone: the stored
// outcome is the same either way.
func TestApplyWithAFullStatementCache(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	importRows(t, s, Registration{Provider: "plaid", ProviderID: "item-1", Name: "Ana"},
		Registration{Provider: "plaid", ProviderID: "item-2", Name: "Bo"})
	mustApply(t, s, obs("plaid", "item-1", health.LoginRequired, 1, "webhook"))
	s.stmts.mu.Lock()
	cached := len(s.stmts.stmts)
	s.stmts.mu.Unlock()
	if cached == 0 {
		t.Fatal("Apply left no statement prepared for the next batch")
	}
	for i := 0; len(s.stmts.stmts) < stmtCacheSize; i++ {
		if _, err := s.stmts.get(ctx, s.db, fmt.Sprintf("SELECT %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	out := mustApply(t, s, obs("plaid", "item-2", health.AccountLocked, 2, "webhook"))
	if !out[0].Change.StateChanged || len(s.stmts.stmts) != stmtCacheSize {
		t.Fatalf("with a full cache: %+v, %d statements kept", out[0], len(s.stmts.stmts))
	}
	if c, err := s.Connection(ctx, "plaid", "item-2"); err != nil || c.Health.Category != health.AccountLocked {
		t.Fatalf("with a full cache the update was lost: %+v %v", c.Health, err)
	}
}
