package store

import (
	"context"
	"fmt"
	"testing"
)

// A Cobalt row's org_id is stored and read back; a later import without one
// keeps it, one with another replaces it (migration 0006).
func TestCobaltOrgIDIsKept(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	importRows(t, s, Registration{Provider: "cobalt", ProviderID: "clinic_1", AccessToken: "tok", OrgID: "org_east"},
		Registration{Provider: "plaid", ProviderID: "item_1", AccessToken: "tok"})
	get := func(p, id string) string {
		t.Helper()
		c, err := s.Connection(ctx, p, id)
		if err != nil {
			t.Fatal(err)
		}
		return c.OrgID
	}
	if got := get("cobalt", "clinic_1"); got != "org_east" {
		t.Fatalf("org_id %q", got)
	}
	if got := get("plaid", "item_1"); got != "" {
		t.Fatalf("plaid org_id %q", got)
	}
	importRows(t, s, Registration{Provider: "cobalt", ProviderID: "clinic_1", Name: "Dr Chen"})
	if got := get("cobalt", "clinic_1"); got != "org_east" {
		t.Errorf("an import without org_id dropped it: %q", got)
	}
	importRows(t, s, Registration{Provider: "cobalt", ProviderID: "clinic_1", OrgID: "org_west"})
	if got := get("cobalt", "clinic_1"); got != "org_west" {
		t.Errorf("an import with another org_id: %q", got)
	}
	// Many rows go through the batched statement too.
	var regs []Registration
	for i := range 130 {
		regs = append(regs, Registration{Provider: "cobalt", ProviderID: fmt.Sprintf("c%03d", i), OrgID: fmt.Sprintf("org_%d", i%3)})
	}
	importRows(t, s, regs...)
	if got := get("cobalt", "c100"); got != "org_1" {
		t.Errorf("batched import: org_id %q", got)
	}
}
