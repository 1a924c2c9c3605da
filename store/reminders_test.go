package store

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/relink/relink/health"
	"github.com/relink/relink/vault"
)

// failingConns registers belvo connections r1..rn, each login_required.
func failingConns(t *testing.T, s *Store, n int) []int64 {
	t.Helper()
	var ids []int64
	for i := 1; i <= n; i++ {
		o := obs("belvo", "r"+string(rune('0'+i)), health.LoginRequired, i, "poll")
		o.Register = true
		ids = append(ids, mustApply(t, s, o)[0].ConnectionID)
	}
	return ids
}

func draft(key string, ids ...int64) ReminderDraft {
	d := ReminderDraft{Key: key, Channel: "email", Recipient: "ana@example.com", Operator: "dana", Payload: []byte(`{"key":"` + key + `"}`)}
	for _, id := range ids {
		d.Conns = append(d.Conns, ReminderConn{ID: id, Category: "login_required"})
	}
	return d
}

func queue(t *testing.T, s *Store, cooldown time.Duration, now time.Time, ds ...ReminderDraft) []QueueOutcome {
	t.Helper()
	out, err := s.QueueReminders(context.Background(), ds, cooldown, now)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func statuses(t *testing.T, s *Store, msgID int64) string {
	t.Helper()
	var m string
	s.db.QueryRow(`SELECT status FROM reminder_messages WHERE id = ?`, msgID).Scan(&m)
	rows, _ := s.db.Query(`SELECT status FROM reminders WHERE message_id = ? ORDER BY connection_id`, msgID)
	defer rows.Close()
	for rows.Next() {
		var r string
		rows.Scan(&r)
		m += " " + r
	}
	return m
}

func TestReminderOutboxLifecycle(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	ids := failingConns(t, s, 2)
	out := queue(t, s, 24*time.Hour, t0, draft("k1", ids...))
	if out[0].ID == 0 || out[0].Blocked != "" {
		t.Fatalf("queue: %+v", out)
	}
	if got := statuses(t, s, out[0].ID); got != "queued queued queued" {
		t.Fatalf("after queueing: %q", got)
	}
	if n, _ := s.QueuedReminders(ctx, "email"); n != 1 {
		t.Fatalf("queued %d", n)
	}
	if none, _ := s.ClaimReminders(ctx, "sms", "me", 5, t0); len(none) != 0 {
		t.Fatal("claimed another channel's message")
	}
	claimed, err := s.ClaimReminders(ctx, "email", "me", 5, t0)
	if err != nil || len(claimed) != 1 || claimed[0].Attempts != 1 || string(claimed[0].Payload) != `{"key":"k1"}` {
		t.Fatalf("claim: %+v %v", claimed, err)
	}
	if again, _ := s.ClaimReminders(ctx, "email", "other", 5, t0); len(again) != 0 {
		t.Fatal("a message was claimed twice")
	}
	if got := statuses(t, s, out[0].ID); got != "sending sending sending" {
		t.Fatalf("after claiming: %q", got)
	}
	sentAt := t0.Add(time.Hour)
	if err := s.FinishReminder(ctx, claimed[0].ID, ReminderResult{Status: ReminderSent, At: sentAt}); err != nil {
		t.Fatal(err)
	}
	if got := statuses(t, s, out[0].ID); got != "sent sent sent" {
		t.Fatalf("after sending: %q", got)
	}
	for _, id := range ids {
		c, _ := s.ConnectionByID(ctx, id)
		if c.LastRemindedAt == nil || !c.LastRemindedAt.Equal(sentAt) {
			t.Errorf("last_reminded_at %v", c.LastRemindedAt)
		}
		h, _ := s.History(ctx, id, 5)
		if h[0].Kind != "reminder" || h[0].Summary != "email reminder sent to ana@example.com by dana" || h[0].Category != "login_required" {
			t.Errorf("history %+v", h[0])
		}
		rs, _ := s.RemindersOf(ctx, id, 5)
		if len(rs) != 1 || rs[0].Status != "sent" || rs[0].Recipient != "ana@example.com" || rs[0].Attempts != 1 || rs[0].SentAt == nil {
			t.Errorf("reminders of #%d: %+v", id, rs)
		}
	}
	var audits []string
	s.AuditSince(ctx, time.Time{}, func(e AuditEntry) error {
		if e.Action == "remind" {
			audits = append(audits, e.Operator+" "+e.Target+" "+e.Detail)
		}
		return nil
	})
	if len(audits) != 2 || audits[0] != "dana belvo:r1 email sent to ana@example.com" {
		t.Errorf("audit %v", audits)
	}
	st, _ := s.ReminderStates(ctx, append(ids, 999))
	if st[ids[0]].Pending || st[ids[0]].LastSentAt == nil || len(st) != 2 {
		t.Errorf("states %+v", st)
	}
	counts, _ := s.OutboxCounts(ctx)
	if counts["sent"] != 1 {
		t.Errorf("counts %v", counts)
	}
}

func TestQueueChecksAgainInsideTheTransaction(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	ids := failingConns(t, s, 4)
	if out := queue(t, s, time.Hour, t0, draft("a", ids[0])); out[0].ID == 0 {
		t.Fatal("first queue")
	}
	out := queue(t, s, time.Hour, t0,
		draft("a", ids[0]),         // same key, queued: duplicate… but its connection is pending first
		draft("b", ids[0], ids[1]), // a connection with a pending reminder blocks the message
		draft("c", ids[1]),
		draft("c", ids[1]), // the same key twice in one batch
	)
	if out[0].Blocked != BlockedPending || out[1].Blocked != BlockedPending || out[1].ConnID != ids[0] || out[2].ID == 0 || out[3].Blocked != BlockedPending {
		t.Fatalf("outcomes %+v", out)
	}
	// Sent within the cooldown blocks; sent before it does not.
	c, _ := s.ClaimReminders(ctx, "email", "me", 10, t0)
	for _, m := range c {
		s.FinishReminder(ctx, m.ID, ReminderResult{Status: ReminderSent, At: t0})
	}
	if out := queue(t, s, time.Hour, t0.Add(30*time.Minute), draft("d", ids[0])); out[0].Blocked != BlockedCooldown {
		t.Fatalf("cooldown: %+v", out)
	}
	if out := queue(t, s, time.Hour, t0.Add(61*time.Minute), draft("d", ids[0])); out[0].ID == 0 {
		t.Fatalf("after the cooldown: %+v", out)
	}
	// Without a cooldown, a sent key is still a duplicate.
	s.db.Exec(`UPDATE connections SET last_reminded_at = NULL`)
	if out := queue(t, s, 0, t0.Add(2*time.Hour), draft("c", ids[1])); out[0].Blocked != BlockedDuplicate {
		t.Fatalf("duplicate: %+v", out)
	}
	// A connection healthy again, or gone, blocks.
	mustApply(t, s, obs("belvo", "r3", health.Healthy, 100, "poll"))
	if out := queue(t, s, 0, t0, draft("e", ids[2])); out[0].Blocked != BlockedHealthy {
		t.Fatalf("healthy: %+v", out)
	}
	if out := queue(t, s, 0, t0, draft("f", 4242)); out[0].Blocked != BlockedGone {
		t.Fatalf("gone: %+v", out)
	}
	// A failed message's key is queued afresh when asked again.
	out = queue(t, s, 0, t0, draft("g", ids[3]))
	c, _ = s.ClaimReminders(ctx, "email", "me", 10, t0.Add(3*time.Hour))
	if len(c) != 2 { // d and g
		t.Fatalf("claimed %d", len(c))
	}
	for _, m := range c {
		s.FinishReminder(ctx, m.ID, ReminderResult{Status: ReminderFailed, Reason: "550 mailbox unavailable", At: t0.Add(3 * time.Hour)})
	}
	if got := statuses(t, s, out[0].ID); got != "failed failed" {
		t.Fatalf("failed: %q", got)
	}
	h, _ := s.History(ctx, ids[3], 1)
	if !strings.Contains(h[0].Summary, "failed: 550 mailbox unavailable") {
		t.Errorf("history %q", h[0].Summary)
	}
	again := queue(t, s, 0, t0.Add(4*time.Hour), draft("g", ids[3]))
	if again[0].ID != out[0].ID || statuses(t, s, out[0].ID) != "queued queued" {
		t.Fatalf("requeue after failure: %+v %q", again, statuses(t, s, out[0].ID))
	}
}

func TestRetriesReleasesAndCancellation(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	ids := failingConns(t, s, 2)
	out := queue(t, s, 0, t0, draft("a", ids[0]), draft("b", ids[1]))
	c, _ := s.ClaimReminders(ctx, "email", "me", 10, t0)
	next := t0.Add(2 * time.Second)
	s.FinishReminder(ctx, c[0].ID, ReminderResult{Status: ReminderQueued, Next: next, Reason: "451 try later"})
	s.FinishReminder(ctx, c[1].ID, ReminderResult{Status: ReminderQueued, Next: t0, Uncount: true, Reason: "stopped"})
	if due, ok, _ := s.NextDueReminder(ctx, "email"); !ok || !due.Equal(t0) {
		t.Fatalf("next due %v %v", due, ok)
	}
	c, _ = s.ClaimReminders(ctx, "email", "me", 10, t0.Add(time.Second))
	if len(c) != 1 || c[0].ID != out[1].ID || c[0].Attempts != 1 {
		t.Fatalf("a released attempt does not count; a retry waits: %+v", c)
	}
	s.FinishReminder(ctx, c[0].ID, ReminderResult{Status: ReminderCancelled, Reason: "links expired"})
	// The connection of a queued message turns healthy: Apply cancels its
	// row and the claim cancels the message.
	mustApply(t, s, obs("belvo", "r1", health.Healthy, 100, "poll"))
	if c, _ := s.ClaimReminders(ctx, "email", "me", 10, next); len(c) != 0 {
		t.Fatalf("claimed a reminder for a healthy connection: %+v", c)
	}
	if got := statuses(t, s, out[0].ID); got != "cancelled cancelled" {
		t.Fatalf("healthy again: %q", got)
	}
	if _, ok, _ := s.NextDueReminder(ctx, "email"); ok {
		t.Fatal("nothing should be queued")
	}
}

func TestRecoverRemindersOfGoneRunsAndExpiredLeases(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	ids := failingConns(t, s, 3)
	queue(t, s, 0, t0, draft("a", ids[0]), draft("b", ids[1]), draft("c", ids[2]))
	s.ClaimReminders(ctx, "email", "host/1/dead", 1, t0)
	s.ClaimReminders(ctx, "email", "host/2/alive-old", 1, t0)
	s.ClaimReminders(ctx, "email", "host/3/alive-fresh", 1, t0.Add(50*time.Second))
	gone := func(c string) bool { return strings.HasSuffix(c, "dead") }
	n, err := s.RecoverReminders(ctx, t0.Add(time.Minute), 55*time.Second, gone)
	if err != nil || n != 2 {
		t.Fatalf("recovered %d, %v; want the dead run's and the expired lease's", n, err)
	}
	var sending int
	s.db.QueryRow(`SELECT COUNT(*) FROM reminders WHERE status = 'sending'`).Scan(&sending)
	if sending != 1 {
		t.Fatalf("%d rows still sending", sending)
	}
	c, _ := s.ClaimReminders(ctx, "email", "new", 10, t0.Add(time.Minute))
	if len(c) != 2 || c[0].Attempts != 2 {
		t.Fatalf("recovered messages are claimed again (their attempt counted): %+v", c)
	}
}

func TestOutboxQueriesUseIndexes(t *testing.T) {
	s := openTest(t)
	for q, args := range map[string][]any{
		`SELECT id FROM reminder_messages WHERE status = 'queued' AND channel = ? AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT 8`:                                                                  {"email", 1},
		`SELECT MIN(next_attempt_at) FROM reminder_messages WHERE status = 'queued' AND channel = ?`:                                                                                                              {"email"},
		`SELECT status FROM reminders WHERE connection_id = ? AND (status IN ('queued', 'sending') OR (status = 'sent' AND sent_at > ?)) LIMIT 1`:                                                                 {1, 1},
		`UPDATE reminders SET status = 'cancelled' WHERE message_id = ? AND status = 'queued' AND EXISTS (SELECT 1 FROM connections c WHERE c.id = reminders.connection_id AND c.failing = 0 AND c.warning = '')`: {1},
		`SELECT connection_id FROM reminders WHERE message_id = ? AND status = 'queued'`:                                                                                                                          {1},
	} {
		if plan := explain(t, s.db, q, args...); strings.Contains(plan, "SCAN") || strings.Contains(plan, "TEMP B-TREE") {
			t.Errorf("%s\n%s", q, plan)
		}
	}
}

func TestFunnelPerCategoryAndChannel(t *testing.T) {
	ctx := context.Background()
	clock := t0
	key, _, _ := vault.Generate()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "f.db"), Options{Sealer: key, Now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ids := failingConns(t, s, 4) // r1..r4 login_required
	mustApply(t, s, obs("belvo", "r4", health.AccountLocked, 10, "poll"))
	send := func(channel string, at time.Time, id int64) {
		d := draft(channel+"-"+at.String()+string(rune('a'+id)), id)
		d.Channel = channel
		queue(t, s, 0, at, d)
		c, _ := s.ClaimReminders(ctx, channel, "me", 10, at)
		for _, m := range c {
			if err := s.FinishReminder(ctx, m.ID, ReminderResult{Status: ReminderSent, At: at}); err != nil {
				t.Fatal(err)
			}
		}
	}
	send("email", t0.Add(time.Hour), ids[0])
	send("email", t0.Add(time.Hour), ids[1])
	send("sms", t0.Add(time.Hour), ids[2])
	send("email", t0.Add(3*time.Hour), ids[0]) // a second reminder: the funnel counts from the first
	clock = t0.Add(2 * time.Hour)
	s.Note(ctx, ids[0], "click", "reconnect link clicked")
	mustApply(t, s, obs("belvo", "r1", health.Healthy, 5*60, "poll"), obs("belvo", "r3", health.Healthy, 2*60, "poll"))
	topics := []string{"account_locked", "login_required", "consent_expiring"}
	rows, err := s.Funnel(ctx, t0.Add(-24*time.Hour), topics)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]FunnelRow{}
	for _, r := range rows {
		got[r.Category+"/"+r.Channel] = r
	}
	if len(rows) != 3 {
		t.Fatalf("rows %+v", rows)
	}
	em := got["login_required/email"]
	if em.Failing != 4 || em.Reminded != 2 || em.Clicked != 1 || em.Repaired != 1 || em.MedianRepair() != 4*time.Hour {
		t.Errorf("login_required by email %+v (median %s)", em, em.MedianRepair())
	}
	sms := got["login_required/sms"]
	if sms.Reminded != 1 || sms.Clicked != 0 || sms.Repaired != 1 || sms.MedianRepair() != time.Hour {
		t.Errorf("login_required by sms %+v", sms)
	}
	if al := got["account_locked/"]; al.Failing != 1 || al.Reminded != 0 {
		t.Errorf("account_locked %+v", al)
	}
	// The period excludes reminders before it.
	rows, _ = s.Funnel(ctx, t0.Add(2*time.Hour), topics)
	for _, r := range rows {
		if r.Reminded != 0 && (r.Channel != "email" || r.Reminded != 1) {
			t.Errorf("since +2h: %+v", r)
		}
	}
}

