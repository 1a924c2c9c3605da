package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/relink/relink/provider"
)

// Checker reads one connection ("provider:provider_id") again from its
// provider and stores what it finds: *backend.Backend.
type Checker interface {
	Check(ctx context.Context, ref string) error
}

// AfterFunc waits for d on some clock, then calls f in a goroutine of its
// own; stop cancels the wait and reports whether it did. time.AfterFunc is
// the real one (RealAfterFunc); tests pass a clock they move, so a recheck
// an hour after a click does not take an hour.
type AfterFunc func(d time.Duration, f func()) (stop func() bool)

// RealAfterFunc is time.AfterFunc.
func RealAfterFunc(d time.Duration, f func()) func() bool { return time.AfterFunc(d, f).Stop }

// DefaultRecheckAfter is serve.recheck_after's default: when, after a
// click on a durable link, serve reads the connection again.
var DefaultRecheckAfter = []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute, time.Hour}

// maxScheduled bounds the connections with rechecks scheduled after a click.
const maxScheduled = 10000

// rechecker runs the rechecks that webhooks ask for (a Belvo historical
// update, a finished Plaid Link session) after they were acknowledged, and
// those scheduled after a user was sent to a provider's update page (a
// durable-link click): a few workers, a bounded queue, one pending
// recheck per connection. It is best effort: a full queue drops the
// recheck (the next sync reads the connection anyway) and failures are
// only logged.
//
// A click schedules a series of rechecks at the delays (serve.recheck_after,
// each counted from the click), because a repair in update mode may send
// no webhook at all: Plaid's link-token webhook "will not have an effect"
// in update mode (2020-09-14.yml, LinkTokenCreateRequest.webhook) and its
// ITEM LOGIN_REPAIRED fires only for a repair made "without the user
// having gone through the update mode flow in your app"; Belvo and Cobalt
// send nothing for it. A recheck is a poll like any other, under the
// precedence rules of package health: a Cobalt history read never clears a
// login_required by itself. A new click on the same connection starts its
// series again; a series stops early once the connection is healthy.
type rechecker struct {
	c       Checker
	log     *slog.Logger
	m       *metrics
	timeout time.Duration
	after   AfterFunc
	delays  []time.Duration
	// settled reports whether ref needs no more rechecks of its series
	// (healthy, no warning); nil: every recheck runs.
	settled func(ref string) bool

	ctx    context.Context
	cancel context.CancelFunc
	queue  chan string
	wg     sync.WaitGroup

	mu      sync.Mutex
	pending map[string]bool
	series  map[string]*series // by connection
	closed  bool
}

// series is the rechecks scheduled after one click.
type series struct{ stops []func() bool }

func (s *series) stop() {
	for _, f := range s.stops {
		f()
	}
}

func newRechecker(c Checker, workers, depth int, timeout time.Duration, log *slog.Logger, m *metrics) *rechecker {
	ctx, cancel := context.WithCancel(context.Background())
	r := &rechecker{c: c, log: log, m: m, timeout: timeout, ctx: ctx, cancel: cancel, after: RealAfterFunc,
		queue: make(chan string, depth), pending: map[string]bool{}, series: map[string]*series{}}
	if c != nil {
		for range workers {
			r.wg.Go(r.work)
		}
	}
	return r
}

// enqueue asks for a recheck of ref unless one is already waiting.
func (r *rechecker) enqueue(ref string) {
	if r.c == nil {
		r.log.Info("recheck skipped: no provider client to read the connection with", "connection", ref)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed || r.pending[ref] {
		return
	}
	select {
	case r.queue <- ref:
		r.pending[ref] = true
	default:
		r.m.rechecks[recheckDropped].Add(1)
		r.log.Warn("recheck dropped: too many waiting; the next sync reads the connection", "connection", ref)
	}
}

func (r *rechecker) depth() int { return len(r.queue) }

// scheduled counts the connections with a series of rechecks pending.
func (r *rechecker) scheduled() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.series)
}

// schedule starts (or starts again) ref's series of rechecks: one at each
// of r.delays from now.
func (r *rechecker) schedule(ref string) {
	if r.c == nil || len(r.delays) == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	if old := r.series[ref]; old != nil {
		old.stop()
	} else if len(r.series) >= maxScheduled {
		r.m.rechecks[recheckDropped].Add(1)
		r.log.Warn("rechecks after a click not scheduled: too many connections have some; the next sync reads the connection", "connection", ref)
		return
	}
	s := &series{}
	r.series[ref] = s
	for i, d := range r.delays {
		last := i == len(r.delays)-1
		s.stops = append(s.stops, r.after(d, func() { r.fire(ref, s, last) }))
	}
}

// fire is one recheck of ref's series s coming due.
func (r *rechecker) fire(ref string, s *series, last bool) {
	r.mu.Lock()
	if r.closed || r.series[ref] != s { // stopped, or a newer click started another series
		r.mu.Unlock()
		return
	}
	if last {
		delete(r.series, ref)
	}
	r.mu.Unlock()
	if r.settled != nil && r.settled(ref) {
		r.mu.Lock()
		if r.series[ref] == s {
			delete(r.series, ref)
			s.stop()
		}
		r.mu.Unlock()
		r.log.Info("rechecks after a click ended: the connection is healthy", "connection", ref)
		return
	}
	r.enqueue(ref)
}

func (r *rechecker) work() {
	for ref := range r.queue {
		r.mu.Lock()
		delete(r.pending, ref)
		r.mu.Unlock()
		if r.ctx.Err() != nil {
			r.m.rechecks[recheckDropped].Add(1)
			continue
		}
		start := time.Now()
		err := r.check(ref)
		switch {
		case err == nil || errors.Is(err, provider.ErrNotSupported):
			r.m.rechecks[recheckOK].Add(1)
			r.log.Info("connection rechecked", "connection", ref, "took", time.Since(start).Round(time.Millisecond))
		default:
			r.m.rechecks[recheckFailed].Add(1)
			r.log.Warn("recheck failed", "connection", ref, "error", err)
		}
	}
}

// check runs one recheck; a panic in a provider client is its failure,
// not the server's end.
func (r *rechecker) check(ref string) (err error) {
	ctx, cancel := context.WithTimeout(r.ctx, r.timeout)
	defer cancel()
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("recheck panicked: %v", p)
		}
	}()
	return r.c.Check(ctx, ref)
}

// close stops taking rechecks, lets the running and queued ones finish for
// up to grace, then cancels the rest and waits for the workers.
func (r *rechecker) close(grace time.Duration) {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	r.closed = true
	close(r.queue)
	for ref, s := range r.series {
		s.stop()
		delete(r.series, ref)
	}
	r.mu.Unlock()
	finished := make(chan struct{})
	go func() { r.wg.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(grace):
		r.cancel()
		<-finished
	}
	r.cancel()
}
