package backend

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/relink/relink/health"
	"github.com/relink/relink/internal/textfmt"
	"github.com/relink/relink/remind"
	"github.com/relink/relink/store"
)

// Audience selects the connections to consider.
type Audience struct {
	Refs       []string // provider:provider_id
	Category   string   // a category, or a warning (consent_expiring, password_change_warning)
	AllFailing bool
}

// Plan is who would get what, and why the others would not.
type Plan struct {
	Channel    string
	CreatedAt  time.Time
	Considered int // connections looked at
	Messages   []PlannedMessage
	Skipped    []Skipped
	Sample     *remind.Message // the first message, rendered with a placeholder link
	// Queued are messages an interrupted run left queued on this channel:
	// sending this plan sends them too, so a plan with no new message but
	// a queue still asks. Recovered is how many of them the caller's
	// Recover took back from a run that stopped mid-send.
	Queued, Recovered int
}

// Sends is how many messages sending the plan delivers: its own and the
// queued ones.
func (p Plan) Sends() int { return len(p.Messages) + p.Queued }

// PlannedMessage is one message to one user.
type PlannedMessage struct {
	To    string
	User  remind.User
	Conns []PlannedConn // worst first
}

// PlannedConn is one connection a message covers.
type PlannedConn struct {
	ID          int64
	Ref         string
	Provider    string
	Institution string
	Category    health.Category
	Warning     health.Warning
	Deadline    *time.Time
	UserMessage string
}

// Topic is what the reminder is about: the category, or the warning of a
// working connection.
func (c PlannedConn) Topic() string {
	return remind.Item{Category: c.Category, Warning: c.Warning}.Topic()
}

// Skipped is a connection left out.
type Skipped struct {
	Ref    string
	Name   string
	Reason remind.Reason
	Detail string
	// By is who queued the reminder that keeps it out (queued, or within
	// cooldown), when the outbox says; At is when that one was sent, or
	// queued while it is not sent yet.
	By string
	At time.Time
}

// Connections counts the connections the plan's messages cover.
func (p Plan) Connections() int {
	n := 0
	for _, m := range p.Messages {
		n += len(m.Conns)
	}
	return n
}

// SkipCounts counts the skipped connections by reason.
func (p Plan) SkipCounts() map[remind.Reason]int {
	out := map[remind.Reason]int{}
	for _, s := range p.Skipped {
		out[s.Reason]++
	}
	return out
}

// PlanReminders plans reminders over channel to the connections refs.
func (r *Reminders) PlanReminders(ctx context.Context, refs []string, channel string) (Plan, error) {
	return r.Plan(ctx, Audience{Refs: refs}, channel)
}

