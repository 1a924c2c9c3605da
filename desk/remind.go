package desk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/relink/relink/health"
	"github.com/relink/relink/remind"
	"github.com/relink/relink/store"
)

// Reminders plans and sends reminders over the desk: who may be reminded
// (remind.Policy), one message per user with a durable link per
// connection, queued in the store's outbox before anything is sent, then
// delivered by a remind.Dispatcher per channel. It embeds the Desk, so it
// offers every desk operation too.
//
// Crash safety: a message is queued (with its idempotency key) before it
// is sent, marked 'sending' by this run right before the channel gets it,
// and marked sent right after, each in its own transaction. After a kill,
// the next send (of any plan, or a resume) first queues again the messages
// left 'sending' by a run that is gone (same host, pid not running) or
// whose lease ran out, and sends every queued message: nothing is lost,
// and only the messages in flight at the kill (at most one per concurrent
// send) can arrive twice.
type Reminders struct {
	*Desk
	opts RemindOptions
	// writes serialises this value's writes to the store: SQLite takes one
	// writer at a time, and waiting on a mutex is much cheaper than its
	// busy handler's sleeps when the queueing and sending goroutines collide.
	writes *sync.Mutex
}

// RemindOptions configure reminders.
type RemindOptions struct {
	Templates *remind.Templates         // required
	Channels  map[string]remind.Channel // the configured channels, by name
	Limits    map[string]remind.Limit   // per channel; missing: DefaultLimit
	Cooldown  time.Duration             // never remind a connection twice within this
	Quiet     remind.QuietHours         // no reminders in this daily window
	Sender    string                    // who signs; default the email From name, else "Support"
	Backoff   remind.Backoff            // retries of transient failures
	Lease     time.Duration             // a claim older than this is presumed dead; default 2m
	Timeout   time.Duration             // per send; default 30s
	Claimant  string                    // this run's name in the outbox; default remind.NewClaimant()
}

// DefaultLimit is a channel's concurrency and rate when none is set:
// email 8 at once and 200/s, SMS 1 at once and 1/s (a long code's
// limit), webhook 4 at once and 50/s.
func DefaultLimit(channel string) remind.Limit {
	switch channel {
	case remind.Email:
		return remind.Limit{Concurrency: 8, PerSecond: 200}
	case remind.SMS:
		return remind.Limit{Concurrency: 1, PerSecond: 1}
	}
	return remind.Limit{Concurrency: 4, PerSecond: 50}
}

