package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/relink/relink/health"
	"github.com/relink/relink/internal/institution"
)

// Observation is one provider signal about one connection, ready to store.
type Observation struct {
	Provider    string
	ProviderID  string
	Institution string // updates the connection's institution when not empty
	EventID     string // provider's event id: stored once; "" for polls
	Kind        string // webhook | event | poll | api_error | link_result
	Signal      health.Signal
	Raw         []byte // the payload as received; fields named like tokens are dropped before it is stored
	Verified    string // how a webhook was verified, e.g. "es256 kid=…"
	ReceivedAt  time.Time
	// Register creates the connection when the registry does not have it
	// (Belvo lists its links itself); otherwise such an event is kept
	// unattached until the connection is imported.
	Register bool
	UserRef  string // for Register
}

// Outcome is what storing one observation did.
type Outcome struct {
	ConnectionID int64
	Duplicate    bool // the provider event id was stored before
	Unattached   bool // no such connection yet; the event waits for it
	Change       health.Change
	Health       health.Health // the connection's health afterwards
}

// Apply stores observations in one transaction: each provider event once,
// each connection's health updated by the precedence rules, a history entry
// for every event and every poll that changed something, and queued
// reminders cancelled when a connection is healthy again.
func (s *Store) Apply(ctx context.Context, obs []Observation) ([]Outcome, error) {
	out, flushed, err := s.ApplyUnflushed(ctx, obs)
	if err != nil {
		return nil, err
	}
	if err := flushed(); err != nil {
		return nil, err
	}
	return out, nil
}

// ApplyUnflushed is Apply returning once the transaction committed, before
// it is on disk: readers see it, and flushed returns once it is on disk
// (or the error that it may not be). The webhook writer stores its next
// batch while the disk flushes the last one, and answers each batch's
// webhooks after its flushed.
func (s *Store) ApplyUnflushed(ctx context.Context, obs []Observation) (out []Outcome, flushed func() error, err error) {
	out = make([]Outcome, len(obs))
	n, err := s.inTxUnflushed(ctx, "storing provider signals", func(tx *sql.Tx) error {
		a := &applier{s: s, tx: tx}
		defer a.close()
		// Statements run without the caller's cancellation (each would cost
		// a goroutine in database/sql); it is checked between observations.
		bg := context.WithoutCancel(ctx)
		for i, o := range obs {
			if err := ctx.Err(); err != nil {
				return err
			}
			r, err := a.apply(bg, o)
			if err != nil {
				return fmt.Errorf("store: storing %s signal for %s:%s: %w", o.Kind, o.Provider, o.ProviderID, err)
			}
			out[i] = r
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return out, func() error { return s.dur.wait(n) }, nil
}

// applier holds one transaction's prepared statements: compiling them
// (with the count triggers) once per batch instead of once per row is most
// of the cost of a sync. They come from the store's stmtCache, so each of
// the pool's connections compiles a statement once, not once a batch.
type applier struct {
	s     *Store
	tx    *sql.Tx
	stmts map[string]*sql.Stmt
}

func (a *applier) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := a.stmts[query]; ok {
		return st, nil
	}
	var st *sql.Stmt
	if shared, err := a.s.stmts.get(ctx, a.s.db, query); err != nil {
		return nil, err
	} else if shared != nil {
		st = a.tx.StmtContext(ctx, shared)
	} else if st, err = a.tx.PrepareContext(ctx, query); err != nil {
		return nil, err
	}
	if a.stmts == nil {
		a.stmts = map[string]*sql.Stmt{}
	}
	a.stmts[query] = st
	return st, nil
}

func (a *applier) close() {
	for _, st := range a.stmts {
		st.Close()
	}
}

func (a *applier) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := a.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

func (a *applier) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := a.stmt(ctx, query)
	if err != nil {
		return a.tx.QueryRowContext(ctx, query, args...) // reports the same error on Scan
	}
	return st.QueryRowContext(ctx, args...)
}

func (a *applier) apply(ctx context.Context, o Observation) (Outcome, error) {
	s, tx := a.s, a

	var res Outcome
	if o.ReceivedAt.IsZero() {
		o.ReceivedAt = s.now()
	}
	id, cur, inst, found, err := loadHealth(ctx, tx, o.Provider, o.ProviderID)
	if err != nil {
		return res, err
	}
	if !found && o.Register {
		now := msv(s.now())
		err := tx.queryRow(ctx, `INSERT INTO connections (provider, provider_id, user_ref, institution, institution_key, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`, o.Provider, o.ProviderID, o.UserRef, o.Institution,
			institution.SortKey(o.Provider, o.Institution), now, now).Scan(&id)
		if err != nil {
			return res, err
		}
		cur, found = health.Health{Category: health.Unknown}, true
	}
	next, ch := health.Apply(cur, o.Signal)
	res.ConnectionID, res.Change, res.Health = id, ch, next

	// Provider events are stored first: the insert is the deduplication.
	if o.EventID != "" {
		inserted, err := insertEvent(ctx, tx, nullID(id, found), o, ch)
		if err != nil {
			return res, err
		}
		if !inserted {
			res.Duplicate, res.Change, res.Health = true, health.Change{}, cur
			return res, nil
		}
	}
	if !found {
		res.Unattached = true
		return res, nil
	}
	if ch.Changed || (o.Institution != "" && o.Institution != inst) {
		if err := updateHealth(ctx, tx, id, cur, next, o.Provider, inst, o.Institution, s.now()); err != nil {
			return res, err
		}
	}
	// A first check that finds a connection working is not worth a line.
	firstOK := cur.Category == health.Unknown && next.Category == health.Healthy && next.Warning == health.NoWarning
	if o.EventID == "" && ch.StateChanged && !firstOK {
		if _, err := insertEvent(ctx, tx, nullID(id, true), o, ch); err != nil {
			return res, err
		}
	}
	if ch.Cleared {
		if _, err := tx.exec(ctx, `UPDATE reminders SET status = 'cancelled', last_error = 'connection healthy again'
			WHERE connection_id = ? AND status = 'queued'`, id); err != nil {
			return res, fmt.Errorf("cancelling reminders: %w", err)
		}
	}
	return res, nil
}

func nullID(id int64, ok bool) sql.NullInt64 { return sql.NullInt64{Int64: id, Valid: ok} }

// txn is what loadHealth, updateHealth and insertEvent need of a
// transaction: an applier (prepared statements) or a plain one.
type txn interface {
	exec(ctx context.Context, query string, args ...any) (sql.Result, error)
	queryRow(ctx context.Context, query string, args ...any) *sql.Row
}

// plainTx runs statements on a transaction without preparing them.
type plainTx struct{ tx *sql.Tx }

func (p plainTx) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return p.tx.ExecContext(ctx, q, args...)
}
func (p plainTx) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	return p.tx.QueryRowContext(ctx, q, args...)
}

