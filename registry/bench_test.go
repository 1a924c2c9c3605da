package registry_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/relink/relink/health"
	"github.com/relink/relink/registry"
	"github.com/relink/relink/store"
	"github.com/relink/relink/vault"
)

// benchRows is 1,000,000 unless RELINK_BENCH_ROWS says otherwise.
func benchRows() int {
	if v, err := strconv.Atoi(os.Getenv("RELINK_BENCH_ROWS")); err == nil && v > 0 {
		return v
	}
	return 1_000_000
}

var institutions = []string{"First Platypus Bank", "Banco Azul", "Chase", "Tartan Bank", "Houndstooth Bank",
	"Banco del Sol", "Nubank", "Itaú", "eClinicalWorks", "Epic", "athenahealth", "Gingham Credit Union"}

func registryCSV(n int) []byte {
	var b bytes.Buffer
	b.Grow(n * 120)
	b.WriteString("provider,provider_id,access_token,user_ref,name,email,phone,institution\n")
	provs := []string{"plaid", "belvo", "cobalt"}
	for i := 0; i < n; i++ {
		p := provs[i%3]
		tok := ""
		if p != "belvo" {
			tok = fmt.Sprintf("access-sandbox-%012d", i)
		}
		fmt.Fprintf(&b, "%s,id%09d,%s,user-%d,User %d,user%d@example.com,+1555%07d,%s\n", p, i, tok, i, i, i, i%10_000_000, institutions[(i/7)%len(institutions)])
	}
	return b.Bytes()
}

func openBench(b *testing.B, dir string) *store.Store {
	key, _, _ := vault.Generate()
	st, err := store.Open(context.Background(), filepath.Join(dir, "bench.db"), store.Options{Sealer: key})
	if err != nil {
		b.Fatal(err)
	}
	return st
}

// BenchmarkImport1M imports the registry (CSV parse, validation, token
// encryption, upsert, count triggers) into an empty cache.
func BenchmarkImport1M(b *testing.B) {
	n := benchRows()
	data := registryCSV(n)
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		st := openBench(b, b.TempDir())
		b.StartTimer()
		res, err := registry.Import(context.Background(), st, bytes.NewReader(data), "bench.csv", "bench", registry.Defaults{CobaltOrgID: "org_bench"})
		if err != nil || res.Rows != n {
			b.Fatalf("import: %d rows, %v", res.Rows, err)
		}
		b.StopTimer()
		st.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(n)/(b.Elapsed().Seconds()/float64(b.N)), "rows/s")
}

var (
	queryOnce  sync.Once
	queryStore *store.Store
	queryDir   string
)

// queryCache is one cache of benchRows() connections, imported and then
// given realistic health: ~8% failing across categories, a spike at one
// institution, some warnings.
func queryCache(b *testing.B) *store.Store {
	queryOnce.Do(func() {
		dir, err := os.MkdirTemp("", "relink-bench")
		if err != nil {
			b.Fatal(err)
		}
		queryDir = dir
		st := openBench(b, dir)
		if _, err := registry.Import(context.Background(), st, bytes.NewReader(registryCSV(benchRows())), "bench.csv", "bench", registry.Defaults{CobaltOrgID: "org_bench"}); err != nil {
			b.Fatal(err)
		}
		now := time.Now()
		var batch []store.Observation
		cats := []health.Category{health.LoginRequired, health.LoginRequired, health.MFARequired, health.AccountLocked,
			health.PasswordExpired, health.ConsentExpired, health.InstitutionDown, health.NotFound}
		for i := 0; i < benchRows(); i++ {
			cat := health.Healthy
			if i%12 == 0 {
				cat = cats[(i/12)%len(cats)]
			}
			p := []string{"plaid", "belvo", "cobalt"}[i%3]
			batch = append(batch, store.Observation{Provider: p, ProviderID: fmt.Sprintf("id%09d", i), Kind: "poll",
				Signal: health.Signal{Effect: health.SetPrimary, Category: cat, ProviderCode: string(cat), Source: health.SourcePoll,
					ObservedAt: now.Add(-time.Duration(i%(14*24)) * time.Hour)}})
			if len(batch) == 5000 {
				if _, err := st.Apply(context.Background(), batch); err != nil {
					b.Fatal(err)
				}
				batch = batch[:0]
			}
		}
		if _, err := st.Apply(context.Background(), batch); err != nil {
			b.Fatal(err)
		}
		queryStore = st
	})
	return queryStore
}

func BenchmarkCounts1M(b *testing.B) {
	st := queryCache(b)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c, err := st.Counts(ctx)
		if err != nil || c.Total != benchRows() {
			b.Fatalf("counts %+v %v", c, err)
		}
	}
}

func benchPage(b *testing.B, q store.PageQuery) {
	st := queryCache(b)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rows, err := st.Page(ctx, q)
		if err != nil || len(rows) != 50 {
			b.Fatalf("page: %d rows, %v", len(rows), err)
		}
	}
}

func BenchmarkFirstPage1M(b *testing.B) {
	benchPage(b, store.PageQuery{Group: store.Group{Kind: store.GroupCategory, Category: health.LoginRequired}, Limit: 50})
}

func BenchmarkFirstPageAllFailing1M(b *testing.B) {
	benchPage(b, store.PageQuery{Group: store.Group{Kind: store.GroupAllFailing}, Limit: 50})
}

func BenchmarkFirstPageByName1M(b *testing.B) {
	benchPage(b, store.PageQuery{Group: store.Group{Kind: store.GroupCategory, Category: health.LoginRequired}, Sort: store.SortName, Limit: 50})
}

func BenchmarkFilteredPage1M(b *testing.B) {
	benchPage(b, store.PageQuery{Group: store.Group{Kind: store.GroupCategory, Category: health.LoginRequired}, Filter: "banco azul", Limit: 50})
}

func BenchmarkBreakdown1M(b *testing.B) {
	st := queryCache(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := st.Breakdown(context.Background(), health.LoginRequired, 20); err != nil {
			b.Fatal(err)
		}
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	if queryStore != nil {
		queryStore.Close()
		os.RemoveAll(queryDir)
	}
	os.Exit(code)
}
