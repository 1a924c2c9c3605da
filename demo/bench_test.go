package demo

import (
	"context"
	"testing"
	"time"

	"github.com/relink/relink/health"
)

// BenchmarkStart3000 is relink --demo's start: emulators, 3,000 connections
// seeded with their month of history, the first sync.
func BenchmarkStart3000(b *testing.B) {
	for b.Loop() {
		e, err := Start(context.Background(), Options{Connections: 3000, Dir: b.TempDir(), Handler: accept})
		if err != nil {
			b.Fatal(err)
		}
		e.Close()
	}
}

// BenchmarkFunnel3000 is F's read (and relink report's) over the demo's
// 3,000 connections and their month of history.
func BenchmarkFunnel3000(b *testing.B) {
	ctx := context.Background()
	e, err := Start(ctx, Options{Connections: 3000, Dir: b.TempDir(), Handler: accept})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	since := e.Backend.Now().Add(-30 * 24 * time.Hour)
	for b.Loop() {
		if _, err := e.Store.Funnel(ctx, since, health.Topics()); err != nil {
			b.Fatal(err)
		}
	}
}
