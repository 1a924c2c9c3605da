package backend_test

import (
	"context"
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/relink/relink/backend"
	"github.com/relink/relink/provider"
	"github.com/relink/relink/provider/belvo"
	"github.com/relink/relink/provider/plaid"
	"github.com/relink/relink/provider/sandbox"
	"github.com/relink/relink/store"
	"github.com/relink/relink/vault"
)

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func benchStore(b *testing.B) *store.Store {
	key, _, _ := vault.Generate()
	st, err := store.Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"), store.Options{Sealer: key})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	return st
}

// report records wall and CPU per connection and requests per second. CPU
// is the whole process: our client, store and the emulator serving it.
func report(b *testing.B, n int, reqs int64, wall, cpu time.Duration) {
	b.ReportMetric(float64(wall.Milliseconds())/float64(b.N), "ms/sync")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*n)/1000, "cpu-µs/conn")
	b.ReportMetric(float64(reqs)/wall.Seconds(), "req/s")
}

// BenchmarkSyncBelvo100k: backend.Sync of 100,000 Belvo links from the
// emulator into the cache (listing, mapping, storing).
func BenchmarkSyncBelvo100k(b *testing.B) {
	const n = 100_000
	emu, err := sandbox.NewBelvo(sandbox.BelvoOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer emu.Close()
	for i := 0; i < n; i++ {
		status := "valid"
		if i%10 == 0 {
			status = "invalid"
		}
		if _, err := emu.AddConnection(sandbox.Connection{ID: fmt.Sprintf("link-%06d", i), Code: status, Institution: "erebor_mx_retail"}); err != nil {
			b.Fatal(err)
		}
	}
	id, pw := emu.Credentials()
	c, err := belvo.New(belvo.Config{BaseURL: emu.URL(), SecretID: id, SecretPassword: pw})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	var wall, cpu time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		d := &backend.Backend{Store: benchStore(b), Providers: map[string]provider.Provider{"belvo": c}, Operator: "bench"}
		b.StartTimer()
		start, c0 := time.Now(), cpuTime()
		reps, err := d.Sync(context.Background(), nil, nil)
		wall, cpu = wall+time.Since(start), cpu+cpuTime()-c0
		if err != nil || reps[0].Seen != n {
			b.Fatalf("sync: %+v %v", reps, err)
		}
	}
	report(b, n, emu.Requests(), wall, cpu)
}

// BenchmarkSyncPlaid10k: backend.Sync of 10,000 Plaid Items (one /item/get
// each) with the rate limits lifted, so it measures our cost; with Plaid's
// published 5,000/min per client the same sync takes at least 2 minutes.
func BenchmarkSyncPlaid10k(b *testing.B) {
	const n = 10_000
	emu, err := sandbox.NewPlaid(sandbox.PlaidOptions{PerItemPerMinute: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer emu.Close()
	st := benchStore(b)
	ctx := context.Background()
	im, _ := st.BeginImport(ctx, "bench")
	for i := 0; i < n; i++ {
		conn := sandbox.Connection{ID: fmt.Sprintf("item-%05d", i), AccessToken: fmt.Sprintf("access-sandbox-%05d", i), Institution: "Tartan Bank"}
		if i%10 == 0 {
			conn.Code = "ITEM_LOGIN_REQUIRED"
		}
		if _, err := emu.AddConnection(conn); err != nil {
			b.Fatal(err)
		}
		im.Add(ctx, store.Registration{Provider: "plaid", ProviderID: conn.ID, AccessToken: conn.AccessToken})
	}
	if err := im.Commit(ctx, "bench"); err != nil {
		b.Fatal(err)
	}
	pid, secret := emu.Credentials()
	c, err := plaid.New(plaid.Config{BaseURL: emu.URL(), ClientID: pid, Secret: secret, ClientName: "bench", Language: "en",
		CountryCodes: []string{"US"}, HostedLink: true, PerItemPerMinute: 1_000_000, PerClientPerMinute: 100_000_000})
	if err != nil {
		b.Fatal(err)
	}
	d := &backend.Backend{Store: st, Providers: map[string]provider.Provider{"plaid": c}, Operator: "bench"}
	b.ResetTimer()
	var wall, cpu time.Duration
	for i := 0; i < b.N; i++ {
		start, c0 := time.Now(), cpuTime()
		reps, err := d.Sync(ctx, nil, nil)
		wall, cpu = wall+time.Since(start), cpu+cpuTime()-c0
		if err != nil || reps[0].Seen != n {
			b.Fatalf("sync: %+v %v", reps, err)
		}
	}
	report(b, n, int64(n*b.N), wall, cpu)
}