// Plan plans reminders over channel for an audience: the policy's
// decision for every connection, one message per user, and a sample.
func (r *Reminders) Plan(ctx context.Context, a Audience, channel string) (Plan, error) {
	if !remind.ValidChannel(channel) {
		return Plan{}, fmt.Errorf("%q is not a channel; want %s", channel, strings.Join(remind.ChannelNames(), ", "))
	}
	conns, err := r.audience(ctx, a)
	if err != nil {
		return Plan{}, err
	}
	now := r.now()
	cands, err := r.candidates(ctx, conns)
	if err != nil {
		return Plan{}, err
	}
	pol := remind.Policy{Cooldown: r.opts.Cooldown, Quiet: r.opts.Quiet}
	groups, skips := pol.Decide(cands, channel, now)
	plan := Plan{Channel: channel, CreatedAt: now, Considered: len(cands)}
	if plan.Queued, err = r.Store.QueuedReminders(ctx, channel); err != nil {
		return Plan{}, err
	}
	for _, s := range skips {
		plan.Skipped = append(plan.Skipped, Skipped{Ref: s.Candidate.Ref, Name: s.Candidate.User.Name, Reason: s.Reason, Detail: s.Detail})
	}
	if err := r.nameReminders(ctx, plan.Skipped, skips, now); err != nil {
		return Plan{}, err
	}
	for _, g := range groups {
		m := PlannedMessage{To: g.To, User: g.User}
		for _, c := range g.Members {
			if _, ok := r.Providers[c.Provider]; !ok {
				plan.Skipped = append(plan.Skipped, Skipped{Ref: c.Ref, Name: c.User.Name, Reason: remind.ReasonNoLink,
					Detail: c.Provider + " is not configured, so no reconnect link can be made for it"})
				continue
			}
			m.Conns = append(m.Conns, PlannedConn{ID: c.ConnID, Ref: c.Ref, Provider: c.Provider, Institution: c.Institution,
				Category: c.Health.Category, Warning: c.Health.Warning, Deadline: c.Health.Deadline, UserMessage: c.Health.UserMessage})
		}
		if len(m.Conns) > 0 {
			plan.Messages = append(plan.Messages, m)
		}
	}
	if len(plan.Messages) > 0 {
		ttl := r.LinkTTL
		if ttl <= 0 {
			ttl = 168 * time.Hour
		}
		base := strings.TrimRight(r.PublicURL, "/")
		if base == "" {
			base = "https://(serve.public_url)"
		}
		links := func(PlannedConn) (string, time.Time, error) { return base + "/r/…", now.Add(ttl), nil }
		for _, pm := range plan.Messages[:min(len(plan.Messages), 5)] {
			m, err := r.render(pm, channel, links)
			var re *remind.Error
			if errors.As(err, &re) && re.Kind == remind.KindPermanent {
				continue // this one cannot be sent (an SMS too long); show another
			}
			if err != nil {
				return plan, err
			}
			plan.Sample = &m
			break
		}
	}
	return plan, nil
}

