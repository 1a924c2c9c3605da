package remind

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
	"golang.org/x/time/rate"
)

// Limit bounds one channel's sending.
type Limit struct {
	Concurrency int     // sends at once; default 1
	PerSecond   float64 // sends per second; 0 is no limit
}

// Backoff spaces the retries of transient failures.
type Backoff struct {
	Base        time.Duration // first retry after about this; default 2s
	Max         time.Duration // never longer than this; default 1m
	MaxAttempts int           // give up (failed) after this many attempts; default 5
}

func (b Backoff) withDefaults() Backoff {
	if b.Base <= 0 {
		b.Base = 2 * time.Second
	}
	if b.Max <= 0 {
		b.Max = time.Minute
	}
	if b.MaxAttempts <= 0 {
		b.MaxAttempts = 5
	}
	return b
}

// Delay is the wait before attempt attempts+1: Base·2^(attempts-1), capped
// at Max, with ±20% jitter so a burst of failures does not retry in step.
func (b Backoff) Delay(attempts int) time.Duration {
	b = b.withDefaults()
	d := b.Base
	for i := 1; i < attempts && d < b.Max; i++ {
		d *= 2
	}
	d = min(d, b.Max)
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// Job is a claimed outbox message.
type Job struct {
	ID       int64
	Message  Message
	Attempts int // including the one about to be made
}

// Status is what became of a job.
type Status int

// The outcomes of one attempt.
const (
	Sent      Status = iota
	Retry            // transient failure: queued again for Outcome.Next
	Failed           // permanent failure, or out of attempts
	Cancelled        // no longer worth sending (its links expired)
	Released         // not attempted after all (run stopped): queued again, attempt not counted
)

// String names the status.
func (s Status) String() string {
	return [...]string{"sent", "retry", "failed", "cancelled", "released"}[s]
}

// Outcome is the result of one attempt.
type Outcome struct {
	Status Status
	Reason string    // why, for anything but Sent; never holds a secret
	Next   time.Time // for Retry
}

// Outbox is the durable queue a Dispatcher works from (the store's
// reminder outbox, through the backend).
type Outbox interface {
	// Claim marks up to n due queued messages of channel as being sent and
	// returns them. A message the outbox finds no longer wanted (all its
	// connections healthy again) is cancelled there and not returned.
	Claim(ctx context.Context, channel string, n int) ([]Job, error)
	// Finish records an attempt's outcome. For Sent, it must be durable
	// before Finish returns: that is what bounds duplicates after a crash.
	Finish(ctx context.Context, j Job, o Outcome) error
	// NextDue is the earliest next attempt of channel's queued messages.
	NextDue(ctx context.Context, channel string) (time.Time, bool, error)
}

// Dispatcher sends one channel's queued messages: at most Limit.Concurrency
// at once, at most Limit.PerSecond, each marked as being sent before it is
// sent and as sent right after, so a crash re-sends at most the messages in
// flight (one per concurrent send).
type Dispatcher struct {
	Outbox  Outbox
	Channel Channel
	Limit   Limit
	Backoff Backoff
	Timeout time.Duration // per send; default 30s
	// Now is the time messages are judged by: link expiry, when a retry is
	// due. Default Clock.Now.
	Now func() time.Time
	// Clock is what Run waits by: the rate limit's pacing and the naps
	// until a retry is due or more work is queued. Default the real clock;
	// a test's clock can move on at once, so nothing waits for real time.
	// (Timeout stays a context deadline on the real clock: it bounds the
	// channel's I/O.)
	Clock    Clock
	OnFinish func(Job, Outcome) // progress; one call at a time, all before Run returns
}

// Clock tells the time and makes timers.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Run sends until nothing due is left (waiting for retries of transient
// failures), ctx ends, or the channel fails as a whole (then the error says
// why and the rest stays queued). more, when not nil, signals newly queued
// work and is closed when no more will come.
//
// It claims messages when a send slot is free and hands each to a send
// (an errgroup limited to Limit.Concurrency); with sends in flight it waits
// for one to finish, or for more work while a slot is free; with none, it
// stops, or naps until a retry is due or more work comes.
func (d *Dispatcher) Run(ctx context.Context, more <-chan struct{}) error {
	r := d.newRun(ctx, more)
	defer r.sends.Wait() // nothing is in flight by then; this lets the last goroutines end
	for {
		r.claimAndHandOver()
		if r.inflight.Load() > 0 {
			r.awaitProgress()
			continue
		}
		if err := r.stopErr(); err != nil {
			return err
		}
		wait, stop, err := r.idle()
		if stop || err != nil {
			return err
		}
		r.nap(wait)
	}
}

// run is the state of one Run.
type run struct {
	d     *Dispatcher
	ctx   context.Context
	more  <-chan struct{} // nil once closed; the Run goroutine's alone
	clock Clock
	now   func() time.Time
	lim   *rate.Limiter
	bo    Backoff
	name  string
	conc  int

	// sends run the attempts, at most conc at once. Their functions return
	// nil: a fatal error must stop the hand-over as soon as it happens, not
	// when Wait returns, so it goes to fatal.
	sends    errgroup.Group
	inflight atomic.Int64  // handed over to sends and not finished
	finished chan struct{} // wakes the Run goroutine when a send finishes

	mu    sync.Mutex
	fatal error // the first error that stops the run

	reporting sync.Mutex // OnFinish is called one at a time
}

func (d *Dispatcher) newRun(ctx context.Context, more <-chan struct{}) *run {
	r := &run{d: d, ctx: ctx, more: more, clock: d.Clock, now: d.Now, bo: d.Backoff.withDefaults(),
		name: d.Channel.Name(), conc: max(d.Limit.Concurrency, 1), finished: make(chan struct{}, 1)}
	if r.clock == nil {
		r.clock = realClock{}
	}
	if r.now == nil {
		r.now = r.clock.Now
	}
	r.lim = rate.NewLimiter(rate.Inf, r.conc)
	if d.Limit.PerSecond > 0 {
		r.lim = rate.NewLimiter(rate.Limit(d.Limit.PerSecond), 1)
	}
	r.sends.SetLimit(r.conc)
	return r
}

// fail records err as the run's fatal error unless it has one already.
func (r *run) fail(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fatal == nil {
		r.fatal = err
	}
}

// stopErr is why the run stops, or nil: its fatal error, else ctx's.
func (r *run) stopErr() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fatal != nil {
		return r.fatal
	}
	return r.ctx.Err()
}

