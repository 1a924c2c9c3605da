package demo

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/relink/relink/health"
	"github.com/relink/relink/provider"
	"github.com/relink/relink/provider/sandbox"
	"github.com/relink/relink/store"
	"github.com/relink/relink/ticket"
)

// The demo's reminder history: a month of a team's work, so the funnel (F,
// relink report) shows numbers computed from rows on first open. It is
// written through the store's own operations, backdated: reminders queued,
// claimed and marked sent (outbox rows, history, audit), the durable link
// each carried, clicks on them, links agents copied on calls, and the
// repairs that followed (healthy signals). Some connections that work now
// were failing then and were repaired, after a reminder or after a link
// alone; some healed on their own; the reminded that still fail are the
// ones in the list.

// seedClock is the store's clock: the demo's, except while a backdated
// entry whose time the store takes from its clock (a click, a note) is
// written.
type seedClock struct {
	now func() time.Time
	mu  sync.Mutex
	at  time.Time
}

func (c *seedClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.at.IsZero() {
		return c.at
	}
	return c.now()
}

// during runs f with the clock reading at.
func (c *seedClock) during(at time.Time, f func() error) error {
	c.mu.Lock()
	c.at = at
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.at = time.Time{}
		c.mu.Unlock()
	}()
	return f()
}

// The team in the history.
var demoAgents = []string{"dana", "ravi", "mei"}

// The history's shape: how often each thing happened. Chosen so that the
// funnel reads like a team's month: SMS brings more users back than email,
// and a link read out on a call works best of all.
const (
	pRemind       = 55 // % of the failing (remindable, failing for over a day) reminded
	pSMS          = 30 // % of reminders sent by SMS rather than email
	pClickEmail   = 30 // % of the still-failing email-reminded who clicked
	pClickSMS     = 42
	pLinkFailing  = 12 // % of the unreminded failing for whom an agent used a link (still failing)
	pRepairedRem  = 35 // ‰ of the working connections repaired after a reminder in the month
	pRepairedLink = 15 // ‰ repaired after a link an agent gave, with no reminder
	pSelfHealed   = 20 // ‰ failed and recovered on their own
	pSMSRepair    = 40 // % of the repaired-after-a-reminder reminded by SMS
)

// pastFailure is a failure a working connection had in the month, by
// provider: what its emulator would have said.
func pastFailure(r *rand.Rand, d sandbox.DemoConn) sandbox.DemoConn {
	switch d.Provider {
	case provider.Plaid:
		codes := [][2]string{{"ITEM_LOGIN_REQUIRED", ""}, {"ITEM_LOGIN_REQUIRED", ""}, {"ITEM_LOGIN_REQUIRED", ""},
			{"ITEM_LOGIN_REQUIRED", "OAUTH_CONSENT_EXPIRED"}, {"PASSWORD_RESET_REQUIRED", ""}, {"ITEM_LOCKED", ""}}
		c := codes[r.IntN(len(codes))]
		d.Conn.Type, d.Conn.Code, d.Conn.Reason = "ITEM_ERROR", c[0], c[1]
	case provider.Belvo:
		codes := [][2]string{{"invalid", "Invalid credentials provided to login to the institution"},
			{"invalid", "Invalid credentials provided to login to the institution"}, {"token_required", ""},
			{"invalid", "Your account is locked, please contact your bank"}}
		c := codes[r.IntN(len(codes))]
		d.Conn.Code, d.Conn.Message = c[0], c[1]
	default:
		codes := [][2]string{{"", "Your EHR password was changed. Please reconnect your account."},
			{"password_expired", "Your EHR password has expired. Reset it in the EHR, then reconnect."}}
		c := codes[r.IntN(len(codes))]
		d.Conn.Code, d.Conn.Reason, d.Conn.Message = "login_required", c[0], c[1]
	}
	return d
}

// story is one connection's month.
type story struct {
	conn     store.Connection
	category string
	failedAt time.Time // a past failure to record first; zero for one already recorded
	failure  health.Signal
	channel  string    // the reminder's, "" for none
	remindAt time.Time //
	useAt    time.Time // a click, or an agent's link; zero for none
	agentUse bool      // the use was an agent copying a direct link (else a click on a durable link)
	healedAt time.Time // the repair; zero while still failing
}

