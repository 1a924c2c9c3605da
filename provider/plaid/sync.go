package plaid

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"sync"

	"github.com/relink/relink/provider"
)

// maxServerErrorsInARow 5xx answers in a row stop a Sync: Plaid is down.
const maxServerErrorsInARow = 20

// syncWorkers bounds the /item/get calls in flight during a Sync. At real
// Plaid latencies (200–300 ms a call) 32 workers can exceed 5,000 calls a
// minute, so the rate limiter, not the worker count, sets the pace.
const syncWorkers = 32

// Sync polls every conn with /item/get, syncWorkers at a time, within the
// per-client and per-Item rate limits, and calls emit once per conn (from
// the calling goroutine, one at a time, in completion order). A failure of
// one connection is its observation; a failure of Plaid as a whole (bad keys,
// a bad request, Plaid down or unreachable) or of emit stops the sync and is
// returned. Plaid has no change feed: cursor is unused and "" is returned.
func (c *Client) Sync(ctx context.Context, conns iter.Seq[provider.Conn], _ string, emit func(provider.Observation) error) (string, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	type result struct {
		id  string
		obs provider.Observation
		err error
	}
	jobs := make(chan provider.Conn)
	results := make(chan result)
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(jobs)
		for conn := range conns {
			select {
			case jobs <- conn:
			case <-ctx.Done():
				return
			}
		}
	})
	for range syncWorkers {
		wg.Go(func() {
			for conn := range jobs {
				obs, err := c.poll(ctx, conn, true)
				select {
				case results <- result{conn.ProviderID, obs, err}:
				case <-ctx.Done():
					return
				}
			}
		})
	}
	go func() { wg.Wait(); close(results) }()

	var failed error
	// One Item's 5xx (after the client's retries) is that Item's
	// provider_error, but a run of them means Plaid itself is down: they are
	// held back until a success shows Plaid is up, and dropped if the run
	// reaches maxServerErrorsInARow.
	var held []provider.Observation
	release := func() error {
		for _, o := range held {
			if err := emit(o); err != nil {
				return fmt.Errorf("plaid: recording the observation of %s: %w", o.ProviderID, err)
			}
		}
		held = held[:0]
		return nil
	}
	for r := range results {
		if failed != nil {
			continue // draining after a failure
		}
		var pe *provider.Error
		if r.err != nil && errors.As(r.err, &pe) && pe.Status >= 500 && pe.Signal != nil && len(held) < maxServerErrorsInARow-1 {
			held = append(held, provider.Observation{ProviderID: r.id, Kind: "api_error", Signal: *pe.Signal})
			continue
		}
		if r.err == nil {
			r.err = release()
		}
		if r.err == nil {
			if err := emit(r.obs); err != nil {
				r.err = fmt.Errorf("plaid: recording the observation of %s: %w", r.id, err)
			}
		}
		if r.err != nil {
			failed = r.err
			cancel()
		}
	}
	if failed != nil {
		return "", failed
	}
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("plaid: sync stopped: %w", err)
	}
	return "", release()
}
