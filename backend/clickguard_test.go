package backend

import (
	"fmt"
	"testing"
	"time"
)

// The remembered tokens and the limiters stay bounded, dropping what has
// ended first.
func TestClickGuardIsBounded(t *testing.T) {
	var g ClickGuard
	now := time.Now()
	for i := range maxReused + 100 {
		g.remember(clickKey{"db", fmt.Sprint(i)}, "https://provider.example/x", now, now.Add(time.Duration(i+60)*time.Minute))
	}
	if n := len(g.tokens); n != maxReused {
		t.Fatalf("%d tokens remembered, want %d", n, maxReused)
	}
	if _, ok := g.cached(clickKey{"db", "0"}, now); ok {
		t.Error("the token ending first was kept")
	}
	if _, ok := g.cached(clickKey{"db", fmt.Sprint(maxReused + 99)}, now); !ok {
		t.Error("the newest token was dropped")
	}
	// Reuse ends reuseMargin before the token does, or halfway through a
	// short-lived one (Belvo's widget tokens live 10 minutes).
	k := clickKey{"db", "short"}
	g.remember(k, "u", now, now.Add(10*time.Minute))
	if _, ok := g.cached(k, now.Add(4*time.Minute)); !ok {
		t.Error("a 10-minute token is not reused after 4 minutes")
	}
	if _, ok := g.cached(k, now.Add(5*time.Minute)); ok {
		t.Error("a 10-minute token is reused after 5 minutes")
	}
	long := clickKey{"db", "long"}
	g.remember(long, "u", now, now.Add(4*time.Hour))
	if _, ok := g.cached(long, now.Add(4*time.Hour-reuseMargin)); ok {
		t.Error("a token is reused within reuseMargin of its end")
	}

	for i := range maxLimiters {
		g.allowMint(clickKey{"db", fmt.Sprint(i)}, now)
	}
	g.allowMint(clickKey{"db", "one more"}, now.Add(time.Minute)) // the others are full again
	if n := len(g.limiters); n != 1 {
		t.Fatalf("%d limiters after a minute, want 1", n)
	}
}
