package ui

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/relink/relink/health"
	"github.com/relink/relink/store"
)

// The benchmarks run against a real cache of RELINK_BENCH_ROWS connections
// (default 1000), 8% failing, the rest not checked yet. Building a big one takes a while:
// RELINK_BENCH_DB=path keeps it between runs.
//
//	RELINK_BENCH_ROWS=1000000 RELINK_BENCH_DB=/tmp/relink-1m.db go test ./ui -run '^$' -bench . -benchmem
func benchStore(b *testing.B) *store.Store {
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
	st, err := store.Open(ctx, path, store.Options{Now: func() time.Time { return epoch }})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	if statErr == nil {
		return st // built by an earlier run
	}
	insts := []string{"Chase", "Wells Fargo", "Bank of America", "Citi", "Banco Azul", "Nubank", "mychart.example.org"}
	cats := []health.Category{health.LoginRequired, health.MFARequired, health.AccountLocked, health.PasswordExpired,
		health.InstitutionDown, health.ConsentExpired}
	const batch = 20000
	for from := 0; from < n; from += batch {
		im, err := st.BeginImport(ctx, "bench")
		if err != nil {
			b.Fatal(err)
		}
		var obs []store.Observation
		for i := from; i < min(n, from+batch); i++ {
			prov := []string{"plaid", "belvo", "cobalt"}[i%3]
			pid := fmt.Sprintf("%s-%07d", prov, i)
			if err := im.Add(ctx, store.Registration{Provider: prov, ProviderID: pid, UserRef: fmt.Sprintf("u%07d", i),
				Name: fmt.Sprintf("User %07d", i), Email: fmt.Sprintf("user%d@example.com", i), Institution: insts[i%len(insts)]}); err != nil {
				b.Fatal(err)
			}
			if i%25 >= 2 {
				continue // 8% fail; the others stay registered and unchecked: they cost the failing views nothing
			}
			cat := cats[(i/25*2+i%25)%len(cats)]
			obs = append(obs, store.Observation{Provider: prov, ProviderID: pid, Kind: "poll", Signal: health.Signal{
				Effect: health.SetPrimary, Category: cat, ProviderCode: "CODE_" + string(cat), Source: health.SourcePoll,
				ObservedAt: epoch.Add(-time.Duration(i%(14*24*60)) * time.Minute)}})
		}
		if err := im.Commit(ctx, "bench"); err != nil {
			b.Fatal(err)
		}
		if _, err := st.Apply(ctx, obs); err != nil {
			b.Fatal(err)
		}
	}
	return st
}

// BenchmarkFirstFrame: from New to the first frame with the rows, counts
// and insights read.
func BenchmarkFirstFrame(b *testing.B) {
	st := benchStore(b)
	b.ResetTimer()
	for b.Loop() {
		h := newHarness(b, st, Options{}, 120, 35)
		if h.m.total == 0 || h.m.render() == "" {
			b.Fatal("no rows")
		}
	}
}

// BenchmarkNavigate: one key press (j, with the page reads it causes) and the frame after it.
func BenchmarkNavigate(b *testing.B) {
	h := newHarness(b, benchStore(b), Options{}, 120, 35)
	down, up := keyPress("j"), keyPress("k")
	i := 0
	b.ResetTimer()
	for b.Loop() {
		k := down
		if (i/500)%2 == 1 {
			k = up
		}
		i++
		h.send(k)
		_ = h.m.render()
	}
}

// BenchmarkFilterKeystroke: one key typed into the filter, the debounced
// query through the store, and the frame after it, with the count. "wells"
// matches one row in seven; "user 00123" a handful, so it reads them all.
// The rows-only variants stop at the frame with the rows, which the
// dashboard draws before the count comes.
func BenchmarkFilterKeystroke(b *testing.B) {
	for _, text := range []string{"wells", "user 00123"} {
		b.Run(text, func(b *testing.B) { benchFilter(b, text) })
		b.Run(text+"/rows-only", func(b *testing.B) { benchFilterRows(b, text) })
	}
}

