package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// The reminder outbox. A message is queued with its idempotency key in the
// transaction that checks it is still wanted, claimed (status 'sending',
// by a named run) right before it is handed to a channel, and marked sent,
// failed, cancelled or queued again (a retry) right after, each in one
// transaction. A crash therefore leaves at most the claimed messages in
// doubt; RecoverReminders queues them again once their run is known to be
// gone or their lease has run out.

// Reminder statuses, of a message and of each connection row it covers.
const (
	ReminderQueued    = "queued"
	ReminderSending   = "sending"
	ReminderSent      = "sent"
	ReminderFailed    = "failed"
	ReminderCancelled = "cancelled"
)

// ReminderDraft is a rendered reminder message to queue.
type ReminderDraft struct {
	Key       string // the message's idempotency key
	Channel   string
	Recipient string // address, phone number or user key
	Operator  string
	Payload   []byte // the rendered message; opaque here
	Conns     []ReminderConn
}

// ReminderConn is one connection a message covers.
type ReminderConn struct {
	ID       int64
	Category string // what the reminder is about: the category, or the warning
}

// Why QueueReminders left a draft out.
const (
	BlockedPending   = "pending"   // the connection has a reminder queued or being sent
	BlockedCooldown  = "cooldown"  // it was reminded within the cooldown
	BlockedHealthy   = "healthy"   // it is neither failing nor warned any more
	BlockedDuplicate = "duplicate" // a message with the same key is queued, being sent or sent
	BlockedGone      = "gone"      // the connection is no longer in the registry
)

// QueueOutcome is what QueueReminders did with one draft.
type QueueOutcome struct {
	ID      int64  // the message's id, when queued
	Blocked string // why not, when not queued
	ConnID  int64  // the connection that blocked it
	// By is the reminder that blocked it, when one did (pending, cooldown,
	// duplicate): who queued it, its status and when it was sent (or
	// queued, while it is not sent yet). By is "" when the record does not
	// say (a cooldown from an imported last_reminded_at).
	By     string
	Status string
	At     time.Time
}

// QueueReminders queues drafts in one transaction. Each draft is checked
// again inside it (every connection still failing or warned, none with a
// reminder pending or sent within cooldown of now) so two runs racing over
// the same users queue each message once; a draft whose key already names
// a live or sent message is a duplicate. A key whose earlier message
// failed or was cancelled is queued afresh.
func (s *Store) QueueReminders(ctx context.Context, drafts []ReminderDraft, cooldown time.Duration, now time.Time) ([]QueueOutcome, error) {
	out := make([]QueueOutcome, len(drafts))
	err := s.inTx(ctx, "queueing reminders", func(tx *sql.Tx) error {
		q := &prepared{tx: tx}
		defer q.close()
		for i, d := range drafts {
			o, err := queueOne(ctx, q, d, msv(now.Add(-cooldown)), msv(now))
			if err != nil {
				return fmt.Errorf("store: queueing a reminder to %s: %w", d.Recipient, err)
			}
			out[i] = o
		}
		return nil
	})
	return out, err
}

