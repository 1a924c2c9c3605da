package backend

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// SyncGate lets one sync run at a time among the Backends that share it
// (relink serve's, and every SSH session's copy made with As): the
// providers' rate limits are the team's, so ten people pressing ctrl+r
// must not poll them ten times over. A sync asked for while one runs that
// covers the same providers does not start another: it waits for the
// running one, sees its progress, and returns its result. One that asks
// for a provider the running one leaves out waits for it to end, then
// runs. The zero value is not usable; make one with NewSyncGate.
//
// Joining rather than refusing: whoever asks wants the cache fresh, and
// the running sync's result is that, sooner than a sync of their own.
type SyncGate struct {
	mu   sync.Mutex
	run  *syncRun // the running sync; nil when none
	last *syncRun // the last one to finish
}

// NewSyncGate returns a gate with no sync running.
func NewSyncGate() *SyncGate { return &SyncGate{} }

// syncRun is one sync through the gate.
type syncRun struct {
	// ctx is what the sync runs under: not its starter's context, whose end
	// (a session closed) must not fail the sync for the others waiting on
	// it, but one ended when the last caller holding the run has gone.
	ctx     context.Context
	cancel  context.CancelFunc
	holders int // callers whose contexts hold the run (hold)

	names    []string // the providers it syncs
	by       string
	started  time.Time
	done     chan struct{} // closed when it ends
	waiting  int           // callers waiting for its result besides its starter
	progress map[string]SyncProgress
	watchers []func(SyncProgress)
	reports  []SyncReport
	err      error
	ended    time.Time
}

// SyncStatus is what a gate's sync is doing, for every session to show.
type SyncStatus struct {
	Running  bool
	By       string    // who started it ("the hub" for serve's own)
	Started  time.Time // when
	Waiting  int       // how many others wait for its result
	Progress []SyncProgress
	// The last sync to finish: when, and what it found (nil before any).
	LastEnded   time.Time
	LastReports []SyncReport
	LastErr     error
}

// Status says what the gate's sync is doing and what the last one found.
func (g *SyncGate) Status() SyncStatus {
	g.mu.Lock()
	defer g.mu.Unlock()
	var st SyncStatus
	if r := g.run; r != nil {
		st.Running, st.By, st.Started, st.Waiting = true, r.by, r.started, r.waiting
		for _, n := range r.names {
			if p, ok := r.progress[n]; ok {
				st.Progress = append(st.Progress, p)
			}
		}
	}
	if l := g.last; l != nil {
		st.LastEnded, st.LastReports, st.LastErr = l.ended, l.reports, l.err
	}
	return st
}

// SyncStatus is the shared sync's state (Status of the Backend's gate);
// without a gate, nothing runs as far as it knows.
func (d *Backend) SyncStatus() SyncStatus {
	if d.Syncs == nil {
		return SyncStatus{}
	}
	return d.Syncs.Status()
}

// enter either makes the caller the starter of a sync of names (own is
// true: it runs it and calls finish) or joins the running one that covers
// names (own is false: it waits on run.done). A running sync that does not
// cover names is waited for first, or until ctx ends.
func (g *SyncGate) enter(ctx context.Context, names []string, by string, now time.Time, progress func(SyncProgress)) (*syncRun, bool, error) {
	for {
		g.mu.Lock()
		r := g.run
		if r == nil {
			r = &syncRun{names: names, by: by, started: now, done: make(chan struct{}), progress: map[string]SyncProgress{}}
			r.ctx, r.cancel = context.WithCancel(context.WithoutCancel(ctx))
			r.holders = 1 // the starter (hold)
			if progress != nil {
				r.watchers = append(r.watchers, progress)
			}
			g.run = r
			g.mu.Unlock()
			return r, true, nil
		}
		if covers(r.names, names) {
			g.joinLocked(r, progress)
			g.mu.Unlock()
			return r, false, nil
		}
		g.mu.Unlock()
		select {
		case <-r.done:
		case <-ctx.Done():
			return nil, false, fmt.Errorf("waiting for the running sync (started by %s) to end: %w", r.by, ctx.Err())
		}
	}
}

// join joins the running sync, if any: its progress so far and as it
// comes to progress. Nil when none runs.
func (g *SyncGate) join(progress func(SyncProgress)) *syncRun {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.run != nil {
		g.joinLocked(g.run, progress)
	}
	return g.run
}

// joinLocked adds a waiter to r, g.mu held: progress gets what r has done
// so far, then the rest as it comes.
func (g *SyncGate) joinLocked(r *syncRun, progress func(SyncProgress)) {
	r.waiting++
	r.holders++ // hold
	if progress == nil {
		return
	}
	for _, n := range r.names {
		if p, ok := r.progress[n]; ok {
			progress(p)
		}
	}
	r.watchers = append(r.watchers, progress)
}

// FollowSync waits for the sync running through the gate (the hub's, or
// another session's), passing its progress to progress, and returns its
// result and true; when none runs it returns at once with false, and
// never starts one. Every session follows the hub's sync this way, told
// of its start by OnChange.
func (d *Backend) FollowSync(ctx context.Context, progress func(SyncProgress)) ([]SyncReport, bool, error) {
	if d.Syncs == nil {
		return nil, false, nil
	}
	r := d.Syncs.join(progress)
	if r == nil {
		return nil, false, nil
	}
	defer d.Syncs.hold(r, ctx)()
	select {
	case <-r.done:
	case <-ctx.Done():
		return nil, true, fmt.Errorf("following the sync %s started: %w", r.by, ctx.Err())
	}
	return slices.Clone(r.reports), true, r.err
}

// hold keeps r running while ctx lasts (enter and join count the caller
// among its holders, under the gate's lock, before they hand the run
// out): the run's own context ends when the contexts of all who hold it
// have ended (the starter and everyone who joined or follows it). release
// lets go without ending it, once the caller is done with the run.
func (g *SyncGate) hold(r *syncRun, ctx context.Context) (release func()) {
	var once sync.Once
	leave := func(ended bool) {
		once.Do(func() {
			g.mu.Lock()
			r.holders--
			last := r.holders == 0
			g.mu.Unlock()
			if last && ended {
				r.cancel()
			}
		})
	}
	stop := context.AfterFunc(ctx, func() { leave(true) })
	return func() {
		if stop() {
			leave(false)
		}
	}
}

// report passes a progress count to every caller of the run.
func (g *SyncGate) report(r *syncRun, p SyncProgress) {
	g.mu.Lock()
	defer g.mu.Unlock()
	p.By = r.by
	r.progress[p.Provider] = p
	for _, w := range r.watchers {
		w(p)
	}
}

// finish records the run's result and lets its waiters have it.
func (g *SyncGate) finish(r *syncRun, reports []SyncReport, err error, now time.Time) {
	g.mu.Lock()
	r.reports, r.err, r.ended, r.watchers = reports, err, now, nil
	g.run, g.last = nil, r
	g.mu.Unlock()
	r.cancel()
	close(r.done)
}

// covers reports whether the providers have include every one of want.
func covers(have, want []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}