// NewReminders checks the options and returns reminders over d.
func NewReminders(d *Desk, o RemindOptions) (*Reminders, error) {
	if o.Templates == nil {
		return nil, errors.New("reminders need templates")
	}
	if o.Lease <= 0 {
		o.Lease = 2 * time.Minute
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	if o.Lease < 2*o.Timeout {
		return nil, fmt.Errorf("the reminder lease (%s) must be at least twice the send timeout (%s)", o.Lease, o.Timeout)
	}
	if o.Claimant == "" {
		o.Claimant = remind.NewClaimant()
	}
	if o.Sender == "" {
		o.Sender = "Support"
		if e, ok := o.Channels[remind.Email].(*remind.EmailChannel); ok {
			o.Sender = e.Sender()
		}
	}
	return &Reminders{Desk: d, opts: o, writes: &sync.Mutex{}}, nil
}

// Channels lists the configured channels.
func (r *Reminders) Channels() []string {
	var out []string
	for _, name := range remind.ChannelNames() {
		if _, ok := r.opts.Channels[name]; ok {
			out = append(out, name)
		}
	}
	return out
}

// Ready says why reminders cannot be sent on channel now, or nil.
func (r *Reminders) Ready(channel string) error {
	if !remind.ValidChannel(channel) {
		return fmt.Errorf("%q is not a channel; want %s", channel, strings.Join(remind.ChannelNames(), ", "))
	}
	if _, ok := r.opts.Channels[channel]; !ok {
		switch channel {
		case remind.Email:
			return errors.New("email reminders are not configured: set [reminders.email] from, smtp_host and smtp_port in the config")
		case remind.SMS:
			return errors.New("SMS reminders are not configured: set [reminders.sms] account_sid, from and auth_token (env RELINK_SMS_TOKEN)")
		}
		return errors.New("webhook reminders are not configured: set the webhook URL and signing secret")
	}
	if !r.DurableLinksOn() {
		return errors.New("reminders carry durable reconnect links, which need serve.public_url in the config")
	}
	return nil
}

// Close closes the channels.
func (r *Reminders) Close() error {
	var errs []error
	for _, c := range r.opts.Channels {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}

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
}

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
	for _, s := range skips {
		plan.Skipped = append(plan.Skipped, Skipped{Ref: s.Candidate.Ref, Name: s.Candidate.User.Name, Reason: s.Reason, Detail: s.Detail})
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

// Report is what a send did.
type Report struct {
	Channel     string
	Sent        int                   // messages delivered
	Connections int                   // connections those messages covered
	Skipped     map[remind.Reason]int // connections left out, by reason
	Failed      []Failure             // messages that failed for good
	Cancelled   int                   // messages dropped before sending (links expired, connections healthy)
	Resumed     int                   // messages an earlier, interrupted run had queued
	Pending     int                   // messages left queued because the run stopped early
	Elapsed     time.Duration
}

// Failure is one message that could not be delivered.
type Failure struct {
	To          string
	Connections []string
	Reason      string
}

// Summary is the report in one line: "12 sent · 2 skipped (1 cooldown,
// 1 quiet hours) · 0 failed".
func (rep Report) Summary() string {
	s := fmt.Sprintf("%d sent", rep.Sent)
	if rep.Resumed > 0 {
		s += fmt.Sprintf(" (%d resumed from an interrupted run)", rep.Resumed)
	}
	s += " · " + skipSummary(rep.Skipped)
	s += fmt.Sprintf(" · %d failed", len(rep.Failed))
	if rep.Cancelled > 0 {
		s += fmt.Sprintf(" · %d cancelled", rep.Cancelled)
	}
	if rep.Pending > 0 {
		s += fmt.Sprintf(" · %d still queued", rep.Pending)
	}
	return s
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

// Remind plans and sends at once, for the dashboard's confirm-then-send:
// it returns the report's summary line.
func (r *Reminders) Remind(ctx context.Context, refs []string, channel string) (string, error) {
	plan, err := r.PlanReminders(ctx, refs, channel)
	if err != nil {
		return "", err
	}
	rep, err := r.SendReminders(ctx, plan, nil)
	return rep.Summary(), err
}

// sendState is a send's bookkeeping, shared by the queueing goroutine and
// the dispatcher's.
type sendState struct {
	mu       sync.Mutex
	rep      Report
	done     int
	total    int
	progress func(done, total int)
}

func (s *sendState) update(f func(*Report)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f != nil {
		f(&s.rep)
	}
	if s.progress != nil {
		s.progress(s.done, s.total)
	}
}

// queueChunk is how many messages are rendered and queued per transaction:
// the dispatcher starts on the first chunk while the next is prepared.
const queueChunk = 200

// SendReminders queues the plan's messages and sends them, together with
// any message an earlier, interrupted run left queued for the channel.
// progress (may be nil) sees messages finished of the total. A plan sent
// twice sends once: its messages' idempotency keys are already taken.
func (r *Reminders) SendReminders(ctx context.Context, plan Plan, progress func(done, total int)) (Report, error) {
	start := time.Now()
	st := &sendState{progress: progress, rep: Report{Channel: plan.Channel, Skipped: plan.SkipCounts()}}
	if err := r.Ready(plan.Channel); err != nil {
		return st.rep, err
	}
	if now := r.now(); r.opts.Quiet.Contains(now) {
		st.rep.Skipped[remind.ReasonQuietHours] += plan.Connections()
		return st.rep, nil
	}
	claimant := r.opts.Claimant
	if _, err := r.Store.RecoverReminders(ctx, r.now(), r.opts.Lease, func(c string) bool { return remind.ClaimantGone(claimant, c) }); err != nil {
		return st.rep, err
	}
	resumed, err := r.Store.QueuedReminders(ctx, plan.Channel)
	if err != nil {
		return st.rep, err
	}
	st.rep.Resumed, st.total = resumed, resumed+len(plan.Messages)
	st.update(nil)

	more := make(chan struct{}, 1)
	var queueErr error
	qctx, stopQueueing := context.WithCancel(ctx)
	defer stopQueueing()
	go func() {
		defer close(more)
		queueErr = r.queue(qctx, plan, st, more)
	}()
	limit, ok := r.opts.Limits[plan.Channel]
	if !ok {
		limit = DefaultLimit(plan.Channel)
	}
	disp := &remind.Dispatcher{
		Outbox:  outbox{st: r.Store, claimant: claimant, now: r.now, writes: r.writes},
		Channel: r.opts.Channels[plan.Channel], Limit: limit, Backoff: r.opts.Backoff, Timeout: r.opts.Timeout, Now: r.now,
		OnFinish: func(j remind.Job, o remind.Outcome) { st.finish(j, o) },
	}
	runErr := disp.Run(ctx, more)
	if runErr != nil {
		stopQueueing() // the channel is down or the run was stopped: leave the rest unqueued
	}
	for range more { // let the queueing goroutine finish
	}
	if runErr != nil && errors.Is(queueErr, context.Canceled) {
		queueErr = nil
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	st.rep.Elapsed = time.Since(start)
	err = errors.Join(queueErr, runErr)
	if err != nil {
		if n, cerr := r.Store.QueuedReminders(context.WithoutCancel(ctx), plan.Channel); cerr == nil {
			st.rep.Pending = n
		}
		if st.rep.Pending > 0 {
			err = fmt.Errorf("%w; %d reminders stay queued: the next relink remind sends them", err, st.rep.Pending)
		}
	}
	return st.rep, err
}

func (s *sendState) finish(j remind.Job, o remind.Outcome) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch o.Status {
	case remind.Sent:
		s.rep.Sent++
		s.rep.Connections += len(j.Message.Items)
	case remind.Failed:
		f := Failure{To: j.Message.To, Reason: o.Reason}
		for _, it := range j.Message.Items {
			f.Connections = append(f.Connections, it.Connection)
		}
		s.rep.Failed = append(s.rep.Failed, f)
	case remind.Cancelled:
		s.rep.Cancelled++
	}
	if o.Status == remind.Sent || o.Status == remind.Failed || o.Status == remind.Cancelled {
		s.done++
		s.total = max(s.total, s.done)
		if s.progress != nil {
			s.progress(s.done, s.total)
		}
	}
}

// queue mints the links, renders and queues the plan's messages a chunk at
// a time, signalling more after each chunk. A message that cannot be
// rendered (an SMS too long) fails alone; any other error stops queueing.
func (r *Reminders) queue(ctx context.Context, plan Plan, st *sendState, more chan<- struct{}) error {
	window := remind.Window(plan.CreatedAt, r.opts.Cooldown)
	for chunk := range slices.Chunk(plan.Messages, queueChunk) {
		if err := ctx.Err(); err != nil {
			return err
		}
		drafts := make([]store.ReminderDraft, 0, len(chunk))
		conns := make([]int, 0, len(chunk))
		for _, pm := range chunk {
			d, err := r.draft(ctx, pm, plan.Channel, window)
			var re *remind.Error
			if errors.As(err, &re) && re.Kind == remind.KindPermanent {
				f := Failure{To: pm.To, Reason: err.Error()}
				for _, c := range pm.Conns {
					f.Connections = append(f.Connections, c.Ref)
				}
				st.update(func(rep *Report) { rep.Failed = append(rep.Failed, f); st.total-- })
				continue
			}
			if err != nil {
				return err
			}
			drafts, conns = append(drafts, d), append(conns, len(pm.Conns))
		}
		r.writes.Lock()
		outs, err := r.Store.QueueReminders(ctx, drafts, r.opts.Cooldown, r.now())
		r.writes.Unlock()
		if err != nil {
			return err
		}
		st.update(func(rep *Report) {
			for i, o := range outs {
				if o.ID == 0 {
					rep.Skipped[blockedReason(o.Blocked)] += conns[i]
					st.total--
				}
			}
		})
		select {
		case more <- struct{}{}:
		default:
		}
	}
	return nil
}

// draft mints a durable link per connection and renders the message.
func (r *Reminders) draft(ctx context.Context, pm PlannedMessage, channel string, window int64) (store.ReminderDraft, error) {
	ids := make([]int64, len(pm.Conns))
	conns := make([]store.ReminderConn, len(pm.Conns))
	for i, c := range pm.Conns {
		ids[i], conns[i] = c.ID, store.ReminderConn{ID: c.ID, Category: c.Topic()}
	}
	m, err := r.render(pm, channel, func(c PlannedConn) (string, time.Time, error) {
		r.writes.Lock()
		l, err := r.DurableLink(ctx, c.Ref)
		r.writes.Unlock()
		if err != nil {
			return "", time.Time{}, fmt.Errorf("making the reconnect link for %s: %w", c.Ref, err)
		}
		return l.URL, l.ExpiresAt, nil
	})
	if err != nil {
		return store.ReminderDraft{}, err
	}
	m.Key = remind.Key(channel, ids, window)
	payload, err := json.Marshal(m)
	if err != nil {
		return store.ReminderDraft{}, fmt.Errorf("encoding a reminder: %w", err)
	}
	return store.ReminderDraft{Key: m.Key, Channel: channel, Recipient: pm.To, Operator: r.Operator, Payload: payload, Conns: conns}, nil
}

func blockedReason(b string) remind.Reason {
	switch b {
	case store.BlockedPending:
		return remind.ReasonQueued
	case store.BlockedCooldown:
		return remind.ReasonCooldown
	case store.BlockedHealthy, store.BlockedGone:
		return remind.ReasonHealthy
	}
	return remind.ReasonDuplicate
}

// outbox is the store's reminder outbox as a remind.Outbox.
type outbox struct {
	st       *store.Store
	claimant string
	now      func() time.Time
	writes   *sync.Mutex
}

func (o outbox) Claim(ctx context.Context, channel string, n int) ([]remind.Job, error) {
	o.writes.Lock()
	claimed, err := o.st.ClaimReminders(ctx, channel, o.claimant, n, o.now())
	o.writes.Unlock()
	if err != nil {
		return nil, err
	}
	jobs := make([]remind.Job, 0, len(claimed))
	for _, c := range claimed {
		var m remind.Message
		if err := json.Unmarshal(c.Payload, &m); err != nil {
			if ferr := o.Finish(ctx, remind.Job{ID: c.ID}, remind.Outcome{Status: remind.Failed,
				Reason: "the queued message cannot be read: " + err.Error()}); ferr != nil {
				return jobs, ferr
			}
			continue
		}
		jobs = append(jobs, remind.Job{ID: c.ID, Message: m, Attempts: c.Attempts})
	}
	return jobs, nil
}

func (o outbox) Finish(ctx context.Context, j remind.Job, out remind.Outcome) error {
	res := store.ReminderResult{Reason: out.Reason, At: o.now()}
	switch out.Status {
	case remind.Sent:
		res.Status = store.ReminderSent
	case remind.Failed:
		res.Status = store.ReminderFailed
	case remind.Cancelled:
		res.Status = store.ReminderCancelled
	case remind.Retry:
		res.Status, res.Next = store.ReminderQueued, out.Next
	case remind.Released:
		res.Status, res.Next, res.Uncount = store.ReminderQueued, o.now(), true
	}
	o.writes.Lock()
	defer o.writes.Unlock()
	return o.st.FinishReminder(ctx, j.ID, res)
}

func (o outbox) NextDue(ctx context.Context, channel string) (time.Time, bool, error) {
	return o.st.NextDueReminder(ctx, channel)
}
