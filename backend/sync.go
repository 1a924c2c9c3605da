package backend

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/relink/relink/internal/textfmt"
	"github.com/relink/relink/provider"
	"github.com/relink/relink/store"
)

// applyBatch is how many observations are stored per transaction.
const applyBatch = 500

// SyncProgress is a running count of one provider's sync.
type SyncProgress struct {
	Provider string
	Seen     int // connections checked so far
	Events   int // events read so far (Cobalt's history); not connections
	Total    int // registered connections, when known in advance (0 otherwise)
	Changed  int
	Started  time.Time
	// By is who started the sync ("the hub" for relink serve's own):
	// another session's sync that this one joined names its starter.
	By string
}

// SyncReport is the outcome of one provider's sync.
type SyncReport struct {
	Provider string
	// Seen counts the connections checked: each connection the provider
	// said anything about, once, however many events it read of it.
	Seen int
	// Events counts the provider's events read (Cobalt's event history),
	// which say something of a connection that Seen counts too.
	Events     int
	Changed    int
	Unattached int // events for connections not in the registry yet
	// Skipped counts the events the provider sent that relink could not
	// read (a Cobalt event with a malformed time or body): each was left
	// out, and everything else was synced. SkipReasons says why for the
	// first MaxSkipReasons of them, each "provider:provider_id: why".
	Skipped     int
	SkipReasons []string
	Duration    time.Duration
	Err         error
}

// Counts says what the sync read: "486 checked", or with events "486
// checked, 1 event".
func (r SyncReport) Counts() string {
	s := fmt.Sprintf("%d checked", r.Seen)
	if r.Events > 0 {
		s += ", " + textfmt.Plural(r.Events, "event", "events")
	}
	return s
}

// MaxSkipReasons caps SyncReport.SkipReasons.
const MaxSkipReasons = 5

// Sync refreshes the cache from the configured providers (or only those
// named), all at once, and records each one's sync state. A provider that
// fails leaves what it had not reached as it was and says so in its report;
// the returned error joins the failures.
//
// With a gate (Backend.Syncs) one sync runs at a time among the Backends
// sharing it: a Sync asked for while one covering the same providers runs
// waits for that one, its progress passed to progress as it comes (each
// count's By names who started it), and returns its result (SyncGate).
func (d *Backend) Sync(ctx context.Context, only []string, progress func(SyncProgress)) ([]SyncReport, error) {
	names, err := d.selected(only)
	if err != nil {
		return nil, err
	}
	if d.Syncs == nil {
		return d.syncAll(ctx, names, func(p SyncProgress) {
			if progress != nil {
				p.By = d.Operator
				progress(p)
			}
		})
	}
	run, own, err := d.Syncs.enter(ctx, names, d.Operator, d.now(), progress)
	if err != nil {
		return nil, err
	}
	defer d.Syncs.hold(run, ctx)()
	if own {
		d.changed() // every session hears a sync began, and may follow it (FollowSync)
		// Under the run's context, not ctx: the starter gone (its session
		// closed), the sync goes on for those who wait on it, and ends
		// once all of them have gone too (SyncGate.hold).
		go func() {
			reports, err := d.syncAll(run.ctx, names, func(p SyncProgress) { d.Syncs.report(run, p) })
			d.Syncs.finish(run, reports, err, d.now())
		}()
	}
	select {
	case <-run.done:
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for the sync %s started: %w", run.by, ctx.Err())
	}
	if own {
		return run.reports, run.err
	}
	return onlyOf(run.reports, names)
}

// onlyOf is the reports of the providers names, of a sync of these or
// more, and their failures joined.
func onlyOf(reports []SyncReport, names []string) ([]SyncReport, error) {
	var out []SyncReport
	for _, r := range reports {
		if slices.Contains(names, r.Provider) {
			out = append(out, r)
		}
	}
	var errs []error
	for _, r := range out {
		if r.Err != nil {
			errs = append(errs, r.Err)
		}
	}
	return out, errors.Join(errs...)
}

// syncAll syncs the providers names at once; progress is called with one
// count at a time.
func (d *Backend) syncAll(ctx context.Context, names []string, progress func(SyncProgress)) ([]SyncReport, error) {
	reports := make([]SyncReport, len(names))
	var wg sync.WaitGroup
	var mu sync.Mutex
	report := func(p SyncProgress) {
		mu.Lock()
		progress(p)
		mu.Unlock()
	}
	for i, name := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			reports[i] = d.syncOne(ctx, name, report)
		}()
	}
	wg.Wait()
	d.changed()
	var errs []error
	for _, r := range reports {
		if r.Err != nil {
			errs = append(errs, r.Err)
		}
	}
	return reports, errors.Join(errs...)
}

func (d *Backend) selected(only []string) ([]string, error) {
	if len(only) == 0 {
		var names []string
		for n := range d.Providers {
			names = append(names, n)
		}
		sort.Strings(names)
		if len(names) == 0 {
			return nil, errors.New("no provider is configured: add keys to [plaid], [belvo] or [cobalt] in the config, or try relink --demo")
		}
		return names, nil
	}
	for _, n := range only {
		if _, ok := d.Providers[n]; !ok {
			return nil, fmt.Errorf("%s is not configured: add its keys to the [%s] section of the config", n, n)
		}
	}
	return only, nil
}