func benchFilterRows(b *testing.B, text string, keys ...string) {
	h := newHarness(b, benchStore(b), Options{}, 120, 35)
	pressOrder(b, h, keys...)
	i := 0
	b.ResetTimer()
	for b.Loop() {
		h.m.filter.SetValue(text[:1+i%len(text)])
		i++
		h.run(h.m.pageCmd(false))
		_ = h.m.render()
	}
}

func benchFilter(b *testing.B, text string, keys ...string) {
	h := newHarness(b, benchStore(b), Options{}, 120, 35)
	pressOrder(b, h, keys...)
	h.press("/")
	i := 0
	b.ResetTimer()
	for b.Loop() {
		if i%len(text) == 0 {
			h.m.filter.Reset()
		}
		h.send(tea.KeyPressMsg{Code: rune(text[i%len(text)]), Text: string(text[i%len(text)])})
		i++
		h.advance(filterDebounce)
		_ = h.m.render()
	}
}

// BenchmarkJumpEnds: G then g, alternately: the pages at the far end of the
// failing connections (a deep OFFSET) and back at the top.
func BenchmarkJumpEnds(b *testing.B) { benchJumpEnds(b) }

func benchJumpEnds(b *testing.B, keys ...string) {
	h := newHarness(b, benchStore(b), Options{}, 120, 35)
	pressOrder(b, h, keys...)
	ends := []tea.KeyPressMsg{keyPress("G"), keyPress("g")}
	i := 0
	b.ResetTimer()
	for b.Loop() {
		h.send(ends[i%2])
		i++
		_ = h.m.render()
	}
}

// BenchmarkAllFailingSorted: the all-failing group (the first screen's)
// in its other orders: by user name (s), by institution (s s) and longest
// failing last (S): the filter keystrokes and the jumps to the ends, as
// BenchmarkFilterKeystroke and BenchmarkJumpEnds measure them in the
// default order.
func BenchmarkAllFailingSorted(b *testing.B) {
	for _, o := range []struct {
		name string
		keys []string
	}{{"name", []string{"s"}}, {"institution", []string{"s", "s"}}, {"since-desc", []string{"S"}}} {
		for _, text := range []string{"wells", "user 00123"} {
			b.Run(o.name+"/"+text, func(b *testing.B) { benchFilter(b, text, o.keys...) })
			b.Run(o.name+"/"+text+"/rows-only", func(b *testing.B) { benchFilterRows(b, text, o.keys...) })
		}
		b.Run(o.name+"/jump-ends", func(b *testing.B) { benchJumpEnds(b, o.keys...) })
	}
}

// pressOrder presses keys that change the order of the group on screen.
func pressOrder(b *testing.B, h *harness, keys ...string) {
	b.Helper()
	h.press(keys...)
	if len(keys) > 0 && h.m.sort == store.SortSince && !h.m.desc {
		b.Fatalf("%q left the default order", keys)
	}
}

// BenchmarkFindAnyone: an email typed into the lookup of anyone (e), a key
// at a time, each with the debounced lookup, its count and the frame after
// it; the connection is found among all of them, whatever its state.
func BenchmarkFindAnyone(b *testing.B) {
	h := newHarness(b, benchStore(b), Options{}, 120, 35)
	email := fmt.Sprintf("user%d@example.com", h.m.counts.Total*3/7)
	h.press("e")
	i := 0
	b.ResetTimer()
	for b.Loop() {
		if i%len(email) == 0 {
			h.m.filter.Reset()
		}
		h.send(tea.KeyPressMsg{Code: rune(email[i%len(email)]), Text: string(email[i%len(email)])})
		i++
		h.advance(filterDebounce)
		if h.m.total == 0 {
			b.Fatalf("%q found nobody", h.m.filter.Value())
		}
		_ = h.m.render()
	}
}

// BenchmarkKeyFrame: j and k alternately (the cursor moves, no page is read)
// and the frame after each: the key path of the SSH sessions' benchmark
// (sshd.BenchmarkSessions), the dashboard's own share of it.
func BenchmarkKeyFrame(b *testing.B) {
	h := newHarness(b, benchStore(b), Options{}, 120, 35)
	keys := []tea.KeyPressMsg{keyPress("j"), keyPress("k")}
	i := 0
	b.ResetTimer()
	for b.Loop() {
		h.send(keys[i%2])
		i++
		_ = h.m.render()
	}
}
