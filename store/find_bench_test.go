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
	"unicode"

	"github.com/relink/relink/health"
)

// The lookup of anyone (GroupEveryone) at RELINK_BENCH_ROWS connections
// (default 1000), 8% failing, the rest not checked yet: the indexes the
// store uses (migration 0008), against the alternative they were chosen
// over, an FTS5 index (external content) over the same fields and the
// institution, built by the benchmark. RELINK_BENCH_DB=path keeps the
// cache between runs (the FTS5 table is added to it).
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

// finder is one way to look anyone up: the ids it finds for a text.
type finder struct {
	name string
	ids  func(ctx context.Context, st *Store, text string) (int, error) // rows of a page of 90, and the count
}

// shipped is the store's lookup, as the dashboard runs it: a page, then the count.
var shipped = finder{"index", func(ctx context.Context, st *Store, text string) (int, error) {
	pq := PageQuery{Group: Group{Kind: GroupEveryone}, Filter: text, Limit: 90}
	rows, err := st.Page(ctx, pq)
	if err != nil {
		return 0, err
	}
	if _, err := st.CountPage(ctx, pq); err != nil {
		return 0, err
	}
	return len(rows), nil
}}

// fts5 is the alternative: the same page and count through an FTS5 index
// (bench_find, built on first use) over name, email, user ref, CONN ref and
// institution, with prefix indexes of 1 to 4 characters. Each word is a
// phrase of its letters and digits, the last one's last part a prefix; a
// last part longer than 4 is looked up by its first 4 and the word checked
// whole (LIKE), as a longer prefix merges the lists of every word it starts
// ("user"* over a million emails took 440 ms without its prefix index).
func fts5(b *testing.B, st *Store) finder {
	ctx := context.Background()
	var have int
	st.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_schema WHERE name = 'bench_find'`).Scan(&have)
	if have == 0 {
		start := time.Now()
		for _, q := range []string{
			`ALTER TABLE connections ADD COLUMN bench_ref TEXT GENERATED ALWAYS AS (provider || ':' || provider_id) VIRTUAL`,
			`CREATE VIRTUAL TABLE bench_find USING fts5 (name, email, user_ref, bench_ref, institution,
				content = 'connections', content_rowid = 'id', tokenize = 'unicode61 remove_diacritics 2', prefix = '1 2 3 4')`,
			`INSERT INTO bench_find (bench_find) VALUES ('rebuild')`,
		} {
			if _, err := st.db.ExecContext(ctx, q); err != nil {
				b.Fatal(err)
			}
		}
		b.Logf("FTS5 index built in %s", time.Since(start).Round(time.Millisecond))
	}
	return finder{"fts5", func(ctx context.Context, st *Store, text string) (int, error) {
		expr, like := ftsMatch(text)
		q := `SELECT c.id FROM bench_find f JOIN connections c ON c.id = f.rowid WHERE bench_find MATCH ?`
		args := []any{expr}
		for _, l := range like {
			q += ` AND lower(c.name || ' ' || c.email || ' ' || c.user_ref || ' ' || c.bench_ref || ' ' || c.institution) LIKE ? ESCAPE '\'`
			args = append(args, l)
		}
		q += ` LIMIT ` + strconv.Itoa(FindLimit)
		rows, err := st.db.QueryContext(ctx, `SELECT `+connColumns+` FROM connections WHERE id IN (`+q+`) ORDER BY failing DESC, first_failed_at, name, id LIMIT 90`, args...)
		if err != nil {
			return 0, err
		}
		got := 0
		for rows.Next() {
			if _, err := scanConnection(rows); err != nil {
				rows.Close()
				return 0, err
			}
			got++
		}
		rows.Close()
		var n int
		return got, st.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM (`+q+`)`, args...).Scan(&n)
	}}
}

func ftsMatch(filter string) (string, []string) {
	words := strings.Fields(filter)
	var phrases, like []string
	for i, word := range words {
		parts := strings.FieldsFunc(word, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsNumber(r) })
		if len(parts) == 0 {
			continue
		}
		star := ""
		if i == len(words)-1 {
			star = "*"
			if tail := []rune(parts[len(parts)-1]); len(parts) > 1 && len(tail) > 4 {
				parts[len(parts)-1] = string(tail[:4])
				like = append(like, "%"+escapeLike(strings.ToLower(word))+"%")
			}
		}
		phrases = append(phrases, `"`+strings.Join(parts, " ")+`"`+star)
	}
	return strings.Join(phrases, " AND "), like
}

// BenchmarkFind1M: one lookup (a page of 90, then the count), by each way.
func BenchmarkFind1M(b *testing.B) {
	st, n := findBenchStore(b)
	ctx := context.Background()
	for _, f := range []finder{shipped, fts5(b, st)} {
		b.Run(f.name, func(b *testing.B) {
			for _, q := range findBenchQueries(n) {
				b.Run(q.name, func(b *testing.B) {
					for b.Loop() {
						got, err := f.ids(ctx, st, q.text)
						if err != nil {
							b.Fatal(err)
						}
						if got == 0 {
							b.Fatalf("%q found nobody", q.text)
						}
					}
				})
			}
		})
	}
}

// BenchmarkFindTyping1M: an email typed a key at a time, each prefix looked
// up; the figure is per keystroke, and max-ms the slowest keystroke (after
// one pass that reads the pages in).
func BenchmarkFindTyping1M(b *testing.B) {
	st, n := findBenchStore(b)
	ctx := context.Background()
	email := findBenchQueries(n)[0].text
	for _, f := range []finder{shipped, fts5(b, st)} {
		b.Run(f.name, func(b *testing.B) {
			for i := 1; i <= len(email); i++ {
				if _, err := f.ids(ctx, st, email[:i]); err != nil {
					b.Fatal(err)
				}
			}
			slowest, i := time.Duration(0), 0
			for b.Loop() {
				t := time.Now()
				if _, err := f.ids(ctx, st, email[:1+i%len(email)]); err != nil {
					b.Fatal(err)
				}
				i++
				slowest = max(slowest, time.Since(t))
			}
			b.ReportMetric(float64(slowest.Microseconds())/1000, "max-ms")
		})
	}
}
