package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/relink/relink/health"
)

// The lookup of anyone (GroupEveryone) at RELINK_BENCH_ROWS connections
// (default 1000), 8% failing, the rest not checked yet, against the
// alternative it was chosen over: expression indexes on the lowered name
// and email and on the ids, looked up by prefix. RELINK_BENCH_DB=path
// keeps the cache between runs (the index variant adds its indexes to it).
//
//	RELINK_BENCH_ROWS=1000000 RELINK_BENCH_DB=/tmp/relink-find-1m.db go test ./store -run '^$' -bench Find -benchtime 100x
func findBenchStore(b *testing.B) (*Store, int) {
	b.Helper()
	n := 1000
	if v := os.Getenv("RELINK_BENCH_ROWS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			b.Fatal(err)
		}
	}
	path := os.Getenv("RELINK_BENCH_DB")
	if path == "" {
		path = filepath.Join(b.TempDir(), "bench.db")
	}
	ctx := context.Background()
	_, statErr := os.Stat(path)
	now := time.Date(2026, 5, 14, 12, 0, 0, 0, time.UTC)
	st, err := Open(ctx, path, Options{Now: func() time.Time { return now }})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	if statErr == nil {
		return st, n
	}
	insts := []string{"Chase", "Wells Fargo", "Bank of America", "Citi", "Banco Azul", "Nubank", "mychart.example.org"}
	cats := []health.Category{health.LoginRequired, health.MFARequired, health.AccountLocked, health.PasswordExpired,
		health.InstitutionDown, health.ConsentExpired}
	start := time.Now()
	const batch = 20000
	for from := 0; from < n; from += batch {
		im, err := st.BeginImport(ctx, "bench")
		if err != nil {
			b.Fatal(err)
		}
		var obs []Observation
		for i := from; i < min(n, from+batch); i++ {
			prov := []string{"plaid", "belvo", "cobalt"}[i%3]
			pid := fmt.Sprintf("%s-%07d", prov, i)
			if err := im.Add(ctx, Registration{Provider: prov, ProviderID: pid, UserRef: fmt.Sprintf("u%07d", i),
				Name: fmt.Sprintf("User %07d", i), Email: fmt.Sprintf("user%d@example.com", i), Institution: insts[i%len(insts)]}); err != nil {
				b.Fatal(err)
			}
			if i%25 >= 2 {
				continue
			}
			cat := cats[(i/25*2+i%25)%len(cats)]
			obs = append(obs, Observation{Provider: prov, ProviderID: pid, Kind: "poll", Signal: health.Signal{
				Effect: health.SetPrimary, Category: cat, ProviderCode: "CODE_" + string(cat), Source: health.SourcePoll,
				ObservedAt: now.Add(-time.Duration(i%(14*24*60)) * time.Minute)}})
		}
		if err := im.Commit(ctx, "bench"); err != nil {
			b.Fatal(err)
		}
		if _, err := st.Apply(ctx, obs); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("built %d connections in %s", n, time.Since(start).Round(time.Millisecond))
	return st, n
}

// findBenchQueries are the lookups an agent types, for a cache of n.
func findBenchQueries(n int) []struct{ name, text string } {
	i := n * 3 / 7 // somewhere in the middle
	prov := []string{"plaid", "belvo", "cobalt"}[i%3]
	return []struct{ name, text string }{
		{"email", fmt.Sprintf("user%d@example.com", i)},
		{"email-start", fmt.Sprintf("user%d", i/10)},
		{"name", fmt.Sprintf("User %07d", i)},
		{"user-ref", fmt.Sprintf("u%07d", i)},
		{"conn-ref", fmt.Sprintf("%s:%s-%07d", prov, prov, i)},
		{"broad", "user"},
	}
}

// BenchmarkFindTyping1M: an email typed a key at a time, each prefix looked
// up as the dashboard does (rows and count); the figure is per keystroke,
// and max-ms is the slowest keystroke.
func BenchmarkFindTyping1M(b *testing.B) {
	st, n := findBenchStore(b)
	ctx := context.Background()
	email := findBenchQueries(n)[0].text
	slowest := time.Duration(0)
	i := 0
	for b.Loop() {
		text := email[:1+i%len(email)]
		i++
		t := time.Now()
		pq := PageQuery{Group: Group{Kind: GroupEveryone}, Filter: text, Limit: 90}
		if _, err := st.Page(ctx, pq); err != nil {
			b.Fatal(err)
		}
		if _, err := st.CountPage(ctx, pq); err != nil {
			b.Fatal(err)
		}
		slowest = max(slowest, time.Since(t))
	}
	b.ReportMetric(float64(slowest.Microseconds())/1000, "max-ms")
}

