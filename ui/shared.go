package ui

import (
	"context"
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/relink/relink/health"
	"github.com/relink/relink/store"
)

// SharedReads are the reads every dashboard of one hub makes alike: the
// counts (the tabs), the freshness of each provider, the insights (the
// breakdown, new failures per day, the expiring summary) and how many rows
// a group and filter hold. Fifty sessions on a hub would otherwise each
// make them every few seconds; through one SharedReads (Options.Shared)
// the sessions' identical reads in flight at once are one read, and its
// result serves every session until the cache changes (Changed, which the
// hub calls on its notice of a change) or for maxAge at most, whichever
// comes first, so that a change made outside the hub (another relink on
// the same file) shows within maxAge of a session's next re-read. A page
// of rows is shared too, with the sessions showing the same window.
//
// Every read through it waits for one of sharedReadSlots: the store has four connections, and a
// flood of re-reads (fifty sessions told of each stored webhook) must
// leave the writer one to write with.
//
// The insights (Breakdown, NewFailuresPerDay, Expiring) are read again at
// most once every insightsSettle however often Changed comes: they sum a
// day's or a category's history, dearer than the counts, and a flood of
// stored webhooks tells of a change four times a second; a change shows in
// them within insightsSettle.
//
// A caller gets its own copy of every map and slice.
type SharedReads struct {
	st     *store.Store
	maxAge time.Duration
	now    func() time.Time
	flight singleflight.Group
	slots  chan struct{} // one taken for each read under way

	mu      sync.Mutex
	gen     uint64 // bumped by Changed
	entries map[string]sharedEntry
}

// sharedEntry is one read's result, with the generation it was read in and
// when it started.
type sharedEntry struct {
	gen uint64
	at  time.Time
	val any
}

// DefaultSharedMaxAge is how long a shared result serves when no change
// notice came: shorter than the dashboard's re-read (3 s), so a change the
// hub was not told of shows at a session's next re-read or the one after.
const DefaultSharedMaxAge = 2 * time.Second

// insightsSettle is how long an insight read before a Changed still
// serves (see SharedReads).
const insightsSettle = time.Second

// sharedReadSlots is how many reads through a SharedReads run at once:
// half of the store's connections (store.Open: four).
const sharedReadSlots = 2

// sharedSweepAt is how many results are kept before the stale ones are
// dropped (each filter typed has its own count).
const sharedSweepAt = 256

// NewSharedReads serves the shared reads of st. maxAge ≤ 0 means
// DefaultSharedMaxAge; now is the clock (time.Now when nil).
func NewSharedReads(st *store.Store, maxAge time.Duration, now func() time.Time) *SharedReads {
	if maxAge <= 0 {
		maxAge = DefaultSharedMaxAge
	}
	if now == nil {
		now = time.Now
	}
	return &SharedReads{st: st, maxAge: maxAge, now: now, entries: map[string]sharedEntry{},
		slots: make(chan struct{}, sharedReadSlots)}
}

