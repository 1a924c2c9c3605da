package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// ReminderResult is the outcome of one attempt to send a message.
type ReminderResult struct {
	Status  string    // sent | failed | cancelled | queued (to retry)
	Reason  string    // why, unless sent; no secrets
	Next    time.Time // when to retry, for queued
	Uncount bool      // for queued: the attempt was not made (the run stopped)
	At      time.Time
}

// FinishReminder records the outcome of sending message id, on the message
// and every connection row it covers, in one transaction. A sent message
// also sets each connection's last_reminded_at and adds a history entry
// and an audit line per connection; a failed one, a history entry and an
// audit line with the reason.
func (s *Store) FinishReminder(ctx context.Context, id int64, r ReminderResult) error {
	if r.At.IsZero() {
		r.At = s.now()
	}
	return s.inTx(ctx, "recording a reminder", func(tx *sql.Tx) error {
		var channel, recipient, operator string
		var attempts int
		switch r.Status {
		case ReminderSent, ReminderFailed, ReminderCancelled:
			var sentAt any
			if r.Status == ReminderSent {
				sentAt = msv(r.At)
			}
			err := tx.QueryRowContext(ctx, `UPDATE reminder_messages SET status = ?, sent_at = ?, last_error = ?, claimed_by = ''
				WHERE id = ? RETURNING channel, recipient, operator, attempts`, r.Status, sentAt, r.Reason, id).
				Scan(&channel, &recipient, &operator, &attempts)
			if err != nil {
				return fmt.Errorf("store: recording reminder #%d as %s: %w", id, r.Status, err)
			}
			return finishRows(ctx, tx, id, r, sentAt, channel, recipient, operator)
		case ReminderQueued:
			dec := 0
			if r.Uncount {
				dec = 1
			}
			if _, err := tx.ExecContext(ctx, `UPDATE reminder_messages SET status = 'queued', next_attempt_at = ?, last_error = ?,
				attempts = max(attempts - ?, 0), claimed_by = '' WHERE id = ?`, msv(r.Next), r.Reason, dec, id); err != nil {
				return fmt.Errorf("store: queueing reminder #%d again: %w", id, err)
			}
			if _, err := tx.ExecContext(ctx, `UPDATE reminders SET status = 'queued', next_attempt_at = ?, last_error = ?,
				attempts = max(attempts - ?, 0) WHERE message_id = ? AND status = 'sending'`, msv(r.Next), r.Reason, dec, id); err != nil {
				return fmt.Errorf("store: queueing reminder #%d again: %w", id, err)
			}
			return nil
		}
		return fmt.Errorf("store: %q is not a reminder outcome", r.Status)
	})
}

