package store

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/relink/relink/health"
	"github.com/relink/relink/vault"
)

var t0 = time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)

func openTest(t testing.TB) *Store {
	t.Helper()
	key, _, err := vault.Generate()
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "relink.db"), Options{Sealer: key, Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func importRows(t testing.TB, s *Store, regs ...Registration) {
	t.Helper()
	ctx := context.Background()
	im, err := s.BeginImport(ctx, "tester")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range regs {
		if err := im.Add(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := im.Commit(ctx, "test"); err != nil {
		t.Fatal(err)
	}
}

func obs(provider, id string, cat health.Category, min int, kind string) Observation {
	src := health.SourcePoll
	if kind == "webhook" {
		src = health.SourceWebhook
	}
	return Observation{Provider: provider, ProviderID: id, Kind: kind,
		Signal: health.Signal{Effect: health.SetPrimary, Category: cat, ProviderCode: "CODE_" + string(cat), Source: src,
			ObservedAt: t0.Add(time.Duration(min) * time.Minute)}}
}

func mustApply(t testing.TB, s *Store, o ...Observation) []Outcome {
	t.Helper()
	out, err := s.Apply(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestMigrationsOnEmptyAndExistingDatabase(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "r.db")
	s, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	v, _ := s.SchemaVersion(ctx)
	ms, _ := listMigrations()
	if v != ms[len(ms)-1].version {
		t.Fatalf("schema version %d after open of an empty file", v)
	}
	importRows(t, s, Registration{Provider: "belvo", ProviderID: "l1", Name: "Ana"})
	s.Close()

	s, err = Open(ctx, path, Options{})
	if err != nil {
		t.Fatalf("reopening an existing database: %v", err)
	}
	c, err := s.Connection(ctx, "belvo", "l1")
	if err != nil || c.Name != "Ana" {
		t.Fatalf("data lost across reopen: %+v %v", c, err)
	}
	// A database from a newer relink is refused, not damaged.
	s.db.Exec("PRAGMA user_version = 999")
	s.Close()
	if _, err := Open(ctx, path, Options{}); err == nil || !strings.Contains(err.Error(), "upgrade relink") {
		t.Fatalf("newer schema: %v", err)
	}
}

func TestPragmas(t *testing.T) {
	s := openTest(t)
	var mode string
	var fk, busy int
	s.db.QueryRow("PRAGMA journal_mode").Scan(&mode)
	s.db.QueryRow("PRAGMA foreign_keys").Scan(&fk)
	s.db.QueryRow("PRAGMA busy_timeout").Scan(&busy)
	if mode != "wal" || fk != 1 || busy < 1000 {
		t.Fatalf("journal_mode=%s foreign_keys=%d busy_timeout=%d", mode, fk, busy)
	}
}

func TestTokensAreSealedAtRest(t *testing.T) {
	s := openTest(t)
	importRows(t, s, Registration{Provider: "plaid", ProviderID: "i1", AccessToken: "access-sandbox-TOPSECRET"})
	var raw []byte
	s.db.QueryRow("SELECT access_token FROM connections").Scan(&raw)
	if strings.Contains(string(raw), "TOPSECRET") {
		t.Fatal("token stored in the clear")
	}
	tok, err := s.AccessToken(context.Background(), "plaid", "i1")
	if err != nil || tok != "access-sandbox-TOPSECRET" {
		t.Fatalf("AccessToken = %q, %v", tok, err)
	}
	// Without a key, a token is never written in the clear.
	nokey, _ := Open(context.Background(), filepath.Join(t.TempDir(), "n.db"), Options{})
	defer nokey.Close()
	im, _ := nokey.BeginImport(context.Background(), "t")
	defer im.Rollback()
	if err := im.Add(context.Background(), Registration{Provider: "plaid", ProviderID: "i1", AccessToken: "x"}); err == nil ||
		!strings.Contains(err.Error(), "RELINK_SECRET_KEY") {
		t.Fatalf("no key: %v", err)
	}
}

func TestImportRollbackAppliesNothing(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	im, _ := s.BeginImport(ctx, "t")
	im.Add(ctx, Registration{Provider: "belvo", ProviderID: "l1"})
	im.Rollback()
	c, _ := s.Counts(ctx)
	if c.Total != 0 {
		t.Fatalf("rolled back import left %d rows", c.Total)
	}
}

func TestApplyDeduplicatesProviderEvents(t *testing.T) {
	s := openTest(t)
	importRows(t, s, Registration{Provider: "belvo", ProviderID: "l1"})
	o := obs("belvo", "l1", health.LoginRequired, 1, "webhook")
	o.EventID = "wh-1"
	first := mustApply(t, s, o)
	again := mustApply(t, s, o)
	if first[0].Duplicate || !again[0].Duplicate {
		t.Fatalf("dedupe: first %+v again %+v", first[0], again[0])
	}
	var n int
	s.db.QueryRow("SELECT COUNT(*) FROM events WHERE event_id = 'wh-1'").Scan(&n)
	if n != 1 {
		t.Fatalf("event stored %d times", n)
	}
}

func TestEventBeforeRegistrationIsAttachedLater(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	o := obs("plaid", "early", health.LoginRequired, 1, "webhook")
	o.EventID = "e-1"
	out := mustApply(t, s, o)
	if !out[0].Unattached {
		t.Fatalf("want unattached: %+v", out[0])
	}
	importRows(t, s, Registration{Provider: "plaid", ProviderID: "early", AccessToken: "tok"})
	c, err := s.Connection(ctx, "plaid", "early")
	if err != nil {
		t.Fatal(err)
	}
	if c.Health.Category != health.LoginRequired {
		t.Fatalf("the early event's health was not applied on import: %s", c.Health.Category)
	}
	h, _ := s.History(ctx, c.ID, 10)
	if len(h) != 1 || h[0].EventID != "e-1" {
		t.Fatalf("history: %+v", h)
	}
}

func TestApplyRegistersBelvoLinksAndCountsFollow(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	var batch []Observation
	for i := 0; i < 10; i++ {
		o := obs("belvo", fmt.Sprintf("l%d", i), health.Healthy, 0, "poll")
		o.Register, o.Institution = true, "Banco Azul"
		batch = append(batch, o)
	}
	mustApply(t, s, batch...)
	mustApply(t, s, obs("belvo", "l1", health.LoginRequired, 5, "poll"), obs("belvo", "l2", health.MFARequired, 6, "poll"))
	c, _ := s.Counts(ctx)
	if c.Total != 10 || c.Failing != 2 || c.ByCategory[health.Healthy] != 8 || c.ByCategory[health.LoginRequired] != 1 {
		t.Fatalf("counts %+v", c)
	}
	// Repair: the count moves back, queued reminders are cancelled.
	conn, _ := s.Connection(ctx, "belvo", "l1")
	s.db.Exec(`INSERT INTO reminders (connection_id, channel, status, idempotency_key, created_at) VALUES (?, 'email', 'queued', 'k1', 0)`, conn.ID)
	out := mustApply(t, s, obs("belvo", "l1", health.Healthy, 10, "poll"))
	if !out[0].Change.Cleared {
		t.Fatalf("repair not flagged: %+v", out[0])
	}
	var status string
	s.db.QueryRow("SELECT status FROM reminders WHERE idempotency_key = 'k1'").Scan(&status)
	if status != "cancelled" {
		t.Fatalf("queued reminder after repair: %s", status)
	}
	c, _ = s.Counts(ctx)
	if c.Failing != 1 || c.ByCategory[health.Healthy] != 9 {
		t.Fatalf("counts after repair %+v", c)
	}
	b, _ := s.Breakdown(ctx, health.MFARequired, 5)
	if len(b) != 1 || b[0].Institution != "Banco Azul" || b[0].N != 1 {
		t.Fatalf("breakdown %+v", b)
	}
}

func seedFailing(t testing.TB, s *Store) {
	t.Helper()
	rows := []struct {
		id, name, inst string
		cat            health.Category
		min            int
	}{
		{"a", "Zoe", "Banco Azul", health.LoginRequired, 30},
		{"b", "Ana", "First Platypus", health.LoginRequired, 10},
		{"c", "Mia", "Banco Azul", health.LoginRequired, 20},
		{"d", "Bob", "Chase", health.AccountLocked, 40},
		{"e", "Eve", "Chase", health.Healthy, 0},
	}
	for _, r := range rows {
		o := obs("belvo", r.id, r.cat, r.min, "poll")
		o.Register, o.Institution = true, r.inst
		mustApply(t, s, o)
		s.db.Exec("UPDATE connections SET name = ?, email = lower(?) || '@example.com' WHERE provider_id = ?", r.name, r.name, r.id)
	}
}

func names(cs []Connection) string {
	var n []string
	for _, c := range cs {
		n = append(n, c.Name)
	}
	return strings.Join(n, ",")
}

func TestPagesSortFilter(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	seedFailing(t, s)
	login := Group{Kind: GroupCategory, Category: health.LoginRequired}
	cases := []struct {
		q    PageQuery
		want string
	}{
		{PageQuery{Group: login}, "Ana,Mia,Zoe"},
		{PageQuery{Group: login, Desc: true}, "Zoe,Mia,Ana"},
		{PageQuery{Group: login, Sort: SortName}, "Ana,Mia,Zoe"},
		{PageQuery{Group: login, Sort: SortInstitution}, "Zoe,Mia,Ana"}, // ties by id
		{PageQuery{Group: login, Filter: "AZUL"}, "Mia,Zoe"},
		{PageQuery{Group: login, Filter: "zoe@"}, "Zoe"},
		{PageQuery{Group: login, Filter: "50%"}, ""},
		{PageQuery{Group: login, Limit: 1, Offset: 1}, "Mia"},
		{PageQuery{Group: Group{Kind: GroupAllFailing}}, "Bob,Ana,Mia,Zoe"},
	}
	for _, c := range cases {
		got, err := s.Page(ctx, c.q)
		if err != nil {
			t.Fatal(err)
		}
		if names(got) != c.want {
			t.Errorf("%+v = %q, want %q", c.q, names(got), c.want)
		}
	}
	n, _ := s.CountPage(ctx, PageQuery{Group: login})
	nf, _ := s.CountPage(ctx, PageQuery{Group: login, Filter: "azul"})
	if n != 3 || nf != 2 {
		t.Fatalf("CountPage %d, filtered %d", n, nf)
	}
}

func TestExpiringGroupSoonestFirst(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	for i, days := range []int{9, 3, 6} {
		id := fmt.Sprintf("x%d", i)
		o := obs("belvo", id, health.Healthy, 0, "poll")
		o.Register = true
		mustApply(t, s, o)
		d := t0.Add(time.Duration(days) * 24 * time.Hour)
		mustApply(t, s, Observation{Provider: "belvo", ProviderID: id, Kind: "webhook", Signal: health.Signal{Effect: health.SetWarning,
			Warning: health.ConsentExpiring, Deadline: &d, Source: health.SourceWebhook, ObservedAt: t0.Add(time.Minute)}})
		s.db.Exec("UPDATE connections SET name = ? WHERE provider_id = ?", fmt.Sprintf("in%dd", days), id)
	}
	got, _ := s.Page(ctx, PageQuery{Group: Group{Kind: GroupExpiring}})
	if names(got) != "in3d,in6d,in9d" {
		t.Fatalf("expiring order %q", names(got))
	}
	c, _ := s.Counts(ctx)
	if c.Expiring != 3 || c.Failing != 0 {
		t.Fatalf("counts %+v", c)
	}
}

func TestNewFailuresPerDay(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	for i, daysAgo := range []int{0, 0, 1, 13, 20} {
		o := obs("belvo", fmt.Sprintf("f%d", i), health.LoginRequired, 0, "poll")
		o.Register = true
		o.Signal.ObservedAt = t0.Add(-time.Duration(daysAgo) * 24 * time.Hour)
		mustApply(t, s, o)
	}
	got, err := s.NewFailuresPerDay(ctx, Group{Kind: GroupAllFailing}, t0, 14)
	if err != nil {
		t.Fatal(err)
	}
	if got[13] != 2 || got[12] != 1 || got[0] != 1 || len(got) != 14 {
		t.Fatalf("per day %v", got)
	}
}

func TestHistoryRecordsChangesNotRepeatPolls(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	o := obs("belvo", "h1", health.Healthy, 0, "poll")
	o.Register = true
	mustApply(t, s, o)                                             // a first check finding it working: no history
	mustApply(t, s, obs("belvo", "h1", health.Healthy, 1, "poll")) // no change: no history
	mustApply(t, s, obs("belvo", "h1", health.LoginRequired, 2, "poll"))
	c, _ := s.Connection(ctx, "belvo", "h1")
	s.Note(ctx, c.ID, "reminder", "email queued")
	h, _ := s.History(ctx, c.ID, 10)
	if len(h) != 2 || h[0].Category != "login_required" || h[1].Kind != "reminder" {
		t.Fatalf("history %+v", h)
	}
}

func TestSyncStateAndAudit(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	if err := s.RecordSync(ctx, "plaid", t0, "c1", 10, 2, nil); err != nil {
		t.Fatal(err)
	}
	s.RecordSync(ctx, "plaid", t0.Add(time.Hour), "", 0, 0, fmt.Errorf("plaid: timeout"))
	st, _ := s.SyncStates(ctx)
	p := st["plaid"]
	if !p.LastSuccessAt.Equal(t0) || p.LastError != "plaid: timeout" || p.Cursor != "c1" || p.Seen != 10 {
		t.Fatalf("a failed sync must keep the last success and cursor: %+v", p)
	}
	s.Audit(ctx, AuditEntry{Operator: "dana", Action: "link", Target: "plaid:i1", At: t0})
	var got []AuditEntry
	s.AuditSince(ctx, t0.Add(-time.Minute), func(e AuditEntry) error { got = append(got, e); return nil })
	if len(got) != 1 || got[0].Operator != "dana" {
		t.Fatalf("audit %+v", got)
	}
}

// Every dashboard query is served by an index: none scans connections.
// The all-failing group's are in TestAllFailingPlansMerge.
func TestQueryPlansUseIndexes(t *testing.T) {
	s := openTest(t)
	login := Group{Kind: GroupCategory, Category: health.LoginRequired}
	queries := []PageQuery{
		{Group: login}, {Group: login, Sort: SortName}, {Group: login, Sort: SortInstitution, Desc: true},
		{Group: Group{Kind: GroupExpiring}},
	}
	for _, q := range queries {
		where, args := q.where()
		plan := explain(t, s.db, `SELECT `+connColumns+` FROM connections WHERE `+where+` ORDER BY `+q.orderBy()+` LIMIT 50`, args...)
		if strings.Contains(plan, "SCAN connections") && !strings.Contains(plan, "USING INDEX") || strings.Contains(plan, "TEMP B-TREE") {
			t.Errorf("%+v plan:\n%s", q, plan)
		}
	}
}

func explain(t *testing.T, db *sql.DB, q string, args ...any) string {
	rows, err := db.Query("EXPLAIN QUERY PLAN "+q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var id, parent, notused int
		var detail string
		rows.Scan(&id, &parent, &notused, &detail)
		b.WriteString(detail + "\n")
	}
	return b.String()
}

// cacheAt makes at path a database as relink made it at schema version:
// the migrations up to it only, then write's rows (as they were written
// then), then the version recorded.
func cacheAt(t *testing.T, path string, version int, write func(db *sql.DB)) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ms, err := listMigrations()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.version > version {
			break
		}
		body, _ := migrations.ReadFile("migrations/" + m.name)
		if _, err := db.Exec(string(body)); err != nil {
			t.Fatalf("%s: %v", m.name, err)
		}
	}
	if write != nil {
		write(db)
	}
	if _, err := db.Exec(fmt.Sprintf("PRAGMA user_version = %d", version)); err != nil {
		t.Fatal(err)
	}
}