func (r *run) stopped() bool { return r.stopErr() != nil }

// claimAndHandOver claims due messages while the run goes on and a send
// slot is free, and hands each over to a send, waiting for slots as they
// free up. Claiming a few ahead saves a transaction per message; a claimed
// message not yet handed over is never a duplicate.
func (r *run) claimAndHandOver() {
	if r.stopped() || r.inflight.Load() >= int64(r.conc) {
		return
	}
	jobs, err := r.d.Outbox.Claim(r.ctx, r.name, min(2*r.conc, 64))
	if err != nil && r.ctx.Err() == nil {
		r.fail(fmt.Errorf("claiming %s reminders: %w", r.name, err))
	}
	for _, j := range jobs {
		r.handOver(j)
	}
}

// handOver starts j's send once a slot is free. If the run has stopped by
// then, j is released unattempted (and not reported).
func (r *run) handOver(j Job) {
	r.inflight.Add(1)
	r.sends.Go(func() error {
		defer r.sendDone()
		if r.stopped() {
			o := Outcome{Status: Released, Reason: "the run stopped before it was sent"}
			if err := r.d.Outbox.Finish(context.WithoutCancel(r.ctx), j, o); err != nil {
				r.fail(err)
			}
			return nil
		}
		r.report(r.send(j))
		return nil
	})
}

func (r *run) sendDone() {
	r.inflight.Add(-1)
	select {
	case r.finished <- struct{}{}:
	default: // a wake-up is pending already
	}
}

// report records an attempt's fatal error, then tells OnFinish.
func (r *run) report(a attempt) {
	if a.fatal != nil {
		r.fail(a.fatal)
	}
	if r.d.OnFinish != nil {
		r.reporting.Lock()
		defer r.reporting.Unlock()
		r.d.OnFinish(a.job, a.out)
	}
}

