package backend

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/relink/relink/remind"
	"github.com/relink/relink/store"
)

// Report is what a send did.
type Report struct {
	Channel     string
	Sent        int                   // messages delivered
	Connections int                   // connections those messages covered
	Skipped     map[remind.Reason]int // connections left out, by reason
	Failed      []Failure             // messages that failed for good
	Cancelled   int                   // messages dropped before sending (links expired, connections healthy)
	Resumed     int                   // messages an earlier, interrupted run had queued
	Recovered   int                   // of those, messages a run that stopped mid-send had left 'sending'
	Pending     int                   // messages left queued because the run stopped early
	// Beaten are the messages this send did not send because someone else
	// reminded the same user first, between the plan and the send (two
	// people confirming at once): who, whom, and how long ago. They are
	// not counted in Skipped.
	Beaten  []Beaten
	Elapsed time.Duration
}

// Beaten is one message not sent because another person's reminder to the
// same user was queued or sent first.
type Beaten struct {
	To          string
	Name        string   // the user's name ("" when the registry has none)
	Connections []string // the ones this message would have covered
	By          string   // who reminded them
	Status      string   // that reminder's: queued, sending or sent
	Ago         time.Duration
}

// String is "dana reminded Hiro Schmidt just now", or while dana's is not
// sent yet "dana is reminding Hiro Schmidt (queued 3s ago)".
func (b Beaten) String() string {
	whom := b.Name
	if whom == "" {
		whom = b.To
	}
	if b.Status == store.ReminderSent {
		return fmt.Sprintf("%s reminded %s %s", b.By, whom, ago(b.Ago))
	}
	return fmt.Sprintf("%s is reminding %s (queued %s)", b.By, whom, ago(b.Ago))
}

// maxBeatenNamed is how many beaten messages a summary names.
const maxBeatenNamed = 3

// Failure is one message that could not be delivered.
type Failure struct {
	To          string
	Connections []string
	Reason      string
}

// Summary is the report in one line: "12 sent · 2 skipped (1 cooldown,
// 1 quiet hours) · 0 failed". Messages someone else's reminder kept out come first when nothing was
// sent: "1 not sent: dana reminded Hiro Schmidt just now · 0 skipped ·
// 0 failed".
func (rep Report) Summary() string {
	beaten := ""
	if n := len(rep.Beaten); n > 0 {
		var named []string
		for _, b := range rep.Beaten[:min(n, maxBeatenNamed)] {
			named = append(named, b.String())
		}
		if n > maxBeatenNamed {
			named = append(named, fmt.Sprintf("and %d more", n-maxBeatenNamed))
		}
		beaten = fmt.Sprintf("%d not sent: %s", n, strings.Join(named, "; "))
	}
	if rep.Sent == 0 && beaten != "" && rep.Resumed == 0 {
		return beaten + " · " + skipSummary(rep.Skipped) + rep.tail()
	}
	s := fmt.Sprintf("%d sent", rep.Sent)
	switch {
	case rep.Recovered > 0:
		s += fmt.Sprintf(" (%d resumed from an interrupted run, %d of them recovered mid-send)", rep.Resumed, rep.Recovered)
	case rep.Resumed > 0:
		s += fmt.Sprintf(" (%d resumed from an interrupted run)", rep.Resumed)
	}
	if beaten != "" {
		s += " · " + beaten
	}
	return s + " · " + skipSummary(rep.Skipped) + rep.tail()
}

// tail is the end of the summary: failed, cancelled, still queued.
func (rep Report) tail() string {
	s := fmt.Sprintf(" · %d failed", len(rep.Failed))
	if rep.Cancelled > 0 {
		s += fmt.Sprintf(" · %d cancelled", rep.Cancelled)
	}
	if rep.Pending > 0 {
		s += fmt.Sprintf(" · %d still queued", rep.Pending)
	}
	return s
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

// Recover queues again the messages left 'sending' by a run that is gone
// (killed: same host, its pid not running) or whose lease ran out, and
// returns how many. Every send path runs it before it looks at what is
// queued — whether or not its own plan has anything new — or such messages
// would wait for good, counted as "already queued" by every later plan.
// SendReminders runs it too.
func (r *Reminders) Recover(ctx context.Context) (int, error) {
	claimant := r.opts.Claimant
	n, err := r.Store.RecoverReminders(ctx, r.now(), r.opts.Lease, func(c string) bool { return remind.ClaimantGone(claimant, c) })
	if err != nil {
		return n, fmt.Errorf("recovering reminders left by an interrupted run: %w", err)
	}
	return n, nil
}

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
	recovered, err := r.Recover(ctx)
	if err != nil {
		return st.rep, err
	}
	st.rep.Recovered = plan.Recovered + recovered
	// This run sends its own messages and those queued before its plan was
	// made (left by an earlier run: the plan's Queued); what another
	// person queues meanwhile, their run sends and reports, and so what
	// they queued at all while their send runs.
	defer r.sending.begin(r.Operator)()
	scope := store.ClaimScope{Operator: r.Operator, Before: plan.CreatedAt, Busy: r.sending.others(r.Operator)}
	if scope.Before.IsZero() { // no plan of its own: what the outbox holds now
		scope.Before = r.now()
	}
	resumed, err := r.Store.QueuedRemindersIn(ctx, scope, plan.Channel)
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
		Outbox:  outbox{st: r.Store, scope: scope, claimant: claimant, now: r.now, writes: r.writes},
		Channel: r.opts.Channels[plan.Channel], Limit: limit, Backoff: r.opts.Backoff, Timeout: r.opts.Timeout, Now: r.now,
		OnFinish: func(j remind.Job, o remind.Outcome) { st.finish(j, o); r.changed() },
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
		kept := make([]PlannedMessage, 0, len(chunk)) // kept[i] is drafts[i]'s
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
			drafts, kept = append(drafts, d), append(kept, pm)
		}
		r.writes.Lock()
		outs, err := r.Store.QueueReminders(ctx, drafts, r.opts.Cooldown, r.now())
		r.writes.Unlock()
		if err != nil {
			return err
		}
		now := r.now()
		st.update(func(rep *Report) {
			for i, o := range outs {
				if o.ID != 0 {
					continue
				}
				st.total--
				if o.By != "" && o.By != r.Operator && o.Blocked != store.BlockedHealthy && o.Blocked != store.BlockedGone {
					rep.Beaten = append(rep.Beaten, beaten(kept[i], o, now))
					continue
				}
				rep.Skipped[blockedReason(o.Blocked)] += len(kept[i].Conns)
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

// beaten is the message pm that o says someone else's reminder kept out.
func beaten(pm PlannedMessage, o store.QueueOutcome, now time.Time) Beaten {
	b := Beaten{To: pm.To, Name: pm.User.Name, By: o.By, Status: o.Status, Ago: max(0, now.Sub(o.At))}
	for _, c := range pm.Conns {
		b.Connections = append(b.Connections, c.Ref)
	}
	return b
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
	scope    store.ClaimScope
	claimant string
	now      func() time.Time
	writes   *sync.Mutex
}

func (o outbox) Claim(ctx context.Context, channel string, n int) ([]remind.Job, error) {
	o.writes.Lock()
	claimed, err := o.st.ClaimRemindersIn(ctx, o.scope, channel, o.claimant, n, o.now())
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
	return o.st.NextDueReminderIn(ctx, o.scope, channel)
}
