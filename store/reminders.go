package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
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
		if reminded.Valid && reminded.Int64 > cutoff {
			return QueueOutcome{Blocked: BlockedCooldown, ConnID: c.ID}, nil
		}
		var status string
		err = q.row(ctx, `SELECT status FROM reminders WHERE connection_id = ?
			AND (status IN ('queued', 'sending') OR (status = 'sent' AND sent_at > ?)) LIMIT 1`, c.ID, cutoff).Scan(&status)
		switch {
		case err == nil && status == ReminderSent:
			return QueueOutcome{Blocked: BlockedCooldown, ConnID: c.ID}, nil
		case err == nil:
			return QueueOutcome{Blocked: BlockedPending, ConnID: c.ID}, nil
		case !errors.Is(err, sql.ErrNoRows):
			return QueueOutcome{}, err
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
		return QueueOutcome{Blocked: BlockedDuplicate}, nil
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

// ClaimReminders marks up to n of channel's due queued messages as being
// sent by claimant and returns them, oldest due first. A connection that
// is neither failing nor warned any more is dropped from its message, and
// a message left with none is cancelled instead.
func (s *Store) ClaimReminders(ctx context.Context, channel, claimant string, n int, now time.Time) ([]ClaimedReminder, error) {
	var out []ClaimedReminder
	err := s.inTx(ctx, "claiming reminders", func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `UPDATE reminder_messages SET status = 'sending', attempts = attempts + 1,
			claimed_at = ?, claimed_by = ?
			WHERE id IN (SELECT id FROM reminder_messages WHERE status = 'queued' AND channel = ? AND next_attempt_at <= ?
				ORDER BY next_attempt_at, id LIMIT ?)
			RETURNING id, idempotency_key, channel, payload, attempts`, msv(now), claimant, channel, msv(now), n)
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
	var next sql.NullInt64
	err := s.db.QueryRowContext(ctx, `SELECT MIN(next_attempt_at) FROM reminder_messages WHERE status = 'queued' AND channel = ?`,
		channel).Scan(&next)
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

// ReminderState is what the policy needs of a connection's reminders.
type ReminderState struct {
	Pending    bool       // a reminder is queued or being sent
	LastSentAt *time.Time // the newest sent one
}

// ReminderStates reads the reminder state of the connections ids (those
// with no reminder are absent from the map).
func (s *Store) ReminderStates(ctx context.Context, ids []int64) (map[int64]ReminderState, error) {
	out := map[int64]ReminderState{}
	for chunk := range slices.Chunk(ids, 500) {
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		rows, err := s.db.QueryContext(ctx, `SELECT connection_id, MAX(status IN ('queued', 'sending')),
			MAX(CASE WHEN status = 'sent' THEN sent_at END) FROM reminders
			WHERE connection_id IN (`+strings.TrimSuffix(strings.Repeat("?,", len(chunk)), ",")+`) GROUP BY connection_id`, args...)
		if err != nil {
			return nil, fmt.Errorf("store: reading reminder states: %w", err)
		}
		for rows.Next() {
			var id int64
			var pending bool
			var sent sql.NullInt64
			if err := rows.Scan(&id, &pending, &sent); err != nil {
				rows.Close()
				return nil, fmt.Errorf("store: reading reminder states: %w", err)
			}
			out[id] = ReminderState{Pending: pending, LastSentAt: fromMS(sent)}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Reminder is one connection's reminder, for its detail view.
type Reminder struct {
	Channel   string
	Status    string
	Category  string
	Recipient string
	Operator  string
	Attempts  int
	LastError string
	CreatedAt time.Time
	SentAt    *time.Time
}

// RemindersOf returns a connection's newest reminders, newest first.
func (s *Store) RemindersOf(ctx context.Context, connID int64, limit int) ([]Reminder, error) {
	if limit <= 0 {
		limit = 20
	}
	rows, err := s.db.QueryContext(ctx, `SELECT channel, status, category, recipient, operator, attempts, last_error, created_at, sent_at
		FROM reminders WHERE connection_id = ? ORDER BY created_at DESC, id DESC LIMIT ?`, connID, limit)
	if err != nil {
		return nil, fmt.Errorf("store: reading reminders of #%d: %w", connID, err)
	}
	defer rows.Close()
	var out []Reminder
	for rows.Next() {
		var r Reminder
		var created int64
		var sent sql.NullInt64
		if err := rows.Scan(&r.Channel, &r.Status, &r.Category, &r.Recipient, &r.Operator, &r.Attempts, &r.LastError, &created, &sent); err != nil {
			return nil, fmt.Errorf("store: reading reminders of #%d: %w", connID, err)
		}
		r.CreatedAt, r.SentAt = time.UnixMilli(created).UTC(), fromMS(sent)
		out = append(out, r)
	}
	return out, rows.Err()
}

// OutboxCounts counts reminder messages by status.
func (s *Store) OutboxCounts(ctx context.Context) (map[string]int, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT status, COUNT(*) FROM reminder_messages GROUP BY status`)
	if err != nil {
		return nil, fmt.Errorf("store: counting the reminder outbox: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var st string
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			return nil, err
		}
		out[st] = n
	}
	return out, rows.Err()
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

// QueuedReminders counts channel's messages waiting to be sent.
func (s *Store) QueuedReminders(ctx context.Context, channel string) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM reminder_messages WHERE status = 'queued' AND channel = ?`, channel).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("store: counting queued reminders: %w", err)
	}
	return n, nil
}

// WarnedConnections streams the connections with warning w (every warning
// when w is empty), soonest deadline first.
func (s *Store) WarnedConnections(ctx context.Context, w string, fn func(Connection) error) error {
	q := `SELECT ` + connColumns + ` FROM connections WHERE warning != ''`
	var args []any
	if w != "" {
		q += ` AND warning = ?`
		args = append(args, w)
	}
	rows, err := s.db.QueryContext(ctx, q+` ORDER BY deadline, id`, args...)
	if err != nil {
		return fmt.Errorf("store: listing warned connections: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		c, err := scanConnection(rows)
		if err != nil {
			return fmt.Errorf("store: listing warned connections: %w", err)
		}
		if err := fn(c); err != nil {
			return err
		}
	}
	return rows.Err()
}

// FunnelRow is the reconnect funnel of one category (or warning) on one
// channel: of the connections reminded in the period, how many clicked a
// reconnect link afterwards and how many were repaired, and how long the
// repair took (the first reminder to the first healthy signal).
type FunnelRow struct {
	Category string
	Channel  string // "" for a category no one was reminded about
	Failing  int    // connections failing in this category during the period (any channel)
	Reminded int
	Clicked  int
	Repaired int
	// RepairTimes are the repaired connections' times to repair, shortest first.
	RepairTimes []time.Duration
}

// MedianRepair is the median time to repair, or 0 without repairs.
func (f FunnelRow) MedianRepair() time.Duration {
	n := len(f.RepairTimes)
	switch {
	case n == 0:
		return 0
	case n%2 == 1:
		return f.RepairTimes[n/2]
	}
	return (f.RepairTimes[n/2-1] + f.RepairTimes[n/2]) / 2
}

// Funnel computes the reconnect funnel since a time, per category and
// channel, from the reminders, the history (clicks, healthy signals) and
// the connections' current state. topics are the categories and warnings
// that count as failing.
func (s *Store) Funnel(ctx context.Context, since time.Time, topics []string) ([]FunnelRow, error) {
	if len(topics) == 0 {
		return nil, errors.New("store: the funnel needs the failing categories")
	}
	marks := strings.TrimSuffix(strings.Repeat("?,", len(topics)), ",")
	args := []any{}
	for _, t := range topics {
		args = append(args, t)
	}
	failing := map[string]int{}
	rows, err := s.db.QueryContext(ctx, `SELECT topic, COUNT(*) FROM (
			SELECT id AS cid, category AS topic FROM connections WHERE failing = 1
			UNION SELECT id, warning FROM connections WHERE warning != ''
			UNION SELECT connection_id, category FROM events
				WHERE observed_at >= ? AND connection_id IS NOT NULL AND kind != 'reminder' AND category IN (`+marks+`)
		) WHERE topic IN (`+marks+`) GROUP BY topic`, append(append([]any{msv(since)}, args...), args...)...)
	if err != nil {
		return nil, fmt.Errorf("store: counting failing connections: %w", err)
	}
	for rows.Next() {
		var t string
		var n int
		if err := rows.Scan(&t, &n); err != nil {
			rows.Close()
			return nil, err
		}
		failing[t] = n
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows, err = s.db.QueryContext(ctx, `WITH firsts AS (
			SELECT category, channel, connection_id, MIN(sent_at) AS sent FROM reminders
			WHERE status = 'sent' AND sent_at >= ? GROUP BY category, channel, connection_id)
		SELECT f.category, f.channel, f.sent,
			(SELECT MIN(observed_at) FROM events e WHERE e.connection_id = f.connection_id AND e.kind = 'click' AND e.observed_at >= f.sent),
			COALESCE(
				(SELECT MIN(observed_at) FROM events e WHERE e.connection_id = f.connection_id AND e.kind != 'reminder'
					AND e.category = 'healthy' AND e.observed_at >= f.sent),
				(SELECT c.updated_at FROM connections c WHERE c.id = f.connection_id AND c.failing = 0 AND c.warning = ''
					AND c.category != 'unknown' AND c.updated_at >= f.sent))
		FROM firsts f`, msv(since))
	if err != nil {
		return nil, fmt.Errorf("store: reading the reconnect funnel: %w", err)
	}
	defer rows.Close()
	type key struct{ cat, ch string }
	byKey := map[key]*FunnelRow{}
	for rows.Next() {
		var k key
		var sent int64
		var clicked, repaired sql.NullInt64
		if err := rows.Scan(&k.cat, &k.ch, &sent, &clicked, &repaired); err != nil {
			return nil, fmt.Errorf("store: reading the reconnect funnel: %w", err)
		}
		r := byKey[k]
		if r == nil {
			r = &FunnelRow{Category: k.cat, Channel: k.ch, Failing: failing[k.cat]}
			byKey[k] = r
		}
		r.Reminded++
		if clicked.Valid {
			r.Clicked++
		}
		if repaired.Valid {
			r.Repaired++
			r.RepairTimes = append(r.RepairTimes, time.Duration(repaired.Int64-sent)*time.Millisecond)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var out []FunnelRow
	for _, t := range topics {
		found := false
		for _, ch := range []string{"email", "sms", "webhook"} {
			if r := byKey[key{t, ch}]; r != nil {
				slices.Sort(r.RepairTimes)
				out = append(out, *r)
				found = true
			}
		}
		if !found && failing[t] > 0 {
			out = append(out, FunnelRow{Category: t, Failing: failing[t]})
		}
	}
	return out, nil
}
