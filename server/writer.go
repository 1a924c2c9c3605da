package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/relink/relink/store"
)

// errClosing answers requests that arrive while the server shuts down.
var errClosing = errors.New("the server is shutting down")

// applier stores observations: *store.Store. ApplyUnflushed returns once
// the batch is committed; its flushed returns once the batch is on disk.
type applier interface {
	ApplyUnflushed(ctx context.Context, obs []store.Observation) ([]store.Outcome, func() error, error)
}

// job is one verified observation waiting to be stored, and where its
// requester waits for the outcome.
type job struct {
	obs  store.Observation
	done chan jobResult // buffered: the writer never blocks on it
}

type jobResult struct {
	out store.Outcome
	err error
}

// writer is the group commit: one goroutine takes every observation that is
// waiting (up to maxBatch) into one store transaction; a second answers
// each requester of a batch once the batch is on disk, while the first
// already stores the next (the disk's flush, ~3 ms, is most of a small
// batch's time, and no webhook is acknowledged before it). Under load the
// batches grow by themselves while a commit runs; when idle, a lone event
// is committed at once. A batch that found others waiting lingers a little
// for more: a transaction's fixed cost (commit, WAL pages, statement
// preparation) is several times the cost of one more observation in it,
// so fuller batches leave more of the CPU to verification.
type writer struct {
	st       applier
	in       chan *job
	flushing chan flushing // committed batches, to be answered once on disk
	stop     chan struct{} // closed: accept nothing new, drain and exit
	done     chan struct{} // closed when both goroutines have exited
	maxBatch int
	linger   time.Duration // how long a batch that found company waits for more
	timeout  time.Duration // per transaction
	log      *slog.Logger
	m        *metrics
	onStored func() // after each transaction that stored something; nil: none
}

func newWriter(st applier, maxBatch int, linger, timeout time.Duration, log *slog.Logger, m *metrics) *writer {
	return &writer{st: st, in: make(chan *job, 4*maxBatch), flushing: make(chan flushing, flushAhead),
		stop: make(chan struct{}), done: make(chan struct{}),
		maxBatch: maxBatch, linger: linger, timeout: timeout, log: log, m: m}
}

// flushAhead is how many committed batches may wait for the disk while
// the writer stores more.
const flushAhead = 4

// flushing is a committed batch waiting for the disk.
type flushing struct {
	jobs    []*job
	outs    []store.Outcome
	flushed func() error
}

// submit stores obs and returns its outcome once its transaction committed.
func (w *writer) submit(ctx context.Context, obs store.Observation) (store.Outcome, error) {
	j := &job{obs: obs, done: make(chan jobResult, 1)}
	select {
	case <-w.stop:
		return store.Outcome{}, errClosing
	default:
	}
	select {
	case w.in <- j:
	case <-w.stop:
		return store.Outcome{}, errClosing
	case <-ctx.Done():
		return store.Outcome{}, fmt.Errorf("waiting for the store: %w", ctx.Err())
	}
	select {
	case r := <-j.done:
		return r.out, r.err
	case <-w.done:
		// The writer exited; it may have answered just before.
		select {
		case r := <-j.done:
			return r.out, r.err
		default:
			return store.Outcome{}, errClosing
		}
	}
}

// run is the writer goroutine; it returns after close once the queue is
// empty and every batch is answered.
func (w *writer) run() {
	answered := make(chan struct{})
	go w.answer(answered)
	defer func() {
		close(w.flushing)
		<-answered
		close(w.done)
	}()
	obs := make([]store.Observation, 0, w.maxBatch)
	for {
		// Each batch is a new slice: the last one may still wait for the disk.
		batch := make([]*job, 0, w.maxBatch)
		select {
		case j := <-w.in:
			batch = append(batch, j)
		case <-w.stop:
			for {
				select {
				case j := <-w.in:
					w.commit(w.fill(append(batch[:0:0], j)), obs)
				default:
					return
				}
			}
		}
		if batch = w.fill(batch); len(batch) > 1 && w.linger > 0 {
			batch = w.wait(batch)
		}
		w.commit(batch, obs)
	}
}

// answer is the second goroutine: it answers each committed batch once it
// is on disk, in the order they were committed.
func (w *writer) answer(done chan<- struct{}) {
	defer close(done)
	for f := range w.flushing {
		err := f.flushed()
		for i, j := range f.jobs {
			if err != nil {
				j.done <- jobResult{err: fmt.Errorf("storing %d webhook event(s): %w", len(f.jobs), err)}
				continue
			}
			j.done <- jobResult{out: f.outs[i]}
		}
	}
}

// wait gives more jobs up to linger to join a batch that is not full.
func (w *writer) wait(batch []*job) []*job {
	t := time.NewTimer(w.linger)
	defer t.Stop()
	for len(batch) < w.maxBatch {
		select {
		case j := <-w.in:
			batch = append(batch, j)
		case <-t.C:
			return batch
		}
	}
	return batch
}

// fill adds the jobs already waiting, up to maxBatch.
func (w *writer) fill(batch []*job) []*job {
	for len(batch) < w.maxBatch {
		select {
		case j := <-w.in:
			batch = append(batch, j)
		default:
			return batch
		}
	}
	return batch
}

// commit stores batch in one transaction and answers every job. When the
// transaction fails, each observation is tried alone, so one bad
// observation does not fail the others.
func (w *writer) commit(batch []*job, obs []store.Observation) {
	obs = obs[:0]
	for _, j := range batch {
		obs = append(obs, j.obs)
	}
	outs, flushed, err := w.apply(obs)
	if err == nil {
		w.flushing <- flushing{jobs: batch, outs: outs, flushed: flushed}
		return
	}
	if len(batch) == 1 {
		batch[0].done <- jobResult{err: err}
		return
	}
	w.log.Warn("storing a batch of webhooks failed; storing them one by one", "events", len(batch), "error", err)
	for _, j := range batch {
		outs, flushed, err := w.apply([]store.Observation{j.obs})
		if err != nil {
			j.done <- jobResult{err: err}
			continue
		}
		w.flushing <- flushing{jobs: []*job{j}, outs: outs, flushed: flushed}
	}
}

func (w *writer) apply(obs []store.Observation) ([]store.Outcome, func() error, error) {
	ctx, cancel := context.WithTimeout(context.Background(), w.timeout)
	defer cancel()
	start := time.Now()
	outs, flushed, err := w.st.ApplyUnflushed(ctx, obs)
	w.m.storeNS.Add(int64(time.Since(start)))
	if err != nil {
		w.m.batchErrors.Add(1)
		return nil, nil, fmt.Errorf("storing %d webhook event(s): %w", len(obs), err)
	}
	w.m.batches.Add(1)
	w.m.batchEvents.Add(int64(len(obs)))
	if w.onStored != nil {
		w.onStored()
	}
	return outs, flushed, nil
}

// close stops accepting, stores what is queued and waits for the goroutine.
func (w *writer) close() {
	close(w.stop)
	<-w.done
}
