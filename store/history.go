package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Event is one entry of a connection's history.
type Event struct {
	ID             int64
	Kind           string // webhook | event | poll | api_error | link | reminder | click | note
	EventID        string // the provider's event id, if any
	Category       string // category or warning the signal mapped to
	ProviderCode   string
	ProviderReason string
	Summary        string
	Verified       string
	ObservedAt     time.Time
	ReceivedAt     time.Time
}

// History returns a connection's newest events, newest first.
func (s *Store) History(ctx context.Context, connID int64, limit int) ([]Event, error) {
	if limit <= 0 {
		limit = 100
	}
	rows, err := s.db.QueryContext(ctx, `SELECT id, kind, COALESCE(event_id, ''), category, provider_code, provider_reason,
		summary, verified, observed_at, received_at FROM events WHERE connection_id = ?
		ORDER BY observed_at DESC, id DESC LIMIT ?`, connID, limit)
	if err != nil {
		return nil, fmt.Errorf("store: reading history of #%d: %w", connID, err)
	}
	defer rows.Close()
	var out []Event
	for rows.Next() {
		var e Event
		var obs, rec int64
		if err := rows.Scan(&e.ID, &e.Kind, &e.EventID, &e.Category, &e.ProviderCode, &e.ProviderReason, &e.Summary,
			&e.Verified, &obs, &rec); err != nil {
			return nil, fmt.Errorf("store: reading history of #%d: %w", connID, err)
		}
		e.ObservedAt, e.ReceivedAt = time.UnixMilli(obs).UTC(), time.UnixMilli(rec).UTC()
		out = append(out, e)
	}
	return out, rows.Err()
}

// Note adds an entry of our own (a link minted, a reminder, a click) to a
// connection's history.
func (s *Store) Note(ctx context.Context, connID int64, kind, summary string) error {
	now := msv(s.now())
	_, err := s.exec(ctx, `INSERT INTO events (connection_id, provider, provider_id, kind, summary, observed_at, received_at)
		SELECT id, provider, provider_id, ?, ?, ?, ? FROM connections WHERE id = ?`, kind, summary, now, now, connID)
	if err != nil {
		return fmt.Errorf("store: noting %s on #%d: %w", kind, connID, err)
	}
	return nil
}

// The uses of a link an operator notes (backend.NoteLinkUse).
const (
	LinkCopied = "copied"
	LinkOpened = "opened"
)

// LinkUseSummary is the history line of a link of kind an operator used
// (action: LinkCopied or LinkOpened): "durable link copied by dana". The
// funnel finds link uses by this line (linkUseCond), so this is the one
// place it is worded.
func LinkUseSummary(kind LinkKind, action, who string) string {
	return fmt.Sprintf("%s link %s by %s", kind, action, who)
}

// AuditEntry is one line of the audit log.
type AuditEntry struct {
	At       time.Time
	Operator string
	Action   string // import | sync | link | remind | …
	Target   string // a CONN id, a file, a provider
	Detail   string
	// SSHKey is the fingerprint (SHA256:…) of the key the operator logged
	// in with, for an act done over SSH (WithSSHKey); "" otherwise. Audit
	// takes it from the context, not from here.
	SSHKey string
}

type sshKeyCtx struct{}

// WithSSHKey returns ctx for the acts of a person logged in over SSH with
// the key of fingerprint fp: every audit line written under it, by any
// operation (a mint, a copy, a reminder, a revocation), records fp.
func WithSSHKey(ctx context.Context, fp string) context.Context {
	return context.WithValue(ctx, sshKeyCtx{}, fp)
}

func sshKeyOf(ctx context.Context) string {
	fp, _ := ctx.Value(sshKeyCtx{}).(string)
	return fp
}

// Audit appends an entry to the audit log.
func (s *Store) Audit(ctx context.Context, e AuditEntry) error {
	if e.At.IsZero() {
		e.At = s.now()
	}
	return insertAudit(ctx, s.db, e.At, e.Operator, e.Action, e.Target, e.Detail)
}