func (d *Backend) syncOne(ctx context.Context, name string, progress func(SyncProgress)) SyncReport {
	p := d.Providers[name]
	start := d.now()
	rep := SyncReport{Provider: name}
	states, err := d.Store.SyncStates(ctx)
	if err != nil {
		rep.Err = err
		return rep
	}
	total := 0
	if name != provider.Belvo {
		total, _ = d.Store.ProviderCount(ctx, name)
	}
	prog := SyncProgress{Provider: name, Total: total, Started: start}

	var credErr error
	conns := func(yield func(provider.Conn) bool) {
		credErr = d.Store.Creds(ctx, name, false, func(c store.Cred) bool {
			return yield(provider.Conn{ProviderID: c.ProviderID, AccessToken: c.AccessToken, UserRef: c.UserRef})
		})
	}
	var batch []store.Observation
	var rechecks []string
	checked := map[string]struct{}{} // the connections seen, by provider id
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		outs, err := d.Store.Apply(ctx, batch)
		if err != nil {
			return err
		}
		for _, o := range outs {
			if o.Change.StateChanged {
				rep.Changed++
			}
			if o.Unattached {
				rep.Unattached++
			}
		}
		batch = batch[:0]
		prog.Seen, prog.Events, prog.Changed = rep.Seen, rep.Events, rep.Changed
		progress(prog)
		return nil
	}
	emit := func(o provider.Observation) error {
		if o.Skipped != nil {
			rep.Skipped++
			if len(rep.SkipReasons) < MaxSkipReasons {
				rep.SkipReasons = append(rep.SkipReasons, name+":"+o.ProviderID+": "+o.Skipped.Error())
			}
			return nil
		}
		if _, ok := checked[o.ProviderID]; !ok {
			checked[o.ProviderID] = struct{}{}
			rep.Seen++
		}
		if o.EventID != "" {
			rep.Events++
		}
		batch = append(batch, d.observation(name, o))
		if o.Recheck {
			rechecks = append(rechecks, o.ProviderID)
		}
		if len(batch) >= applyBatch {
			return flush()
		}
		return nil
	}
	cursor, err := p.Sync(ctx, conns, states[name].Cursor, emit)
	if ferr := flush(); err == nil {
		err = ferr
	}
	if err == nil {
		err = credErr
	}
	if err == nil {
		err = d.recheck(ctx, name, rechecks)
	}
	// Cobalt's Sync itself says "no problem reported" of every connection
	// whose history read cleanly: nothing is left to check afterwards (its
	// GET /v1/settings, which the old check called, says nothing about the
	// EHR login).
	rep.Duration = d.now().Sub(start)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			err = fmt.Errorf("%s sync stopped before it finished; the cache keeps what was read", name)
		}
		rep.Err = err
		_ = d.Store.RecordSync(context.WithoutCancel(ctx), name, d.now(), "", rep.Seen, rep.Changed, err)
		return rep
	}
	if err := d.Store.RecordSync(ctx, name, d.now(), cursor, rep.Seen, rep.Changed, nil); err != nil {
		rep.Err = err
	}
	detail := rep.Counts() + fmt.Sprintf(", %d changed", rep.Changed)
	if rep.Skipped > 0 {
		detail += fmt.Sprintf(", %d unreadable event(s) skipped", rep.Skipped)
	}
	_ = d.Store.Audit(ctx, store.AuditEntry{Operator: d.Operator, Action: "sync", Target: name, Detail: detail})
	return rep
}

// recheck reads again the connections a signal said may have changed
// (a finished update-mode session, a Belvo historical update).
func (d *Backend) recheck(ctx context.Context, name string, ids []string) error {
	for _, id := range ids {
		if err := d.Check(ctx, name+":"+id); err != nil && !errors.Is(err, provider.ErrNotSupported) {
			return err
		}
	}
	return nil
}

// Check reads one connection's health from its provider now and stores it.
func (d *Backend) Check(ctx context.Context, ref string) error {
	name, id, err := ParseRef(ref)
	if err != nil {
		return err
	}
	p, ok := d.Providers[name]
	if !ok {
		return fmt.Errorf("%s is not configured", name)
	}
	tok, err := d.Store.AccessToken(ctx, name, id)
	if err != nil {
		return err
	}
	conn, _ := d.Store.Connection(ctx, name, id)
	o, err := p.Check(ctx, provider.Conn{ProviderID: id, AccessToken: tok, UserRef: conn.UserRef})
	if err != nil {
		return err
	}
	if _, err = d.Store.Apply(ctx, []store.Observation{d.observation(name, o)}); err != nil {
		return err
	}
	d.changed()
	return nil
}

// observation turns a provider observation into a store one.
func (d *Backend) observation(name string, o provider.Observation) store.Observation {
	return store.Observation{Provider: name, ProviderID: o.ProviderID, Institution: o.Institution, EventID: o.EventID,
		Kind: o.Kind, Signal: o.Signal, Raw: o.Raw, ReceivedAt: d.now(),
		// Belvo lists its links itself; Plaid and Cobalt connections come from the registry.
		Register: name == provider.Belvo}
}
