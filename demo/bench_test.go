package demo

import (
	"context"
	"testing"
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