// seedFunnel writes the month's history for data, whose registry and
// failures are stored.
func (e *Env) seedFunnel(ctx context.Context, data []sandbox.DemoConn, clk *seedClock, seed uint64, now time.Time) error {
	r := rand.New(rand.NewPCG(seed, 0x5eedf00d))
	byRef := map[string]store.Connection{}
	if err := e.Store.List(ctx, store.ListQuery{}, func(c store.Connection) error {
		byRef[c.Ref()] = c
		return nil
	}); err != nil {
		return err
	}
	month := now.Add(-28 * 24 * time.Hour)
	within := func(from, to time.Time) time.Time { // a time in [from, to)
		if !to.After(from) {
			return from
		}
		return from.Add(time.Duration(r.Int64N(int64(to.Sub(from)))))
	}
	var stories []story
	for _, d := range data {
		c, ok := byRef[d.Provider+":"+d.Conn.ID]
		if !ok {
			continue
		}
		s := story{conn: c}
		switch {
		case !d.FailedAt.IsZero():
			// Failing now: reminded a day or more after it started, some
			// clicked; or, unreminded, an agent gave some a link.
			cat := c.Health.Category
			latest := now.Add(-26 * time.Hour) // outside the demo's 24 h cooldown: the newcomer can remind them
			if !cat.Remindable() || d.FailedAt.After(latest.Add(-time.Hour)) {
				continue
			}
			s.category = string(cat)
			from := d.FailedAt.Add(time.Hour)
			if from.Before(month) {
				from = month
			}
			if r.IntN(100) < pRemind {
				s.channel = "email"
				if r.IntN(100) < pSMS {
					s.channel = "sms"
				}
				s.remindAt = within(from, latest)
				pClick := pClickEmail
				if s.channel == "sms" {
					pClick = pClickSMS
				}
				if r.IntN(100) < pClick {
					s.useAt = s.remindAt.Add(hours(r, 0.1, 20))
				}
			} else if r.IntN(100) < pLinkFailing {
				s.useAt, s.agentUse = within(from, now.Add(-time.Hour)), r.IntN(2) == 0
			} else {
				continue
			}
		case d.Warning == health.NoWarning:
			// Working now: some were failing this month and were repaired.
			n := r.IntN(1000)
			if n >= pRepairedRem+pRepairedLink+pSelfHealed {
				continue
			}
			s.failedAt = within(month, now.Add(-3*24*time.Hour))
			past := pastFailure(r, d)
			past.FailedAt = s.failedAt
			sig, _ := past.History()
			s.failure, s.category = sig, string(sig.Category)
			switch {
			case n < pRepairedRem:
				s.channel = "email"
				if r.IntN(100) < pSMSRepair {
					s.channel = "sms"
				}
				s.remindAt = s.failedAt.Add(hours(r, 2, 48))
				if r.IntN(10) < 9 {
					s.useAt = s.remindAt.Add(hours(r, 0.1, 30))
					s.healedAt = s.useAt.Add(hours(r, 0.05, 0.7))
				} else {
					s.healedAt = s.remindAt.Add(hours(r, 3, 72)) // fixed it at the bank's site
				}
			case n < pRepairedRem+pRepairedLink:
				s.useAt, s.agentUse = s.failedAt.Add(hours(r, 1, 60)), r.IntN(10) < 6
				s.healedAt = s.useAt.Add(hours(r, 0.05, 2))
			default:
				s.healedAt = s.failedAt.Add(hours(r, 1, 48))
			}
		default:
			continue
		}
		stories = append(stories, s)
	}
	return e.writeStories(ctx, stories, clk, r)
}

// writeStories records the stories in time order per connection: past
// failures, reminders (each with its durable link), uses, repairs.
func (e *Env) writeStories(ctx context.Context, stories []story, clk *seedClock, r *rand.Rand) error {
	var failures, repairs []store.Observation
	for _, s := range stories {
		if !s.failedAt.IsZero() {
			failures = append(failures, store.Observation{Provider: s.conn.Provider, ProviderID: s.conn.ProviderID, Kind: "webhook",
				EventID: "demo-month-failed-" + s.conn.ProviderID, Signal: s.failure, Verified: "demo history", ReceivedAt: s.failedAt})
		}
		if !s.healedAt.IsZero() {
			repairs = append(repairs, store.Observation{Provider: s.conn.Provider, ProviderID: s.conn.ProviderID, Kind: "poll",
				Signal:     health.Signal{Effect: health.SetPrimary, Category: health.Healthy, ClearWarning: true, Source: health.SourcePoll, ObservedAt: s.healedAt},
				ReceivedAt: s.healedAt})
		}
	}
	if err := e.applyAll(ctx, failures); err != nil {
		return fmt.Errorf("demo: recording the month's failures: %w", err)
	}
	agents := make([]string, len(stories))
	links := make([]int64, len(stories))
	if err := e.remindAll(ctx, stories, agents, links, r); err != nil {
		return err
	}
	for i, s := range stories {
		if s.useAt.IsZero() {
			continue
		}
		agent, linkID := agents[i], links[i]
		err := clk.during(s.useAt, func() error {
			switch {
			case s.agentUse:
				if _, err := e.Store.AddLink(ctx, store.Link{ConnectionID: s.conn.ID, Kind: store.LinkDirect, URL: directOrigin(s.conn.Provider, e),
					Operator: agent, CreatedAt: s.useAt.Add(-time.Minute)}); err != nil {
					return err
				}
				if err := e.Store.Note(ctx, s.conn.ID, "link", store.LinkUseSummary(store.LinkDirect, store.LinkCopied, agent)); err != nil {
					return err
				}
				return e.Store.Audit(ctx, store.AuditEntry{At: s.useAt, Operator: agent, Action: "copy", Target: s.conn.Ref(), Detail: "direct link"})
			case linkID == 0: // an agent's durable link, sent by hand
				id, err := e.durableLink(ctx, s.conn, agent, s.useAt.Add(-hours(r, 0.2, 3)))
				if err != nil {
					return err
				}
				linkID = id
			}
			return e.Store.RecordClick(ctx, linkID, "redirected to the provider's update page")
		})
		if err != nil {
			return fmt.Errorf("demo: recording a link used for %s: %w", s.conn.Ref(), err)
		}
	}
	if err := e.applyAll(ctx, repairs); err != nil {
		return fmt.Errorf("demo: recording the month's repairs: %w", err)
	}
	return nil
}

