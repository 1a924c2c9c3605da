package store

import (
	"context"
	"testing"
	"time"
)

// Revoking a connection's links revokes the live durable ones and counts
// them: an expired link opens nothing already and is neither revoked nor
// counted, so the count matches the live links a dashboard offered.
func TestRevokeLinksRevokesAndCountsTheLiveOnes(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	now := t0
	importRows(t, s, Registration{Provider: "belvo", ProviderID: "l1", Name: "Ana"})
	c, err := s.Connection(ctx, "belvo", "l1")
	if err != nil {
		t.Fatal(err)
	}
	live, expired := now.Add(time.Hour), now.Add(-time.Hour)
	for i, exp := range []*time.Time{&live, &expired, nil} {
		if _, err := s.AddLink(ctx, Link{ConnectionID: c.ID, Kind: LinkDurable, URL: "https://relink.example/r/t", Ticket: string(rune('a' + i)),
			ExpiresAt: exp, Operator: "dana", CreatedAt: now.Add(-2 * time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.RevokeLinks(ctx, c.ID, "lee")
	if err != nil || n != 2 {
		t.Fatalf("RevokeLinks = %d, %v; want the 2 live links", n, err)
	}
	links, err := s.Links(ctx, c.ID, 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range links {
		wasLive := l.ExpiresAt == nil || l.ExpiresAt.After(now)
		if revoked := l.RevokedAt != nil; revoked != wasLive {
			t.Errorf("link %s (expires %v): revoked %v", l.Ticket, l.ExpiresAt, revoked)
		}
	}
	if n, err := s.RevokeLinks(ctx, c.ID, "lee"); err != nil || n != 0 {
		t.Fatalf("again: %d, %v; want none left", n, err)
	}
}
