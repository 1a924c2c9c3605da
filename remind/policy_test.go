package remind

import (
	"strings"
	"testing"
	"time"

	"github.com/relink/relink/health"
)

func cand(id int64, cat health.Category, u User) Candidate {
	return Candidate{ConnID: id, Ref: "plaid:item-" + string(rune('a'+id)), Provider: "plaid", Institution: "Tartan Bank",
		User: u, Health: health.Health{Category: cat}}
}

func TestEverySkipReason(t *testing.T) {
	lisbon, _ := time.LoadLocation("Europe/Lisbon")
	now := time.Date(2026, 3, 2, 12, 0, 0, 0, lisbon)
	past, soon := now.Add(-time.Hour), now.Add(72*time.Hour)
	recent, old := now.Add(-3*time.Hour), now.Add(-30*time.Hour)
	ana := User{Ref: "u1", Name: "Ana", Email: "ana@example.com", Phone: "+15551234567"}
	pol := Policy{Cooldown: 24 * time.Hour}
	cases := []struct {
		name   string
		c      Candidate
		reason Reason
		detail string
	}{
		{"healthy", cand(1, health.Healthy, ana), ReasonHealthy, "healthy again"},
		{"unknown", cand(1, health.Unknown, ana), ReasonUnchecked, "relink sync"},
		{"institution_down", cand(1, health.InstitutionDown, ana), ReasonNotUsers, "institution_down is not the user's to fix"},
		{"rate_limited", cand(1, health.RateLimited, ana), ReasonNotUsers, "rate_limited"},
		{"provider_error", cand(1, health.ProviderError, ana), ReasonNotUsers, "provider_error"},
		{"integration_error", cand(1, health.IntegrationError, ana), ReasonNotUsers, "integration_error"},
		{"unsupported", cand(1, health.Unsupported, ana), ReasonNotUsers, "unsupported"},
		{"not_found", cand(1, health.NotFound, ana), ReasonNotUsers, "not_found"},
		{"other", cand(1, health.Other, ana), ReasonNotUsers, "other"},
		{"permission_revoked", cand(1, health.PermissionRevoked, ana), ReasonRevoked, "revoked access"},
		{"consent_insufficient", cand(1, health.ConsentInsufficient, ana), ReasonOptional, "consent_insufficient"},
		{"account_revoked_partial", func() Candidate {
			c := cand(1, health.Healthy, ana)
			c.Health.Warning = health.AccountRevokedPartial
			return c
		}(), ReasonOptional, "account_revoked_partial"},
		{"deadline passed", func() Candidate {
			c := cand(1, health.Healthy, ana)
			c.Health.Warning, c.Health.Deadline = health.ConsentExpiring, &past
			return c
		}(), ReasonDeadlinePassed, "has passed"},
		{"pending", func() Candidate { c := cand(1, health.LoginRequired, ana); c.Pending = true; return c }(), ReasonQueued, "already queued"},
		{"cooldown", func() Candidate { c := cand(1, health.LoginRequired, ana); c.LastReminded = &recent; return c }(), ReasonCooldown, "reminded 3h ago (cooldown 24h)"},
	}
	for _, tc := range cases {
		r, why := pol.Check(tc.c, now)
		if r != tc.reason || !strings.Contains(why, tc.detail) {
			t.Errorf("%s: %q %q; want %q containing %q", tc.name, r, why, tc.reason, tc.detail)
		}
	}
	// Eligible: every remind=yes category, a warning before its deadline,
	// a reminder older than the cooldown.
	for _, cat := range []health.Category{health.LoginRequired, health.MFARequired, health.AccountLocked, health.PasswordExpired,
		health.ActionAtInstitution, health.ConsentExpired, health.Incomplete} {
		c := cand(1, cat, ana)
		c.LastReminded = &old
		if r, why := pol.Check(c, now); r != "" {
			t.Errorf("%s skipped: %s", cat, why)
		}
	}
	w := cand(1, health.Healthy, ana)
	w.Health.Warning, w.Health.Deadline = health.ConsentExpiring, &soon
	if r, why := pol.Check(w, now); r != "" {
		t.Errorf("warning skipped: %s", why)
	}
	// Quiet hours, in the operator's zone, wrapping midnight.
	q, _ := ParseQuietHours("21:00-08:00", lisbon)
	pol.Quiet = q
	night := time.Date(2026, 3, 2, 23, 30, 0, 0, lisbon)
	if r, why := pol.Check(cand(1, health.LoginRequired, ana), night); r != ReasonQuietHours || !strings.Contains(why, "until 08:00") {
		t.Errorf("quiet hours: %q %q", r, why)
	}
	if r, _ := pol.Check(cand(1, health.LoginRequired, ana), night.Add(9*time.Hour)); r != "" {
		t.Errorf("08:30 is not quiet: %q", r)
	}
	if !q.Contains(time.Date(2026, 3, 3, 7, 59, 0, 0, lisbon)) || q.Contains(time.Date(2026, 3, 2, 20, 59, 0, 0, lisbon)) {
		t.Error("window edges")
	}
	// A healthy connection's reason wins over quiet hours.
	if r, _ := pol.Check(cand(1, health.Healthy, ana), night); r != ReasonHealthy {
		t.Errorf("healthy at night: %q", r)
	}
}

func TestDecideGroupsByUserAndNeedsAnAddress(t *testing.T) {
	now := time.Now()
	ana := User{Ref: "u1", Name: "Ana", Email: "ana@example.com"}
	anaNoMail := User{Ref: "u1", Phone: "+15551234567"}
	bob := User{Email: "BOB@example.com", Name: "Bob"}
	bob2 := User{Email: "bob@example.com"}
	carl := User{Phone: "+15557654321", Name: "Carl"}
	cands := []Candidate{
		cand(1, health.LoginRequired, anaNoMail),
		cand(2, health.AccountLocked, ana),
		cand(3, health.MFARequired, bob),
		cand(4, health.InstitutionDown, ana),
		cand(5, health.PasswordExpired, bob2),
		cand(6, health.LoginRequired, carl),
	}
	groups, skips := Policy{}.Decide(cands, Email, now)
	if len(groups) != 2 {
		t.Fatalf("groups %+v", groups)
	}
	g := groups[0]
	if g.To != "ana@example.com" || len(g.Members) != 2 || g.Members[0].ConnID != 2 || g.User.Name != "Ana" {
		t.Errorf("ana's group %+v (worst first, one message for both)", g)
	}
	if groups[1].To != "bob@example.com" || groups[1].User.Name != "Bob" || len(groups[1].Members) != 2 || groups[1].Members[0].ConnID != 5 {
		t.Errorf("bob's group (email case-insensitive) %+v", groups[1])
	}
	reasons := map[int64]Reason{}
	for _, s := range skips {
		reasons[s.Candidate.ConnID] = s.Reason
	}
	if reasons[4] != ReasonNotUsers || reasons[6] != ReasonNoAddress || len(skips) != 2 {
		t.Errorf("skips %+v", skips)
	}
	groups, skips = Policy{}.Decide(cands, SMS, now)
	if len(groups) != 2 || groups[0].To != "+15551234567" || groups[1].To != "+15557654321" {
		t.Errorf("sms groups %+v", groups)
	}
	if n := len(skips); n != 3 { // institution_down, and bob's two: no phone
		t.Errorf("sms skips %+v", skips)
	}
	groups, _ = Policy{}.Decide(cands, Webhook, now)
	if len(groups) != 3 || groups[0].To != "u1" {
		t.Errorf("webhook groups %+v", groups)
	}
}