func finishRows(ctx context.Context, tx *sql.Tx, id int64, r ReminderResult, sentAt any, channel, recipient, operator string) error {
	rows, err := tx.QueryContext(ctx, `UPDATE reminders SET status = ?, sent_at = ?, last_error = ?,
		attempts = (SELECT attempts FROM reminder_messages WHERE id = ?)
		WHERE message_id = ? AND status = 'sending' RETURNING connection_id, category`, r.Status, sentAt, r.Reason, id, id)
	if err != nil {
		return fmt.Errorf("store: recording reminder #%d: %w", id, err)
	}
	type conn struct {
		id  int64
		cat string
	}
	var conns []conn
	for rows.Next() {
		var c conn
		if err := rows.Scan(&c.id, &c.cat); err != nil {
			rows.Close()
			return err
		}
		conns = append(conns, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	at := msv(r.At)
	for _, c := range conns {
		var summary, detail string
		switch r.Status {
		case ReminderSent:
			if _, err := tx.ExecContext(ctx, `UPDATE connections SET last_reminded_at = ? WHERE id = ?`, at, c.id); err != nil {
				return fmt.Errorf("store: recording reminder #%d: %w", id, err)
			}
			summary = fmt.Sprintf("%s reminder sent to %s by %s", channel, recipient, operator)
			detail = channel + " sent to " + recipient
		case ReminderFailed:
			summary = fmt.Sprintf("%s reminder to %s failed: %s", channel, recipient, r.Reason)
			detail = channel + " to " + recipient + " failed: " + r.Reason
		default:
			summary = fmt.Sprintf("%s reminder to %s cancelled: %s", channel, recipient, r.Reason)
		}
		var ref string
		err := tx.QueryRowContext(ctx, `INSERT INTO events (connection_id, provider, provider_id, kind, category, summary, observed_at, received_at)
			SELECT id, provider, provider_id, 'reminder', ?, ?, ?, ? FROM connections WHERE id = ?
			RETURNING provider || ':' || provider_id`, c.cat, summary, at, at, c.id).Scan(&ref)
		if errors.Is(err, sql.ErrNoRows) {
			continue // the connection was deleted meanwhile
		}
		if err != nil {
			return fmt.Errorf("store: noting reminder #%d: %w", id, err)
		}
		if detail != "" {
			if err := insertAudit(ctx, tx, r.At, operator, "remind", ref, detail); err != nil {
				return err
			}
		}
	}
	return nil
}

// NextDueReminder is the earliest next attempt among channel's queued
// messages; ok is false when none is queued.
func (s *Store) NextDueReminder(ctx context.Context, channel string) (time.Time, bool, error) {
	return s.NextDueReminderIn(ctx, ClaimScope{}, channel)
}

// NextDueReminderIn is NextDueReminder of the messages in scope only.
func (s *Store) NextDueReminderIn(ctx context.Context, scope ClaimScope, channel string) (time.Time, bool, error) {
	var next sql.NullInt64
	cond, cargs := scope.sql()
	err := s.db.QueryRowContext(ctx, `SELECT MIN(next_attempt_at) FROM reminder_messages WHERE status = 'queued' AND channel = ?`+cond,
		append([]any{channel}, cargs...)...).Scan(&next)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("store: reading the reminder outbox: %w", err)
	}
	if !next.Valid {
		return time.Time{}, false, nil
	}
	return time.UnixMilli(next.Int64).UTC(), true, nil
}

// RecoverReminders queues again the messages left 'sending' by runs that
// are gone (gone reports it, e.g. same host and the pid is not running) or
// whose claim is older than lease, and returns how many. Such a message
// may or may not have been delivered before its run stopped: sending it
// again is the one duplicate a crash can cost.
func (s *Store) RecoverReminders(ctx context.Context, now time.Time, lease time.Duration, gone func(claimant string) bool) (int, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT claimed_by, MIN(claimed_at) FROM reminder_messages WHERE status = 'sending' GROUP BY claimed_by`)
	if err != nil {
		return 0, fmt.Errorf("store: reading claimed reminders: %w", err)
	}
	type claim struct {
		by     string
		oldest int64
	}
	var claims []claim
	for rows.Next() {
		var c claim
		var oldest sql.NullInt64
		if err := rows.Scan(&c.by, &oldest); err != nil {
			rows.Close()
			return 0, fmt.Errorf("store: reading claimed reminders: %w", err)
		}
		c.oldest = oldest.Int64
		claims = append(claims, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	total := 0
	for _, c := range claims {
		cutoff := msv(now.Add(-lease))
		why := "its run's lease ran out while it was being sent; sending it again"
		if gone != nil && gone(c.by) {
			cutoff = msv(now) + 1
			why = "its run stopped while it was being sent; sending it again"
		}
		if c.oldest >= cutoff {
			continue // a live run's fresh claims
		}
		err := s.inTx(ctx, "recovering reminders", func(tx *sql.Tx) error {
			ids, err := tx.QueryContext(ctx, `UPDATE reminder_messages SET status = 'queued', next_attempt_at = ?, last_error = ?, claimed_by = ''
				WHERE status = 'sending' AND claimed_by = ? AND claimed_at < ? RETURNING id`, msv(now), why, c.by, cutoff)
			if err != nil {
				return fmt.Errorf("store: recovering reminders: %w", err)
			}
			var list []int64
			for ids.Next() {
				var id int64
				if err := ids.Scan(&id); err != nil {
					ids.Close()
					return err
				}
				list = append(list, id)
			}
			ids.Close()
			if err := ids.Err(); err != nil {
				return err
			}
			for _, id := range list {
				if _, err := tx.ExecContext(ctx, `UPDATE reminders SET status = 'queued', last_error = ? WHERE message_id = ? AND status = 'sending'`,
					why, id); err != nil {
					return fmt.Errorf("store: recovering reminders: %w", err)
				}
			}
			total += len(list)
			return nil
		})
		if err != nil {
			return total, err
		}
	}
	return total, nil
}
