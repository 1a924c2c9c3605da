package plaid

import (
	"context"
	"fmt"
	"sync"

	"golang.org/x/time/rate"
)

// limits paces /item/get under Plaid's per-client and per-Item limits.
type limits struct {
	client    *rate.Limiter
	itemRate  rate.Limit
	itemBurst int

	mu      sync.Mutex
	items   map[string]*rate.Limiter
	sweepAt int // prune idle item limiters when the map reaches this size
}

const minSweep = 1024

// perMinute turns "n per minute" into a token bucket that never lets more
// than n through in any 60-second window: a burst of about one second's
// worth, refilled at the rest of the minute's budget.
func perMinute(n int) (rate.Limit, int) {
	burst := max(1, n/60)
	refill := n - burst
	if refill <= 0 {
		refill = n
	}
	return rate.Limit(float64(refill) / 60), burst
}

func newLimits(clientPerMinute, itemPerMinute int) *limits {
	cr, cb := perMinute(clientPerMinute)
	ir, ib := perMinute(itemPerMinute)
	return &limits{client: rate.NewLimiter(cr, cb), itemRate: ir, itemBurst: ib,
		items: map[string]*rate.Limiter{}, sweepAt: minSweep}
}

// wait blocks until one more /item/get for itemID may be sent ("" skips the
// per-Item limit) or ctx ends.
func (l *limits) wait(ctx context.Context, itemID string) error {
	if itemID != "" {
		if err := l.item(itemID).Wait(ctx); err != nil {
			return fmt.Errorf("plaid: waiting for item %s's rate limit: %w", itemID, err)
		}
	}
	if err := l.client.Wait(ctx); err != nil {
		return fmt.Errorf("plaid: waiting for the client rate limit: %w", err)
	}
	return nil
}

func (l *limits) item(id string) *rate.Limiter {
	l.mu.Lock()
	defer l.mu.Unlock()
	if lim, ok := l.items[id]; ok {
		return lim
	}
	if len(l.items) >= l.sweepAt {
		// A limiter whose bucket is full again remembers nothing: drop it.
		for k, lim := range l.items {
			if lim.Tokens() >= float64(l.itemBurst) {
				delete(l.items, k)
			}
		}
		l.sweepAt = max(minSweep, 2*len(l.items))
	}
	lim := rate.NewLimiter(l.itemRate, l.itemBurst)
	l.items[id] = lim
	return lim
}