func queueOne(ctx context.Context, q *prepared, d ReminderDraft, cutoff, now int64) (QueueOutcome, error) {
	for _, c := range d.Conns {
		var failing int
		var warning string
		var reminded sql.NullInt64
		err := q.row(ctx, `SELECT failing, warning, last_reminded_at FROM connections WHERE id = ?`, c.ID).Scan(&failing, &warning, &reminded)
		if errors.Is(err, sql.ErrNoRows) {
			return QueueOutcome{Blocked: BlockedGone, ConnID: c.ID}, nil
		}
		if err != nil {
			return QueueOutcome{}, err
		}
		if failing == 0 && warning == "" {
			return QueueOutcome{Blocked: BlockedHealthy, ConnID: c.ID}, nil
		}
		// The reminder in the way, if any: a pending one first, else the
		// newest sent within the cooldown.
		var status, by string
		var at int64
		err = q.row(ctx, `SELECT status, operator, COALESCE(sent_at, created_at) FROM reminders WHERE connection_id = ?
			AND (status IN ('queued', 'sending') OR (status = 'sent' AND sent_at > ?))
			ORDER BY status IN ('queued', 'sending') DESC, COALESCE(sent_at, created_at) DESC LIMIT 1`, c.ID, cutoff).Scan(&status, &by, &at)
		switch {
		case err == nil && status == ReminderSent:
			return QueueOutcome{Blocked: BlockedCooldown, ConnID: c.ID, By: by, Status: status, At: time.UnixMilli(at).UTC()}, nil
		case err == nil:
			return QueueOutcome{Blocked: BlockedPending, ConnID: c.ID, By: by, Status: status, At: time.UnixMilli(at).UTC()}, nil
		case !errors.Is(err, sql.ErrNoRows):
			return QueueOutcome{}, err
		}
		if reminded.Valid && reminded.Int64 > cutoff {
			return QueueOutcome{Blocked: BlockedCooldown, ConnID: c.ID, Status: ReminderSent, At: time.UnixMilli(reminded.Int64).UTC()}, nil
		}
	}
	var id int64
	err := q.row(ctx, `INSERT INTO reminder_messages (idempotency_key, channel, recipient, status, payload, operator,
		created_at, next_attempt_at) VALUES (?, ?, ?, 'queued', ?, ?, ?, ?)
		ON CONFLICT (idempotency_key) DO UPDATE SET status = 'queued', recipient = excluded.recipient,
			payload = excluded.payload, operator = excluded.operator, attempts = 0, last_error = '',
			created_at = excluded.created_at, next_attempt_at = excluded.next_attempt_at,
			claimed_at = NULL, claimed_by = '', sent_at = NULL
		WHERE reminder_messages.status IN ('failed', 'cancelled')
		RETURNING id`, d.Key, d.Channel, d.Recipient, d.Payload, d.Operator, now, now).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		o := QueueOutcome{Blocked: BlockedDuplicate}
		var at int64
		err := q.row(ctx, `SELECT operator, status, COALESCE(sent_at, created_at) FROM reminder_messages WHERE idempotency_key = ?`,
			d.Key).Scan(&o.By, &o.Status, &at)
		if err != nil {
			return QueueOutcome{}, err
		}
		o.At = time.UnixMilli(at).UTC()
		return o, nil
	}
	if err != nil {
		return QueueOutcome{}, err
	}
	for _, c := range d.Conns {
		_, err := q.exec(ctx, `INSERT INTO reminders (connection_id, channel, status, category, idempotency_key, operator,
			created_at, next_attempt_at, message_id, recipient) VALUES (?, ?, 'queued', ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (idempotency_key) DO UPDATE SET status = 'queued', category = excluded.category,
				operator = excluded.operator, attempts = 0, last_error = '', created_at = excluded.created_at,
				next_attempt_at = excluded.next_attempt_at, message_id = excluded.message_id,
				recipient = excluded.recipient, sent_at = NULL`,
			c.ID, d.Channel, c.Category, fmt.Sprintf("%s/%d", d.Key, c.ID), d.Operator, now, now, id, d.Recipient)
		if err != nil {
			return QueueOutcome{}, err
		}
	}
	return QueueOutcome{ID: id}, nil
}

// ClaimedReminder is a message a run is about to send.
type ClaimedReminder struct {
	ID       int64
	Key      string
	Channel  string
	Payload  []byte
	Attempts int // including this one
}

// ClaimScope limits the queued messages a send claims to its own
// (queued by Operator) and those queued at or before Before, which an
// earlier run left: a message another person queued meanwhile is theirs
// to send and to report. Nor does it claim, however old, the messages of
// Busy: people whose sends are under way and will send them. The zero
// value claims every one.
type ClaimScope struct {
	Operator string
	Before   time.Time
	Busy     []string
}

// sql is the scope as a condition on reminder_messages, and its arguments.
func (c ClaimScope) sql() (string, []any) {
	if c.Operator == "" && c.Before.IsZero() && len(c.Busy) == 0 {
		return "", nil
	}
	if len(c.Busy) == 0 {
		return ` AND (operator = ? OR created_at <= ?)`, []any{c.Operator, msv(c.Before)}
	}
	before := int64(math.MaxInt64) // no Before: however late
	if !c.Before.IsZero() {
		before = msv(c.Before)
	}
	args := []any{c.Operator, before}
	for _, b := range c.Busy {
		args = append(args, b)
	}
	busy := strings.TrimSuffix(strings.Repeat("?, ", len(c.Busy)), ", ")
	return ` AND (operator = ? OR (created_at <= ? AND operator NOT IN (` + busy + `)))`, args
}