// nameReminders tells, of each connection skipped for being queued or
// within cooldown, who reminded them and when: "dana reminded them 12s
// ago (cooldown 24h)" rather than a bare reason, so that two people
// reminding the same user learn of each other. out[i] is skips[i].
func (r *Reminders) nameReminders(ctx context.Context, out []Skipped, skips []remind.Skip, now time.Time) error {
	var ids []int64
	for _, s := range skips {
		if s.Reason == remind.ReasonQueued || s.Reason == remind.ReasonCooldown {
			ids = append(ids, s.Candidate.ConnID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	last, err := r.Store.LastReminders(ctx, ids)
	if err != nil {
		return fmt.Errorf("planning reminders: %w", err)
	}
	for i, s := range skips {
		l, ok := last[s.Candidate.ConnID]
		if !ok || l.Operator == "" || (s.Reason == remind.ReasonCooldown) != (l.Status == store.ReminderSent) ||
			(s.Reason == remind.ReasonCooldown && now.Sub(l.At) >= r.opts.Cooldown) {
			continue // not the reminder that keeps it out (an imported last_reminded_at is newer)
		}
		out[i].By, out[i].At = l.Operator, l.At
		who := l.Operator
		if who == r.Operator {
			who = "you"
		}
		if s.Reason == remind.ReasonCooldown {
			out[i].Detail = fmt.Sprintf("%s reminded them %s (cooldown %s)", who, ago(now.Sub(l.At)), textfmt.Age(r.opts.Cooldown))
		} else {
			out[i].Detail = fmt.Sprintf("%s %s them (queued %s)", who, remindingVerb(who), ago(now.Sub(l.At)))
		}
	}
	return nil
}

// remindingVerb is "is reminding", or "are reminding" for you.
func remindingVerb(who string) string {
	if who == "you" {
		return "are reminding"
	}
	return "is reminding"
}

// ago is how long ago, for people: "just now" within a few seconds, else
// "12s ago", "5m ago", "3h ago".
func ago(d time.Duration) string {
	if d < 5*time.Second {
		return "just now"
	}
	return textfmt.Age(d) + " ago"
}

// audience loads the connections an audience names.
func (r *Reminders) audience(ctx context.Context, a Audience) ([]store.Connection, error) {
	var out []store.Connection
	collect := func(c store.Connection) error { out = append(out, c); return nil }
	switch {
	case len(a.Refs) > 0:
		seen := map[string]bool{}
		for _, ref := range a.Refs {
			prov, id, err := ParseRef(ref)
			if err != nil {
				return nil, err
			}
			if seen[ref] {
				continue
			}
			seen[ref] = true
			c, err := r.Store.Connection(ctx, prov, id)
			if errors.Is(err, store.ErrNotFound) {
				return nil, fmt.Errorf("%s is not in the cache; import the registry or run relink sync", ref)
			}
			if err != nil {
				return nil, err
			}
			out = append(out, c)
		}
	case a.Category != "":
		if w := health.Warning(a.Category); w != health.NoWarning && w.Valid() {
			return out, r.Store.WarnedConnections(ctx, string(w), collect)
		}
		cat := health.Category(a.Category)
		if !cat.Valid() || !cat.Failing() {
			return nil, fmt.Errorf("%q is not a failing category or a warning", a.Category)
		}
		return out, r.Store.List(ctx, store.ListQuery{Failing: true, Category: cat}, collect)
	case a.AllFailing:
		return out, r.Store.List(ctx, store.ListQuery{Failing: true}, collect)
	default:
		return nil, errors.New("name the connections to remind: CONN ids, a category, or every failing one")
	}
	return out, nil
}

// candidates joins connections with their reminder state.
func (r *Reminders) candidates(ctx context.Context, conns []store.Connection) ([]remind.Candidate, error) {
	ids := make([]int64, len(conns))
	for i, c := range conns {
		ids[i] = c.ID
	}
	states, err := r.Store.ReminderStates(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make([]remind.Candidate, len(conns))
	for i, c := range conns {
		st := states[c.ID]
		last := c.LastRemindedAt
		if st.LastSentAt != nil && (last == nil || st.LastSentAt.After(*last)) {
			last = st.LastSentAt
		}
		out[i] = remind.Candidate{ConnID: c.ID, Ref: c.Ref(), Provider: c.Provider, Institution: c.Institution,
			User:   remind.User{Ref: c.UserRef, Name: c.Name, Email: c.Email, Phone: c.Phone},
			Health: c.Health, LastReminded: last, Pending: st.Pending}
	}
	return out, nil
}

// render builds one message, with links from link.
func (r *Reminders) render(pm PlannedMessage, channel string, link func(PlannedConn) (string, time.Time, error)) (remind.Message, error) {
	items := make([]remind.Item, 0, len(pm.Conns))
	for _, c := range pm.Conns {
		u, exp, err := link(c)
		if err != nil {
			return remind.Message{}, err
		}
		items = append(items, remind.Item{Connection: c.Ref, Provider: c.Provider, Institution: displayInstitution(c.Institution),
			Category: c.Category, Warning: c.Warning, Title: remind.TitleOf(c.Category, c.Warning), Deadline: c.Deadline,
			UserMessage: c.UserMessage, Link: u, LinkExpires: exp})
	}
	m, err := r.opts.Templates.Render(channel, r.opts.Sender, pm.User, items)
	m.To = pm.To
	return m, err
}

// displayInstitution shows a Cobalt EMR instance (a URL) by its host.
func displayInstitution(inst string) string {
	if u, err := url.Parse(inst); err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" {
		return u.Host
	}
	return inst
}

// SkipSummary counts the skipped connections by reason: "4 skipped (2
// cooldown, 1 no address, 1 not the user's to fix)".
func (p Plan) SkipSummary() string { return skipSummary(p.SkipCounts()) }

func skipSummary(skipped map[remind.Reason]int) string {
	total := 0
	var parts []string
	reasons := make([]remind.Reason, 0, len(skipped))
	for k := range skipped {
		reasons = append(reasons, k)
	}
	sort.Slice(reasons, func(i, j int) bool {
		a, b := skipped[reasons[i]], skipped[reasons[j]]
		return a > b || (a == b && reasons[i] < reasons[j])
	})
	for _, k := range reasons {
		if skipped[k] == 0 {
			continue
		}
		total += skipped[k]
		parts = append(parts, fmt.Sprintf("%d %s", skipped[k], k.Title()))
	}
	s := fmt.Sprintf("%d skipped", total)
	if len(parts) > 0 {
		s += " (" + strings.Join(parts, ", ") + ")"
	}
	return s
}
