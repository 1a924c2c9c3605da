package belvo_test

import (
	"context"
	"testing"
	"time"

	"github.com/relink/relink/provider"
	"github.com/relink/relink/provider/belvo"
	"github.com/relink/relink/provider/sandbox"
)

// BenchmarkBelvoSync100k lists 100,000 links through the real client and
// the emulator on loopback, at the client's default page size (1,000).
func BenchmarkBelvoSync100k(b *testing.B) {
	const links = 100_000
	emu, err := sandbox.NewBelvo(sandbox.BelvoOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer emu.Close()
	statuses := []string{"valid", "valid", "valid", "invalid", "token_required", "unconfirmed"}
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range links {
		if _, err := emu.AddConnection(sandbox.Connection{Code: statuses[i%len(statuses)],
			Institution: "erebor_mx_retail", CreatedAt: base.Add(time.Duration(i) * time.Second)}); err != nil {
			b.Fatal(err)
		}
	}
	id, pw := emu.Credentials()
	c, err := belvo.New(belvo.Config{BaseURL: emu.URL(), SecretID: id, SecretPassword: pw})
	if err != nil {
		b.Fatal(err)
	}
	startReqs := emu.Requests()
	runs := 0
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		n := 0
		if _, err := c.Sync(context.Background(), nil, "", func(provider.Observation) error {
			n++
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		if n != links {
			b.Fatalf("%d observations, want %d", n, links)
		}
		runs++
	}
	elapsed := b.Elapsed()
	b.ReportMetric(float64(elapsed.Nanoseconds())/float64(runs*links), "ns/conn")
	b.ReportMetric(float64(emu.Requests()-startReqs)/elapsed.Seconds(), "req/s")
}
