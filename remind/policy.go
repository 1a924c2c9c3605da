package remind

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/relink/relink/health"
)

// Candidate is one connection considered for a reminder.
type Candidate struct {
	ConnID      int64
	Ref         string // provider:provider_id
	Provider    string
	Institution string
	User        User
	Health      health.Health
	// LastReminded is the newest of the connection's last_reminded_at and
	// its sent reminders; Pending says one is queued or being sent.
	LastReminded *time.Time
	Pending      bool
}

// Reason is why a connection is not reminded; the values are stable keys.
type Reason string

// The skip reasons.
const (
	ReasonHealthy        Reason = "healthy"         // working again (a clearing signal stops reminders)
	ReasonUnchecked      Reason = "unchecked"       // no signal has reached it yet
	ReasonNotUsers       Reason = "not_users"       // institution_down, rate_limited, provider_error, integration_error, unsupported, not_found, other
	ReasonRevoked        Reason = "revoked"         // permission_revoked: the user chose to revoke (TAXONOMY "careful")
	ReasonOptional       Reason = "optional"        // consent_insufficient, account_revoked_partial: not sent automatically
	ReasonDeadlinePassed Reason = "deadline_passed" // a warning whose deadline is behind us
	ReasonCooldown       Reason = "cooldown"        // reminded within the cooldown
	ReasonQueued         Reason = "queued"          // a reminder is already queued or being sent
	ReasonDuplicate      Reason = "duplicate"       // the same request was queued or sent already (idempotency key)
	ReasonQuietHours     Reason = "quiet_hours"     // now is in reminders.quiet_hours
	ReasonNoAddress      Reason = "no_address"      // no email / phone / user id for the channel
	ReasonNoLink         Reason = "no_link"         // its provider is not configured: no reconnect link can be made
)

// Title is the reason in a few words, for summaries.
func (r Reason) Title() string {
	switch r {
	case ReasonHealthy:
		return "healthy again"
	case ReasonUnchecked:
		return "not checked yet"
	case ReasonNotUsers:
		return "not the user's to fix"
	case ReasonRevoked:
		return "user revoked access"
	case ReasonOptional:
		return "not sent automatically"
	case ReasonDeadlinePassed:
		return "deadline passed"
	case ReasonCooldown:
		return "cooldown"
	case ReasonQueued:
		return "already queued"
	case ReasonDuplicate:
		return "already sent"
	case ReasonQuietHours:
		return "quiet hours"
	case ReasonNoAddress:
		return "no address"
	case ReasonNoLink:
		return "no reconnect link"
	}
	return string(r)
}

// Skip is a connection left out, and why.
type Skip struct {
	Candidate Candidate
	Reason    Reason
	Detail    string // the reason with its specifics, for one line
}

// Group is one message's worth: a user's connections reminded together.
type Group struct {
	UserKey string // user_ref, else email, else phone
	To      string // the channel's address
	User    User
	Members []Candidate // worst first
}

// Policy decides who may be reminded now.
type Policy struct {
	Cooldown time.Duration
	Quiet    QuietHours
}