// BenchmarkFind1M: one lookup through Store.Page and Store.CountPage, as the
// dashboard does it (rows, then the count), for the FTS5 index the store
// uses and for the expression indexes it was measured against.
func BenchmarkFind1M(b *testing.B) {
	st, n := findBenchStore(b)
	ctx := context.Background()
	b.Run("fts5", func(b *testing.B) {
		for _, q := range findBenchQueries(n) {
			b.Run(q.name, func(b *testing.B) {
				pq := PageQuery{Group: Group{Kind: GroupEveryone}, Filter: q.text, Limit: 90}
				found := 0
				for b.Loop() {
					rows, err := st.Page(ctx, pq)
					if err != nil {
						b.Fatal(err)
					}
					if found, err = st.CountPage(ctx, pq); err != nil {
						b.Fatal(err)
					}
					if len(rows) == 0 {
						b.Fatalf("%q found nobody", q.text)
					}
				}
				b.ReportMetric(float64(found), "found")
			})
		}
	})
	b.Run("index", func(b *testing.B) {
		start := time.Now()
		for _, ix := range []string{
			`CREATE INDEX IF NOT EXISTS bench_find_email ON connections (lower(email))`,
			`CREATE INDEX IF NOT EXISTS bench_find_name ON connections (lower(name))`,
			`CREATE INDEX IF NOT EXISTS bench_find_user_ref ON connections (user_ref)`,
			`CREATE INDEX IF NOT EXISTS bench_find_pid ON connections (provider_id)`,
		} {
			if _, err := st.db.ExecContext(ctx, ix); err != nil {
				b.Fatal(err)
			}
		}
		b.Logf("indexes ready in %s", time.Since(start).Round(time.Millisecond))
		for _, q := range findBenchQueries(n) {
			b.Run(q.name, func(b *testing.B) {
				found := 0
				for b.Loop() {
					ids, err := indexFind(ctx, st, q.text)
					if err != nil {
						b.Fatal(err)
					}
					found = len(ids)
					rows, err := st.db.QueryContext(ctx, `SELECT `+connColumns+` FROM connections WHERE id IN (`+
						strings.TrimSuffix(strings.Repeat("?,", min(90, len(ids))), ",")+`) ORDER BY name, id`, ids[:min(90, len(ids))]...)
					if err != nil {
						b.Fatal(err)
					}
					got := 0
					for rows.Next() {
						if _, err := scanConnection(rows); err != nil {
							b.Fatal(err)
						}
						got++
					}
					rows.Close()
					if got == 0 {
						b.Fatalf("%q found nobody", q.text)
					}
				}
				b.ReportMetric(float64(found), "found")
			})
		}
	})
}

// indexFind is the index alternative: the ids whose lowered email or name,
// user ref or provider id starts with the text (a CONN ref is split at its
// colon), at most FindLimit. A word inside a name (a surname) is not found:
// an index on a column serves only its start.
func indexFind(ctx context.Context, st *Store, text string) ([]any, error) {
	t := strings.ToLower(strings.TrimSpace(text))
	pid := t
	if _, after, ok := strings.Cut(t, ":"); ok {
		pid = after
	}
	hi := func(s string) string { return s + "\U0010FFFF" }
	rows, err := st.db.QueryContext(ctx, `
		SELECT id FROM (SELECT id FROM connections WHERE lower(email) >= ?1 AND lower(email) < ?2 LIMIT ?5)
		UNION SELECT id FROM (SELECT id FROM connections WHERE lower(name) >= ?1 AND lower(name) < ?2 LIMIT ?5)
		UNION SELECT id FROM (SELECT id FROM connections WHERE user_ref >= ?1 AND user_ref < ?2 LIMIT ?5)
		UNION SELECT id FROM (SELECT id FROM connections WHERE provider_id >= ?3 AND provider_id < ?4 LIMIT ?5)
		LIMIT ?5`, t, hi(t), pid, hi(pid), FindLimit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []any
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}
