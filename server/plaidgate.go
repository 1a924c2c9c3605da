package server

import (
	"context"
	"sync"
)

// maxKnownKeys bounds the kids remembered as verified; Plaid rotates keys
// rarely, so the set is reset rather than pruned when it fills.
const maxKnownKeys = 64

// plaidGate lets only one request at a time verify with a key id the
// server has not verified with yet. plaid.Verifier fetches an unknown kid
// from Plaid for every request that carries it and refuses beyond its
// lookup budget, so a burst after start-up or a key rotation (every
// webhook with the new kid) would otherwise refuse most of the burst; with
// the gate the first request fetches the key and the others find it cached.
type plaidGate struct {
	v PlaidVerifier

	mu       sync.Mutex
	known    map[string]bool          // kids that verified a webhook
	inflight map[string]chan struct{} // a first verification with this kid is running
}

func newPlaidGate(v PlaidVerifier) *plaidGate {
	return &plaidGate{v: v, known: map[string]bool{}, inflight: map[string]chan struct{}{}}
}

// verify is v.Verify, one request at a time per unverified kid (the kid
// of header, as jwtKeyID reads it).
func (g *plaidGate) verify(ctx context.Context, kid, header string, body []byte) error {
	g.mu.Lock()
	for !g.known[kid] {
		wait, busy := g.inflight[kid]
		if !busy {
			done := make(chan struct{})
			g.inflight[kid] = done
			g.mu.Unlock()
			err := g.v.Verify(ctx, header, body)
			g.mu.Lock()
			delete(g.inflight, kid)
			if err == nil {
				if len(g.known) >= maxKnownKeys {
					clear(g.known)
				}
				g.known[kid] = true
			}
			close(done)
			g.mu.Unlock()
			return err
		}
		g.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return ctx.Err()
		}
		g.mu.Lock()
	}
	g.mu.Unlock()
	return g.v.Verify(ctx, header, body)
}