// Check says why c may not be reminded at now ("" when it may), leaving
// out the channel's address and the grouping.
func (p Policy) Check(c Candidate, now time.Time) (Reason, string) {
	h := c.Health
	cat := h.Category
	switch {
	case cat == health.Unknown:
		return ReasonUnchecked, "not checked yet: run relink sync first"
	case cat == health.PermissionRevoked:
		return ReasonRevoked, "the user revoked access (permission_revoked): they chose to; contact them personally if at all"
	case cat.Failing() && !cat.Remindable():
		if cat == health.ConsentInsufficient {
			return ReasonOptional, "consent_insufficient: the connection works; reminders for it are not sent automatically"
		}
		return ReasonNotUsers, string(cat) + " is not the user's to fix"
	case !cat.Failing():
		switch {
		case h.Warning == health.NoWarning:
			return ReasonHealthy, "healthy again"
		case !h.Warning.Remindable():
			return ReasonOptional, string(h.Warning) + ": not sent automatically"
		case h.Deadline != nil && !h.Deadline.After(now):
			return ReasonDeadlinePassed, fmt.Sprintf("%s: its deadline (%s) has passed; the next check will show what happened", h.Warning, h.Deadline.UTC().Format("2 Jan 15:04 MST"))
		}
	}
	if c.Pending {
		return ReasonQueued, "a reminder is already queued or being sent"
	}
	if c.LastReminded != nil && p.Cooldown > 0 && now.Sub(*c.LastReminded) < p.Cooldown {
		ago := now.Sub(*c.LastReminded).Round(time.Minute)
		return ReasonCooldown, fmt.Sprintf("reminded %s ago (cooldown %s)", shortDuration(ago), shortDuration(p.Cooldown))
	}
	if p.Quiet.Contains(now) {
		return ReasonQuietHours, fmt.Sprintf("quiet hours (%s) until %s", p.Quiet, p.Quiet.End(now).Format("15:04"))
	}
	return "", ""
}

// Address is c's address on channel ("" when it has none).
func Address(u User, channel string) string {
	switch channel {
	case Email:
		return u.Email
	case SMS:
		return u.Phone
	case Webhook:
		return firstOf(u.Ref, u.Email, u.Phone)
	}
	return ""
}

func noAddress(channel string) string {
	switch channel {
	case Email:
		return "no email address in the registry"
	case SMS:
		return "no phone number in the registry"
	}
	return "no user_ref, email or phone in the registry"
}

// UserKey identifies the person behind a connection: user_ref, else
// email, else phone, else the connection itself.
func UserKey(c Candidate) string {
	switch {
	case c.User.Ref != "":
		return "user:" + c.User.Ref
	case c.User.Email != "":
		return "email:" + strings.ToLower(c.User.Email)
	case c.User.Phone != "":
		return "phone:" + c.User.Phone
	}
	return fmt.Sprintf("conn:%d", c.ConnID)
}

// Decide applies the policy to cands for channel at now: one group per
// user (covering all their remindable connections), and every other
// connection skipped with a reason. Groups keep the order in which their
// users first appear.
func (p Policy) Decide(cands []Candidate, channel string, now time.Time) ([]Group, []Skip) {
	var skips []Skip
	index := map[string]int{}
	var groups []Group
	for _, c := range cands {
		if r, why := p.Check(c, now); r != "" {
			skips = append(skips, Skip{Candidate: c, Reason: r, Detail: why})
			continue
		}
		k := UserKey(c)
		i, ok := index[k]
		if !ok {
			i = len(groups)
			index[k] = i
			groups = append(groups, Group{UserKey: k})
		}
		groups[i].Members = append(groups[i].Members, c)
	}
	out := groups[:0]
	for _, g := range groups {
		slices.SortStableFunc(g.Members, func(a, b Candidate) int { return rankOf(b) - rankOf(a) })
		for _, m := range g.Members {
			if g.To = Address(m.User, channel); g.To != "" {
				g.User = m.User
				break
			}
		}
		if g.To == "" {
			for _, m := range g.Members {
				skips = append(skips, Skip{Candidate: m, Reason: ReasonNoAddress, Detail: noAddress(channel)})
			}
			continue
		}
		for _, m := range g.Members { // fill what the chosen row lacks
			g.User.Ref = firstOf(g.User.Ref, m.User.Ref)
			g.User.Name = firstOf(g.User.Name, m.User.Name)
		}
		out = append(out, g)
	}
	return out, skips
}

func rankOf(c Candidate) int {
	if c.Health.Category.Failing() {
		return c.Health.Category.Rank()
	}
	return 1 // a warning on a working connection
}

func firstOf(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// shortDuration prints 90m as "1h30m" and 24h as "24h".
func shortDuration(d time.Duration) string {
	s := d.Round(time.Minute).String()
	s = strings.TrimSuffix(s, "0s")
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	if s == "" {
		return "0m"
	}
	return s
}