// awaitProgress waits, with sends in flight, for one to finish or, while a
// slot is free and the run goes on, for more work.
func (r *run) awaitProgress() {
	var more <-chan struct{}
	if r.inflight.Load() < int64(r.conc) && !r.stopped() {
		more = r.more
	}
	select {
	case <-r.finished:
	case _, ok := <-more:
		if !ok {
			r.more = nil
		}
	}
}

// idle decides, with nothing in flight and nothing claimable, whether to
// stop or how long to wait for the next retry or for more work.
func (r *run) idle() (time.Duration, bool, error) {
	next, ok, err := r.d.Outbox.NextDue(r.ctx, r.name)
	if err != nil {
		return 0, false, fmt.Errorf("reading the %s outbox: %w", r.name, err)
	}
	producing := r.more != nil
	switch {
	case ok:
		wait := next.Sub(r.now())
		if wait > 2*r.bo.Max && !producing {
			return 0, true, nil // not ours to wait for: a later run sends it
		}
		return min(max(wait, 5*time.Millisecond), time.Second), false, nil
	case producing:
		return time.Second, false, nil
	}
	return 0, true, nil
}

// nap waits, by the clock, for d to pass, the run to end or more work.
func (r *run) nap(d time.Duration) {
	select {
	case <-r.ctx.Done():
	case <-r.clock.After(d):
	case _, ok := <-r.more:
		if !ok {
			r.more = nil
		}
	}
}

// attempt is the result of one attempt at a job.
type attempt struct {
	job   Job
	out   Outcome
	fatal error
}

// send sends j (unless its links expired, or the run stops while it
// waits for the rate limit) and records the outcome in the outbox.
func (r *run) send(j Job) attempt {
	a := attempt{job: j}
	switch {
	case !j.Message.Expires.IsZero() && r.now().After(j.Message.Expires):
		a.out = Outcome{Status: Cancelled, Reason: "its reconnect links expired before it could be sent"}
	case !r.pace():
		a.out = Outcome{Status: Released, Reason: "the run stopped before it was sent"}
	default:
		timeout := r.d.Timeout
		if timeout <= 0 {
			timeout = 30 * time.Second
		}
		sctx, cancel := context.WithTimeout(r.ctx, timeout)
		err := r.d.Channel.Send(sctx, j.Message)
		cancel()
		a.out = r.judge(j, err)
		if a.out.Status == Released && r.ctx.Err() == nil {
			a.fatal = err
		}
	}
	if err := r.d.Outbox.Finish(context.WithoutCancel(r.ctx), j, a.out); err != nil && a.fatal == nil {
		a.fatal = fmt.Errorf("recording a %s reminder as %s: %w", r.name, a.out.Status, err)
	}
	return a
}

// pace waits, by the clock, until the rate limit lets one more send go,
// as rate.Limiter.Wait does on the real clock: false, with the
// reservation given back, if the run stops first or ctx's deadline would
// pass first.
func (r *run) pace() bool {
	if r.ctx.Err() != nil {
		return false
	}
	now := r.clock.Now()
	res := r.lim.ReserveN(now, 1)
	delay := res.DelayFrom(now)
	if delay == 0 {
		return true
	}
	if deadline, ok := r.ctx.Deadline(); ok && delay > time.Until(deadline) {
		res.CancelAt(now)
		return false
	}
	select {
	case <-r.clock.After(delay):
		return true
	case <-r.ctx.Done():
		res.CancelAt(r.clock.Now())
		return false
	}
}

func (r *run) judge(j Job, err error) Outcome {
	if err == nil {
		return Outcome{Status: Sent}
	}
	reason := err.Error()
	switch {
	case r.ctx.Err() != nil:
		return Outcome{Status: Released, Reason: "the run stopped while it was being sent"}
	case KindOf(err) == KindUnavailable:
		return Outcome{Status: Released, Reason: reason}
	case KindOf(err) == KindPermanent:
		return Outcome{Status: Failed, Reason: reason}
	case j.Attempts >= r.bo.MaxAttempts:
		return Outcome{Status: Failed, Reason: fmt.Sprintf("gave up after %d attempts: %s", j.Attempts, reason)}
	}
	return Outcome{Status: Retry, Reason: reason, Next: r.now().Add(r.bo.Delay(j.Attempts))}
}