func loadHealth(ctx context.Context, tx txn, provider, pid string) (int64, health.Health, string, bool, error) {
	var h health.Health
	var id int64
	var inst string
	var cat, warn, src string
	var deadline, observed, firstFailed, transientAt sql.NullInt64
	err := tx.queryRow(ctx, `SELECT id, category, warning, deadline, provider_code, provider_reason, user_message,
		source, observed_at, first_failed_at, last_transient, last_transient_code, last_transient_at, institution
		FROM connections WHERE provider = ? AND provider_id = ?`, provider, pid).Scan(&id, &cat, &warn, &deadline,
		&h.ProviderCode, &h.ProviderReason, &h.UserMessage, &src, &observed, &firstFailed, &h.LastTransient,
		&h.LastTransientCode, &transientAt, &inst)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, health.Health{Category: health.Unknown}, "", false, nil
	}
	if err != nil {
		return 0, h, "", false, err
	}
	h.Category, h.Warning, h.Source = health.Category(cat), health.Warning(warn), health.Source(src)
	h.Deadline, h.FirstFailedAt, h.LastTransientAt = fromMS(deadline), fromMS(firstFailed), fromMS(transientAt)
	if t := fromMS(observed); t != nil {
		h.ObservedAt = *t
	}
	return id, h, inst, true, nil
}

// updateHealth writes the columns of next that differ from cur (and the
// institution, with provider's sort key of it, when newInst is given and
// differs from inst). Only what changed is set: SQLite rewrites an index
// entry of the row whenever the UPDATE sets a column the index holds,
// whatever the value, and a failing row sits in its category's three page
// indexes; a repeated failure that only moves observed_at leaves them alone.
func updateHealth(ctx context.Context, tx txn, id int64, cur, next health.Health, provider, inst, newInst string, now time.Time) error {
	was, will := healthColumns(cur), healthColumns(next)
	var set strings.Builder
	var args []any
	for i, c := range will {
		if c.value == was[i].value {
			continue
		}
		set.WriteString(c.name + " = ?, ")
		args = append(args, c.value)
	}
	if newInst != "" && newInst != inst {
		set.WriteString("institution = ?, institution_key = ?, ")
		args = append(args, newInst, institution.SortKey(provider, newInst))
	}
	if set.Len() == 0 {
		return nil
	}
	args = append(args, msv(now), id)
	if _, err := tx.exec(ctx, "UPDATE connections SET "+set.String()+"updated_at = ? WHERE id = ?", args...); err != nil {
		return fmt.Errorf("updating health: %w", err)
	}
	return nil
}

// column is one stored column of a connection's health and its value as
// stored: a string, an int64 or nil (NULL), comparable with ==.
type column struct {
	name  string
	value any
}