// ClaimReminders marks up to n of channel's due queued messages as being
// sent by claimant and returns them, oldest due first. A connection that
// is neither failing nor warned any more is dropped from its message, and
// a message left with none is cancelled instead.
func (s *Store) ClaimReminders(ctx context.Context, channel, claimant string, n int, now time.Time) ([]ClaimedReminder, error) {
	return s.ClaimRemindersIn(ctx, ClaimScope{}, channel, claimant, n, now)
}

// ClaimRemindersIn is ClaimReminders of the messages in scope only.
func (s *Store) ClaimRemindersIn(ctx context.Context, scope ClaimScope, channel, claimant string, n int, now time.Time) ([]ClaimedReminder, error) {
	var out []ClaimedReminder
	cond, cargs := scope.sql()
	err := s.inTx(ctx, "claiming reminders", func(tx *sql.Tx) error {
		args := append([]any{msv(now), claimant, channel, msv(now)}, cargs...)
		rows, err := tx.QueryContext(ctx, `UPDATE reminder_messages SET status = 'sending', attempts = attempts + 1,
			claimed_at = ?, claimed_by = ?
			WHERE id IN (SELECT id FROM reminder_messages WHERE status = 'queued' AND channel = ? AND next_attempt_at <= ?`+cond+`
				ORDER BY next_attempt_at, id LIMIT ?)
			RETURNING id, idempotency_key, channel, payload, attempts`, append(args, n)...)
		if err != nil {
			return fmt.Errorf("store: claiming reminders: %w", err)
		}
		var claimed []ClaimedReminder
		for rows.Next() {
			var c ClaimedReminder
			if err := rows.Scan(&c.ID, &c.Key, &c.Channel, &c.Payload, &c.Attempts); err != nil {
				rows.Close()
				return fmt.Errorf("store: claiming reminders: %w", err)
			}
			claimed = append(claimed, c)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("store: claiming reminders: %w", err)
		}
		slices.SortFunc(claimed, func(a, b ClaimedReminder) int { return cmp.Compare(a.ID, b.ID) })
		for _, c := range claimed {
			// Apply cancels a connection's queued rows when it turns healthy;
			// a warning that simply cleared is caught here.
			if _, err := tx.ExecContext(ctx, `UPDATE reminders SET status = 'cancelled', last_error = 'connection healthy again'
				WHERE message_id = ? AND status = 'queued'
				AND EXISTS (SELECT 1 FROM connections c WHERE c.id = reminders.connection_id AND c.failing = 0 AND c.warning = '')`,
				c.ID); err != nil {
				return fmt.Errorf("store: claiming reminders: %w", err)
			}
			res, err := tx.ExecContext(ctx, `UPDATE reminders SET status = 'sending', attempts = ? WHERE message_id = ? AND status = 'queued'`,
				c.Attempts, c.ID)
			if err != nil {
				return fmt.Errorf("store: claiming reminders: %w", err)
			}
			if n, _ := res.RowsAffected(); n == 0 {
				if _, err := tx.ExecContext(ctx, `UPDATE reminder_messages SET status = 'cancelled', claimed_by = '',
					last_error = 'every connection it covers is healthy again' WHERE id = ?`, c.ID); err != nil {
					return fmt.Errorf("store: cancelling a reminder: %w", err)
				}
				continue
			}
			out = append(out, c)
		}
		return nil
	})
	return out, err
}

// prepared caches one transaction's statements.
type prepared struct {
	tx    *sql.Tx
	stmts map[string]*sql.Stmt
}

func (p *prepared) stmt(ctx context.Context, q string) (*sql.Stmt, error) {
	if st, ok := p.stmts[q]; ok {
		return st, nil
	}
	st, err := p.tx.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	if p.stmts == nil {
		p.stmts = map[string]*sql.Stmt{}
	}
	p.stmts[q] = st
	return st, nil
}

func (p *prepared) row(ctx context.Context, q string, args ...any) *sql.Row {
	st, err := p.stmt(ctx, q)
	if err != nil {
		return p.tx.QueryRowContext(ctx, q, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

func (p *prepared) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	st, err := p.stmt(ctx, q)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

func (p *prepared) close() {
	for _, st := range p.stmts {
		st.Close()
	}
}
