package plaid_test

import (
	"context"
	"slices"
	"testing"

	"github.com/relink/relink/provider"
	"github.com/relink/relink/provider/plaid"
	"github.com/relink/relink/provider/sandbox"
)

// BenchmarkPlaidSync10k syncs 10,000 Items from the emulator with every rate
// limit lifted, so it measures the client's (and the emulator's) CPU and
// loopback HTTP, not Plaid's limits. Under Plaid's production limit of
// 5,000 /item/get a minute the same sync takes at least two minutes.
func BenchmarkPlaidSync10k(b *testing.B) {
	const items = 10_000
	emu := newEmulator(b, sandbox.PlaidOptions{PerItemPerMinute: -1})
	conns := make([]provider.Conn, 0, items)
	codes := []string{"", "", "", "ITEM_LOGIN_REQUIRED", "INSTITUTION_DOWN"}
	for i := range items {
		conns = append(conns, addItem(b, emu, sandbox.Connection{Institution: "Bank", Code: codes[i%len(codes)]}))
	}
	c := newClient(b, emu, func(cfg *plaid.Config) {
		cfg.PerItemPerMinute, cfg.PerClientPerMinute = 1<<30, 1<<30
	})
	ctx := context.Background()
	for b.Loop() {
		n := 0
		if _, err := c.Sync(ctx, slices.Values(conns), "", func(provider.Observation) error { n++; return nil }); err != nil {
			b.Fatal(err)
		}
		if n != items {
			b.Fatalf("%d observations, want %d", n, items)
		}
	}
	total := float64(b.N) * items
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/total, "ns/conn")
	b.ReportMetric(total/b.Elapsed().Seconds(), "req/s")
}