type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// insertAudit writes one audit line, with the SSH key of ctx (WithSSHKey).
func insertAudit(ctx context.Context, db execer, at time.Time, operator, action, target, detail string) error {
	_, err := db.ExecContext(ctx, `INSERT INTO audit (at, operator, action, target, detail, ssh_key) VALUES (?, ?, ?, ?, ?, ?)`,
		msv(at), operator, action, target, detail, sshKeyOf(ctx))
	if err != nil {
		return fmt.Errorf("store: writing the audit log: %w", err)
	}
	return nil
}

// AuditSince streams audit entries at or after since, oldest first.
func (s *Store) AuditSince(ctx context.Context, since time.Time, fn func(AuditEntry) error) error {
	rows, err := s.db.QueryContext(ctx, `SELECT at, operator, action, target, detail, ssh_key FROM audit WHERE at >= ? ORDER BY at, id`, msv(since))
	if err != nil {
		return fmt.Errorf("store: reading the audit log: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var e AuditEntry
		var at int64
		if err := rows.Scan(&at, &e.Operator, &e.Action, &e.Target, &e.Detail, &e.SSHKey); err != nil {
			return fmt.Errorf("store: reading the audit log: %w", err)
		}
		e.At = time.UnixMilli(at).UTC()
		if err := fn(e); err != nil {
			return err
		}
	}
	return rows.Err()
}

// SyncState is one provider's sync bookkeeping.
type SyncState struct {
	Provider      string
	LastAttemptAt *time.Time
	LastSuccessAt *time.Time
	LastError     string
	Cursor        string
	Seen          int // connections seen by the last successful sync
	Changed       int // of which changed health
}

// SyncStates returns every provider's sync state, by provider name.
func (s *Store) SyncStates(ctx context.Context) (map[string]SyncState, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT provider, last_attempt_at, last_success_at, last_error, cursor, seen, changed FROM sync_state`)
	if err != nil {
		return nil, fmt.Errorf("store: reading sync state: %w", err)
	}
	defer rows.Close()
	out := map[string]SyncState{}
	for rows.Next() {
		var st SyncState
		var attempt, success sql.NullInt64
		if err := rows.Scan(&st.Provider, &attempt, &success, &st.LastError, &st.Cursor, &st.Seen, &st.Changed); err != nil {
			return nil, fmt.Errorf("store: reading sync state: %w", err)
		}
		st.LastAttemptAt, st.LastSuccessAt = fromMS(attempt), fromMS(success)
		out[st.Provider] = st
	}
	return out, rows.Err()
}

// RecordSync saves the outcome of one provider's sync. A failed sync (err
// not nil) keeps the last success and cursor and records the error.
func (s *Store) RecordSync(ctx context.Context, provider string, at time.Time, cursor string, seen, changed int, syncErr error) error {
	var err error
	if syncErr != nil {
		_, err = s.exec(ctx, `INSERT INTO sync_state (provider, last_attempt_at, last_error) VALUES (?, ?, ?)
			ON CONFLICT (provider) DO UPDATE SET last_attempt_at = excluded.last_attempt_at, last_error = excluded.last_error`,
			provider, msv(at), syncErr.Error())
	} else {
		_, err = s.exec(ctx, `INSERT INTO sync_state (provider, last_attempt_at, last_success_at, last_error, cursor, seen, changed)
			VALUES (?, ?, ?, '', ?, ?, ?)
			ON CONFLICT (provider) DO UPDATE SET last_attempt_at = excluded.last_attempt_at, last_success_at = excluded.last_success_at,
			last_error = '', cursor = excluded.cursor, seen = excluded.seen, changed = excluded.changed`,
			provider, msv(at), msv(at), cursor, seen, changed)
	}
	if err != nil {
		return fmt.Errorf("store: recording the %s sync: %w", provider, err)
	}
	return nil
}
