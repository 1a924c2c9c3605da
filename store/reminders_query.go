package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

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

// LastReminder is the reminder that keeps a connection from another: who
// queued it, its status, and when it was sent (or queued, while not sent).
type LastReminder struct {
	Operator string
	Status   string // queued | sending | sent
	At       time.Time
}

// LastReminders returns, of each connection in ids with one, its reminder
// in flight (queued or being sent) or else its newest sent one: what a plan
// names when it skips the connection for being queued or within cooldown.
func (s *Store) LastReminders(ctx context.Context, ids []int64) (map[int64]LastReminder, error) {
	out := map[int64]LastReminder{}
	for chunk := range slices.Chunk(ids, 500) {
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		rows, err := s.db.QueryContext(ctx, `SELECT connection_id, operator, status, at FROM (
				SELECT connection_id, operator, status, COALESCE(sent_at, created_at) AS at,
					ROW_NUMBER() OVER (PARTITION BY connection_id
						ORDER BY status IN ('queued', 'sending') DESC, COALESCE(sent_at, created_at) DESC, id DESC) AS n
				FROM reminders WHERE status IN ('queued', 'sending', 'sent')
					AND connection_id IN (`+strings.TrimSuffix(strings.Repeat("?,", len(chunk)), ",")+`))
			WHERE n = 1`, args...)
		if err != nil {
			return nil, fmt.Errorf("store: reading who reminded connections last: %w", err)
		}
		for rows.Next() {
			var id, at int64
			var r LastReminder
			if err := rows.Scan(&id, &r.Operator, &r.Status, &at); err != nil {
				rows.Close()
				return nil, fmt.Errorf("store: reading who reminded connections last: %w", err)
			}
			r.At = time.UnixMilli(at).UTC()
			out[id] = r
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("store: reading who reminded connections last: %w", err)
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

// QueuedReminders counts channel's messages waiting to be sent.
func (s *Store) QueuedReminders(ctx context.Context, channel string) (int, error) {
	return s.QueuedRemindersIn(ctx, ClaimScope{}, channel)
}

// QueuedRemindersIn is QueuedReminders of the messages in scope only.
func (s *Store) QueuedRemindersIn(ctx context.Context, scope ClaimScope, channel string) (int, error) {
	var n int
	cond, args := scope.sql()
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM reminder_messages WHERE status = 'queued' AND channel = ?`+cond,
		append([]any{channel}, args...)...).Scan(&n)
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
//
// A LinkOnly row counts the repairs no reminder led to: the connections of
// the category whose user clicked a reconnect link, or for whom an agent
// copied or opened one (a link read out on a call), with no reminder sent
// in the period before the repair. Its Clicked are those connections, its
// Repaired those repaired after the first such use, and its RepairTimes
// run from that use; Reminded is 0.
type FunnelRow struct {
	Category string
	Channel  string // "" for a category no one was reminded about, and for the LinkOnly row
	LinkOnly bool
	Failing  int // connections failing in this category during the period (any channel)
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

// linkUseCond is the history entries that say a reconnect link was used:
// a click on a durable link (RecordClick), and an agent copying or opening
// a link (LinkUseSummary's line, "direct link copied by dana").
func linkUseCond() string {
	used := func(action string) string { return "summary LIKE '" + LinkUseSummary("%", action, "%") + "'" }
	return "(kind = 'click' OR (kind = 'link' AND (" + used(LinkCopied) + " OR " + used(LinkOpened) + ")))"
}

// repairedAfter is the first healthy signal of connection cid at or after
// the time from, else the time it was last seen healthy when it still is.
func repairedAfter(cid, from string) string {
	return `COALESCE(
		(SELECT MIN(observed_at) FROM events e WHERE e.connection_id = ` + cid + ` AND e.kind != 'reminder'
			AND e.category = 'healthy' AND e.observed_at >= ` + from + `),
		(SELECT c.updated_at FROM connections c WHERE c.id = ` + cid + ` AND c.failing = 0 AND c.warning = ''
			AND c.category != 'unknown' AND c.updated_at >= ` + from + `))`
}

// Funnel computes the reconnect funnel since a time, per category and
// channel, from the reminders, the history (clicks, link uses, healthy
// signals) and the connections' current state; then, per category, the
// repairs after a link with no reminder (LinkOnly). topics are the
// categories and warnings that count as failing.
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
	type key struct{ cat, ch string }
	byKey := map[key]*FunnelRow{}
	rows, err = s.db.QueryContext(ctx, `WITH firsts AS (
			SELECT category, channel, connection_id, MIN(sent_at) AS sent FROM reminders
			WHERE status = 'sent' AND sent_at >= ? GROUP BY category, channel, connection_id)
		SELECT f.category, f.channel, f.sent,
			(SELECT MIN(observed_at) FROM events e WHERE e.connection_id = f.connection_id AND e.kind = 'click' AND e.observed_at >= f.sent),
			`+repairedAfter("f.connection_id", "f.sent")+`
		FROM firsts f`, msv(since))
	if err != nil {
		return nil, fmt.Errorf("store: reading the reconnect funnel: %w", err)
	}
	for rows.Next() {
		var k key
		var sent int64
		var clicked, repaired sql.NullInt64
		if err := rows.Scan(&k.cat, &k.ch, &sent, &clicked, &repaired); err != nil {
			rows.Close()
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
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	linkOnly, err := s.linkOnlyFunnel(ctx, since, topics, failing)
	if err != nil {
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
		if r := linkOnly[t]; r != nil {
			slices.Sort(r.RepairTimes)
			out = append(out, *r)
			found = true
		}
		if !found && failing[t] > 0 {
			out = append(out, FunnelRow{Category: t, Failing: failing[t]})
		}
	}
	return out, nil
}

// linkOnlyQuery reads, per connection with a link used since ?, the first
// use, its repair and its category, unless a reminder was sent since ? and
// before the repair.
var linkOnlyQuery = `WITH uses AS (
			SELECT connection_id AS cid, MIN(observed_at) AS used FROM events NOT INDEXED -- one pass over the table
			WHERE observed_at >= ? AND connection_id IS NOT NULL AND ` + linkUseCond() + ` GROUP BY connection_id),
		fixed AS MATERIALIZED (SELECT u.cid, u.used, ` + repairedAfter("u.cid", "u.used") + ` AS repaired FROM uses u)
		SELECT f.used, f.repaired, COALESCE(
			(SELECT e.category FROM events e WHERE e.connection_id = f.cid AND e.kind != 'reminder' AND e.category != ''
				AND e.observed_at <= f.used ORDER BY e.observed_at DESC, e.id DESC LIMIT 1),
			(SELECT CASE WHEN c.failing = 1 THEN c.category ELSE c.warning END FROM connections c WHERE c.id = f.cid), '')
		FROM fixed f
		WHERE NOT EXISTS (SELECT 1 FROM reminders r WHERE r.connection_id = f.cid AND r.status = 'sent' AND r.sent_at >= ?
			AND (f.repaired IS NULL OR r.sent_at <= f.repaired))`

// linkOnlyFunnel is the LinkOnly rows by category: the connections with a
// link used in the period (the first use counts) and no reminder sent in
// the period up to their repair (or at all, when not repaired). A
// connection's category is the newest state its history records up to the
// use, else what it is failing with now; one working then is left out.
func (s *Store) linkOnlyFunnel(ctx context.Context, since time.Time, topics []string, failing map[string]int) (map[string]*FunnelRow, error) {
	rows, err := s.db.QueryContext(ctx, linkOnlyQuery, msv(since), msv(since))
	if err != nil {
		return nil, fmt.Errorf("store: reading the repairs after a link: %w", err)
	}
	defer rows.Close()
	wanted := map[string]bool{}
	for _, t := range topics {
		wanted[t] = true
	}
	out := map[string]*FunnelRow{}
	for rows.Next() {
		var used int64
		var repaired sql.NullInt64
		var cat string
		if err := rows.Scan(&used, &repaired, &cat); err != nil {
			return nil, fmt.Errorf("store: reading the repairs after a link: %w", err)
		}
		if !wanted[cat] {
			continue // a link used on a working connection repairs nothing
		}
		r := out[cat]
		if r == nil {
			r = &FunnelRow{Category: cat, LinkOnly: true, Failing: failing[cat]}
			out[cat] = r
		}
		r.Clicked++
		if repaired.Valid {
			r.Repaired++
			r.RepairTimes = append(r.RepairTimes, time.Duration(repaired.Int64-used)*time.Millisecond)
		}
	}
	return out, rows.Err()
}