// hours is a random duration of lo to hi hours.
func hours(r *rand.Rand, lo, hi float64) time.Duration {
	return time.Duration((lo + r.Float64()*(hi-lo)) * float64(time.Hour))
}

func (e *Env) applyAll(ctx context.Context, obs []store.Observation) error {
	for i := 0; i < len(obs); i += 500 {
		if _, err := e.Store.Apply(ctx, obs[i:min(i+500, len(obs))]); err != nil {
			return err
		}
	}
	return nil
}

// remindAll sends the stories' reminders through the outbox, backdated:
// each queued at its time with the durable link it carried (links[i]),
// then every one claimed and marked sent at its time. agents[i] is who
// acted for story i.
func (e *Env) remindAll(ctx context.Context, stories []story, agents []string, links []int64, r *rand.Rand) error {
	sentAt := map[int64]time.Time{}
	perChannel := map[string]int{}
	for i, s := range stories {
		agents[i] = demoAgents[r.IntN(len(demoAgents))]
		if s.channel == "" {
			continue
		}
		id, err := e.durableLink(ctx, s.conn, agents[i], s.remindAt)
		if err != nil {
			return err
		}
		links[i] = id
		to := s.conn.Email
		if s.channel == "sms" {
			to = s.conn.Phone
		}
		out, err := e.Store.QueueReminders(ctx, []store.ReminderDraft{{Key: fmt.Sprintf("demo-month-%s-%d", s.channel, i), Channel: s.channel,
			Recipient: to, Operator: agents[i], Payload: []byte(`{"demo_history":true}`),
			Conns: []store.ReminderConn{{ID: s.conn.ID, Category: s.category}}}}, 0, s.remindAt)
		if err != nil {
			return fmt.Errorf("demo: queueing a past reminder to %s: %w", s.conn.Ref(), err)
		}
		if out[0].ID == 0 {
			return fmt.Errorf("demo: a past reminder to %s was not queued: %s", s.conn.Ref(), out[0].Blocked)
		}
		sentAt[out[0].ID] = s.remindAt
		perChannel[s.channel]++
	}
	for ch, n := range perChannel {
		claimed, err := e.Store.ClaimReminders(ctx, ch, "demo history", n, e.Backend.Now())
		if err != nil {
			return err
		}
		if len(claimed) != n {
			return fmt.Errorf("demo: claimed %d of the %d past %s reminders", len(claimed), n, ch)
		}
		for _, m := range claimed {
			if err := e.Store.FinishReminder(ctx, m.ID, store.ReminderResult{Status: store.ReminderSent, At: sentAt[m.ID]}); err != nil {
				return err
			}
		}
	}
	return nil
}

// durableLink records a durable link minted for c at, signed as the demo's
// serve signs them (long expired by now, most of them).
func (e *Env) durableLink(ctx context.Context, c store.Connection, agent string, at time.Time) (int64, error) {
	t, err := ticket.New(c.Ref(), at, e.Backend.LinkTTL)
	if err != nil {
		return 0, err
	}
	u := strings.TrimRight(e.Backend.PublicURL, "/") + "/r/" + url.PathEscape(e.Backend.Tickets.Sign(t))
	exp := t.Expires
	return e.Store.AddLink(ctx, store.Link{ConnectionID: c.ID, Kind: store.LinkDurable, URL: u, Ticket: t.ID, ExpiresAt: &exp,
		Operator: agent, CreatedAt: at})
}

// directOrigin is the origin a direct link of provider p would have had.
func directOrigin(p string, e *Env) string {
	switch p {
	case provider.Plaid:
		return e.Plaid.URL()
	case provider.Belvo:
		return e.Belvo.WidgetURL()
	}
	return e.Cobalt.LinkURL()
}