func TestClaimDropsAConnectionWhoseWarningCleared(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	o := obs("belvo", "w1", health.Healthy, 1, "poll")
	o.Register = true
	id := mustApply(t, s, o)[0].ConnectionID
	deadline := t0.Add(240 * time.Hour)
	mustApply(t, s, Observation{Provider: "belvo", ProviderID: "w1", Kind: "webhook", EventID: "e1",
		Signal: health.Signal{Effect: health.SetWarning, Warning: health.ConsentExpiring, Deadline: &deadline, Source: health.SourceWebhook, ObservedAt: t0.Add(2 * time.Minute)}})
	out := queue(t, s, 0, t0, draft("w", id))
	if out[0].ID == 0 {
		t.Fatalf("a warned connection is remindable: %+v", out)
	}
	s.db.Exec(`UPDATE connections SET warning = '', deadline = NULL WHERE id = ?`, id) // the user renewed consent
	if c, _ := s.ClaimReminders(ctx, "email", "me", 5, t0); len(c) != 0 {
		t.Fatalf("claimed a reminder for a warning that cleared: %+v", c)
	}
	if got := statuses(t, s, out[0].ID); got != "cancelled cancelled" {
		t.Fatalf("statuses %q", got)
	}
}

// TestAClaimLeavesTheBusyTheirMessages: a claim in a scope takes its
// operator's messages and those queued by its Before, but never, however
// old, those of a person whose send is under way (Busy); with no Before,
// every message but theirs.
func TestAClaimLeavesTheBusyTheirMessages(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	ids := failingConns(t, s, 3)
	by := func(op, key string, id int64) ReminderDraft {
		d := draft(key, id)
		d.Operator = op
		return d
	}
	queue(t, s, time.Hour, t0, by("lee", "k-lee", ids[0]), by("sam", "k-sam", ids[1]))
	queue(t, s, time.Hour, t0.Add(time.Minute), by("dana", "k-dana", ids[2]))
	claimed := func(scope ClaimScope) string {
		t.Helper()
		got, err := s.ClaimRemindersIn(ctx, scope, "email", "test-run", 10, t0.Add(2*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		for _, c := range got {
			keys = append(keys, c.Key)
			if _, err := s.db.Exec(`UPDATE reminder_messages SET status = 'queued', claimed_by = '' WHERE id = ?`, c.ID); err != nil {
				t.Fatal(err)
			}
			if _, err := s.db.Exec(`UPDATE reminders SET status = 'queued' WHERE message_id = ?`, c.ID); err != nil {
				t.Fatal(err)
			}
		}
		return strings.Join(keys, ",")
	}
	for _, c := range []struct {
		scope ClaimScope
		want  string
	}{
		{ClaimScope{}, "k-lee,k-sam,k-dana"},
		{ClaimScope{Operator: "dana", Before: t0}, "k-lee,k-sam,k-dana"},
		{ClaimScope{Operator: "dana", Before: t0, Busy: []string{"lee"}}, "k-sam,k-dana"},
		{ClaimScope{Operator: "dana", Before: t0, Busy: []string{"lee", "sam"}}, "k-dana"},
		{ClaimScope{Operator: "the hub", Before: t0.Add(time.Hour), Busy: []string{"dana"}}, "k-lee,k-sam"},
		{ClaimScope{Busy: []string{"sam"}}, "k-lee,k-dana"},
	} {
		if got := claimed(c.scope); got != c.want {
			t.Errorf("%+v claimed %q, want %q", c.scope, got, c.want)
		}
	}
}
