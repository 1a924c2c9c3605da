package remind

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

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
	Outbox   Outbox
	Channel  Channel
	Limit    Limit
	Backoff  Backoff
	Timeout  time.Duration // per send; default 30s
	Now      func() time.Time
	OnFinish func(Job, Outcome) // progress; called from the Run goroutine
}

type done struct {
	job   Job
	out   Outcome
	fatal error
}

// Run sends until nothing due is left (waiting for retries of transient
// failures), ctx ends, or the channel fails as a whole (then the error says
// why and the rest stays queued). more, when not nil, signals newly queued
// work and is closed when no more will come.
func (d *Dispatcher) Run(ctx context.Context, more <-chan struct{}) error {
	now := d.Now
	if now == nil {
		now = time.Now
	}
	conc := max(d.Limit.Concurrency, 1)
	lim := rate.NewLimiter(rate.Inf, conc)
	if d.Limit.PerSecond > 0 {
		lim = rate.NewLimiter(rate.Limit(d.Limit.PerSecond), 1)
	}
	bo := d.Backoff.withDefaults()
	results := make(chan done, conc)
	inflight := 0
	var ready []Job // claimed, not yet handed to the channel
	var fatal error
	name := d.Channel.Name()
	stopped := func() bool { return fatal != nil || ctx.Err() != nil }
	for {
		if !stopped() && inflight < conc && len(ready) == 0 {
			// Claiming a few ahead saves a transaction per message; a
			// claimed message not yet handed over is never a duplicate.
			jobs, err := d.Outbox.Claim(ctx, name, min(2*conc, 64))
			if err != nil && ctx.Err() == nil {
				fatal = fmt.Errorf("claiming %s reminders: %w", name, err)
			}
			ready = jobs
		}
		for !stopped() && inflight < conc && len(ready) > 0 {
			j := ready[0]
			ready = ready[1:]
			inflight++
			go func() { results <- d.work(ctx, lim, bo, now, j) }()
		}
		if stopped() && len(ready) > 0 {
			for _, j := range ready {
				o := Outcome{Status: Released, Reason: "the run stopped before it was sent"}
				if err := d.Outbox.Finish(context.WithoutCancel(ctx), j, o); err != nil && fatal == nil {
					fatal = err
				}
			}
			ready = nil
		}
		if inflight == 0 {
			if fatal != nil {
				return fatal
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if len(ready) > 0 {
				continue
			}
			wait, stop, err := d.idle(ctx, name, now, bo, more != nil)
			if err != nil {
				return err
			}
			if stop {
				return nil
			}
			select {
			case <-ctx.Done():
			case <-time.After(wait):
			case _, ok := <-more:
				if !ok {
					more = nil
				}
			}
			continue
		}
		var moreCh <-chan struct{}
		if inflight < conc && len(ready) == 0 && !stopped() {
			moreCh = more
		}
		select {
		case r := <-results:
			inflight--
			if r.fatal != nil && fatal == nil {
				fatal = r.fatal
			}
			if d.OnFinish != nil {
				d.OnFinish(r.job, r.out)
			}
		case _, ok := <-moreCh:
			if !ok {
				more = nil
			}
		}
	}
}

// idle decides, with nothing in flight and nothing claimable, whether to
// stop or how long to wait for the next retry or for more work.
func (d *Dispatcher) idle(ctx context.Context, name string, now func() time.Time, bo Backoff, producing bool) (time.Duration, bool, error) {
	next, ok, err := d.Outbox.NextDue(ctx, name)
	if err != nil {
		return 0, false, fmt.Errorf("reading the %s outbox: %w", name, err)
	}
	switch {
	case ok:
		wait := next.Sub(now())
		if wait > 2*bo.Max && !producing {
			return 0, true, nil // not ours to wait for: a later run sends it
		}
		return min(max(wait, 5*time.Millisecond), time.Second), false, nil
	case producing:
		return time.Second, false, nil
	}
	return 0, true, nil
}

func (d *Dispatcher) work(ctx context.Context, lim *rate.Limiter, bo Backoff, now func() time.Time, j Job) done {
	r := done{job: j}
	switch {
	case !j.Message.Expires.IsZero() && now().After(j.Message.Expires):
		r.out = Outcome{Status: Cancelled, Reason: "its reconnect links expired before it could be sent"}
	case lim.Wait(ctx) != nil:
		r.out = Outcome{Status: Released, Reason: "the run stopped before it was sent"}
	default:
		timeout := d.Timeout
		if timeout <= 0 {
			timeout = 30 * time.Second
		}
		sctx, cancel := context.WithTimeout(ctx, timeout)
		err := d.Channel.Send(sctx, j.Message)
		cancel()
		r.out = d.judge(ctx, bo, now, j, err)
		if r.out.Status == Released && ctx.Err() == nil {
			r.fatal = err
		}
	}
	if err := d.Outbox.Finish(context.WithoutCancel(ctx), j, r.out); err != nil && r.fatal == nil {
		r.fatal = fmt.Errorf("recording a %s reminder as %s: %w", d.Channel.Name(), r.out.Status, err)
	}
	return r
}

func (d *Dispatcher) judge(ctx context.Context, bo Backoff, now func() time.Time, j Job, err error) Outcome {
	if err == nil {
		return Outcome{Status: Sent}
	}
	reason := err.Error()
	switch {
	case ctx.Err() != nil:
		return Outcome{Status: Released, Reason: "the run stopped while it was being sent"}
	case KindOf(err) == KindUnavailable:
		return Outcome{Status: Released, Reason: reason}
	case KindOf(err) == KindPermanent:
		return Outcome{Status: Failed, Reason: reason}
	case j.Attempts >= bo.MaxAttempts:
		return Outcome{Status: Failed, Reason: fmt.Sprintf("gave up after %d attempts: %s", j.Attempts, reason)}
	}
	return Outcome{Status: Retry, Reason: reason, Next: now().Add(bo.Delay(j.Attempts))}
}