func healthColumns(h health.Health) [14]column {
	failing := int64(0)
	if h.Category.Failing() {
		failing = 1
	}
	var observed any
	if !h.ObservedAt.IsZero() {
		observed = h.ObservedAt.UnixMilli()
	}
	return [14]column{{"category", string(h.Category)}, {"rank", int64(h.Category.Rank())}, {"failing", failing},
		{"warning", string(h.Warning)}, {"deadline", ms(h.Deadline)}, {"provider_code", h.ProviderCode},
		{"provider_reason", h.ProviderReason}, {"user_message", h.UserMessage}, {"source", string(h.Source)},
		{"observed_at", observed}, {"first_failed_at", ms(h.FirstFailedAt)}, {"last_transient", string(h.LastTransient)},
		{"last_transient_code", h.LastTransientCode}, {"last_transient_at", ms(h.LastTransientAt)}}
}

// insertEvent records o in the history; false means its provider event id
// was already stored.
func insertEvent(ctx context.Context, tx txn, conn sql.NullInt64, o Observation, ch health.Change) (bool, error) {
	sig, err := json.Marshal(o.Signal)
	if err != nil {
		return false, fmt.Errorf("encoding signal: %w", err)
	}
	var eventID any
	if o.EventID != "" {
		eventID = o.EventID
	}
	cat := string(o.Signal.Category)
	if o.Signal.Effect == health.SetWarning {
		cat = string(o.Signal.Warning)
	}
	res, err := tx.exec(ctx, `INSERT INTO events (connection_id, provider, provider_id, event_id, kind, category,
		provider_code, provider_reason, summary, verified, signal, raw, observed_at, received_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (provider, event_id) WHERE event_id IS NOT NULL DO NOTHING`,
		conn, o.Provider, o.ProviderID, eventID, o.Kind, cat, o.Signal.ProviderCode, o.Signal.ProviderReason,
		summarize(o.Signal, ch), o.Verified, string(sig), scrubRaw(o.Raw), msv(nonZero(o.Signal.ObservedAt, o.ReceivedAt)), msv(o.ReceivedAt))
	if err != nil {
		return false, fmt.Errorf("recording event: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

func nonZero(t, fallback time.Time) time.Time {
	if t.IsZero() {
		return fallback
	}
	return t
}

func summarize(sig health.Signal, ch health.Change) string {
	var what string
	switch sig.Effect {
	case health.SetWarning:
		what = "warning " + string(sig.Warning)
		if sig.Warning == health.NoWarning {
			what = "warning cleared"
		}
	case health.NoChange:
		what = "no health change"
	default:
		what = "→ " + string(sig.Category)
	}
	switch {
	case ch.Cleared:
		what += " (repaired; reminders stopped)"
	case ch.TransientKept:
		what += " (kept aside: " + ch.Ignored + ")"
	case ch.Ignored != "" && sig.Effect != health.NoChange:
		what += " (ignored: " + ch.Ignored + ")"
	}
	return what
}

// attachPending gives events that arrived before their connection was
// registered to the connection, replaying their signals in observed order.
func (s *Store) attachPending(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, `SELECT e.id, c.id, e.provider, e.provider_id, e.signal FROM events e
		JOIN connections c ON c.provider = e.provider AND c.provider_id = e.provider_id
		WHERE e.connection_id IS NULL ORDER BY e.observed_at, e.id`)
	if err != nil {
		return fmt.Errorf("store: finding early events: %w", err)
	}
	type pending struct {
		eventID, connID int64
		provider, pid   string
		sig             health.Signal
	}
	var ps []pending
	for rows.Next() {
		var p pending
		var sig sql.NullString
		if err := rows.Scan(&p.eventID, &p.connID, &p.provider, &p.pid, &sig); err != nil {
			rows.Close()
			return fmt.Errorf("store: reading early events: %w", err)
		}
		if sig.Valid {
			if err := json.Unmarshal([]byte(sig.String), &p.sig); err != nil {
				rows.Close()
				return fmt.Errorf("store: decoding early event %d: %w", p.eventID, err)
			}
		}
		ps = append(ps, p)
	}
	rows.Close()
	for _, p := range ps {
		if _, err := tx.ExecContext(ctx, `UPDATE events SET connection_id = ? WHERE id = ?`, p.connID, p.eventID); err != nil {
			return fmt.Errorf("store: attaching event %d: %w", p.eventID, err)
		}
		_, cur, inst, _, err := loadHealth(ctx, plainTx{tx}, p.provider, p.pid)
		if err != nil {
			return err
		}
		if next, ch := health.Apply(cur, p.sig); ch.Changed {
			if err := updateHealth(ctx, plainTx{tx}, p.connID, cur, next, "", inst, "", s.now()); err != nil {
				return err
			}
		}
	}
	return nil
}