// slot waits for a read slot until ctx ends; done gives it back.
func (r *SharedReads) slot(ctx context.Context) (done func(), err error) {
	select {
	case r.slots <- struct{}{}:
		return func() { <-r.slots }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Store is the store r reads.
func (r *SharedReads) Store() *store.Store { return r.st }

// Changed says the cache changed: no result read before serves again. It
// never blocks on a read.
func (r *SharedReads) Changed() {
	r.mu.Lock()
	r.gen++
	r.mu.Unlock()
}

// read serves key's result if one of this generation is younger than
// maxAge; else it joins the read of key in flight in this generation, or
// starts it. The read runs apart from ctx (the first caller may leave, the
// others still wait on it), bounded by queryTimeout; ctx bounds the wait.
func (r *SharedReads) read(ctx context.Context, key string, f func(context.Context) (any, error)) (any, error) {
	return r.readSettled(ctx, key, 0, f)
}

// readSettled is read, except that a result of an earlier generation still
// serves while younger than settle (and maxAge).
func (r *SharedReads) readSettled(ctx context.Context, key string, settle time.Duration, f func(context.Context) (any, error)) (any, error) {
	r.mu.Lock()
	gen := r.gen
	e, ok := r.entries[key]
	r.mu.Unlock()
	if age := r.now().Sub(e.at); ok && age < r.maxAge && (e.gen == gen || age < settle) {
		return e.val, nil
	}
	ch := r.flight.DoChan(strconv.FormatUint(gen, 10)+"\x00"+key, func() (any, error) {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), queryTimeout)
		defer cancel()
		release, err := r.slot(rctx)
		if err != nil {
			return nil, err
		}
		at := r.now()
		v, err := f(rctx)
		release()
		if err != nil {
			return nil, err
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		if old, ok := r.entries[key]; !ok || old.gen < gen || (old.gen == gen && old.at.Before(at)) {
			r.entries[key] = sharedEntry{gen: gen, at: at, val: v}
		}
		if len(r.entries) > sharedSweepAt {
			now := r.now()
			for k, e := range r.entries {
				if e.gen != r.gen || now.Sub(e.at) >= r.maxAge {
					delete(r.entries, k)
				}
			}
		}
		return v, nil
	})
	select {
	case res := <-ch:
		return res.Val, res.Err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Page is store.Page, shared: sessions showing the same window of the
// same group, filter and order (the first page of a group, above all)
// read it once for all. A session's own act is told (the backend's
// OnChange, the hub's Changed) before the session re-reads, so it sees
// its act in its rows at once.
func (r *SharedReads) Page(ctx context.Context, q store.PageQuery) ([]store.Connection, error) {
	key := "page\x00" + strconv.Itoa(int(q.Group.Kind)) + "\x00" + string(q.Group.Category) + "\x00" + q.Filter + "\x00" +
		strconv.Itoa(int(q.Sort)) + "\x00" + strconv.FormatBool(q.Desc) + "\x00" + strconv.Itoa(q.Offset) + "\x00" + strconv.Itoa(q.Limit) + "\x00" +
		strconv.FormatBool(q.Synonyms != nil) // the dashboard gives institution.Synonyms or none
	v, err := r.read(ctx, key, func(ctx context.Context) (any, error) { return r.st.Page(ctx, q) })
	if err != nil {
		return nil, err
	}
	return slices.Clone(v.([]store.Connection)), nil
}

// Counts is store.Counts, shared.
func (r *SharedReads) Counts(ctx context.Context) (store.Counts, error) {
	v, err := r.read(ctx, "counts", func(ctx context.Context) (any, error) { return r.st.Counts(ctx) })
	if err != nil {
		return store.Counts{}, err
	}
	c := v.(store.Counts)
	c.ByCategory = maps.Clone(c.ByCategory)
	return c, nil
}

// SyncStates is store.SyncStates, shared.
func (r *SharedReads) SyncStates(ctx context.Context) (map[string]store.SyncState, error) {
	v, err := r.read(ctx, "sync", func(ctx context.Context) (any, error) { return r.st.SyncStates(ctx) })
	if err != nil {
		return nil, err
	}
	return maps.Clone(v.(map[string]store.SyncState)), nil
}

// CountPage is store.CountPage of q's group and filter (a count does not
// depend on the order or the window), shared.
func (r *SharedReads) CountPage(ctx context.Context, q store.PageQuery) (int, error) {
	q = store.PageQuery{Group: q.Group, Filter: q.Filter, Synonyms: q.Synonyms}
	key := "count\x00" + strconv.Itoa(int(q.Group.Kind)) + "\x00" + string(q.Group.Category) + "\x00" + q.Filter
	v, err := r.read(ctx, key, func(ctx context.Context) (any, error) { return r.st.CountPage(ctx, q) })
	if err != nil {
		return 0, err
	}
	return v.(int), nil
}

// Breakdown is store.Breakdown, shared; an insight (see insightsSettle).
func (r *SharedReads) Breakdown(ctx context.Context, cat health.Category, limit int) ([]store.Breakdown, error) {
	key := "breakdown\x00" + string(cat) + "\x00" + strconv.Itoa(limit)
	v, err := r.readSettled(ctx, key, insightsSettle, func(ctx context.Context) (any, error) { return r.st.Breakdown(ctx, cat, limit) })
	if err != nil {
		return nil, err
	}
	return slices.Clone(v.([]store.Breakdown)), nil
}

// NewFailuresPerDay is store.NewFailuresPerDay, shared, an insight: its days start at
// midnight UTC, so now counts by the day it falls on.
func (r *SharedReads) NewFailuresPerDay(ctx context.Context, g store.Group, now time.Time, days int) ([]int, error) {
	day := now.UTC().Truncate(24 * time.Hour)
	key := "perday\x00" + strconv.Itoa(int(g.Kind)) + "\x00" + string(g.Category) + "\x00" + strconv.FormatInt(day.Unix(), 10) +
		"\x00" + strconv.Itoa(days)
	v, err := r.readSettled(ctx, key, insightsSettle, func(ctx context.Context) (any, error) { return r.st.NewFailuresPerDay(ctx, g, now, days) })
	if err != nil {
		return nil, err
	}
	return slices.Clone(v.([]int)), nil
}

// Expiring is store.Expiring, shared, an insight: a result read up to
// maxAge before now serves, as every shared result does.
func (r *SharedReads) Expiring(ctx context.Context, now time.Time) (store.ExpiringSummary, error) {
	v, err := r.readSettled(ctx, "expiring", insightsSettle, func(ctx context.Context) (any, error) { return r.st.Expiring(ctx, now) })
	if err != nil {
		return store.ExpiringSummary{}, err
	}
	e := v.(store.ExpiringSummary)
	e.ByWarning = maps.Clone(e.ByWarning)
	return e, nil
}

// hubReads are the reads that go through SharedReads on a hub (all but
// Page shared); *store.Store makes them directly.
type hubReads interface {
	Page(ctx context.Context, q store.PageQuery) ([]store.Connection, error)
	Counts(ctx context.Context) (store.Counts, error)
	SyncStates(ctx context.Context) (map[string]store.SyncState, error)
	CountPage(ctx context.Context, q store.PageQuery) (int, error)
	Breakdown(ctx context.Context, cat health.Category, limit int) ([]store.Breakdown, error)
	NewFailuresPerDay(ctx context.Context, g store.Group, now time.Time, days int) ([]int, error)
	Expiring(ctx context.Context, now time.Time) (store.ExpiringSummary, error)
}

// hub is where the dashboard makes the reads every session makes alike:
// Options.Shared, or the store itself.
func (m *Model) hub() hubReads {
	if m.opts.Shared != nil {
		return m.opts.Shared
	}
	return m.opts.Store
}
