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

// rechecker runs the rechecks that webhooks ask for (a Belvo historical
// update, a finished Plaid Link session) after they were acknowledged: a
// few workers, a bounded queue, one pending recheck per connection. It is
// best effort: a full queue drops the recheck (the next sync reads the
// connection anyway) and failures are only logged.
type rechecker struct {
	c       Checker
	log     *slog.Logger
	m       *metrics
	timeout time.Duration

	ctx    context.Context
	cancel context.CancelFunc
	queue  chan string
	wg     sync.WaitGroup

	mu      sync.Mutex
	pending map[string]bool
	closed  bool
}

func newRechecker(c Checker, workers, depth int, timeout time.Duration, log *slog.Logger, m *metrics) *rechecker {
	ctx, cancel := context.WithCancel(context.Background())
	r := &rechecker{c: c, log: log, m: m, timeout: timeout, ctx: ctx, cancel: cancel,
		queue: make(chan string, depth), pending: map[string]bool{}}
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
