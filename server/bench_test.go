package server

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/relink/relink/provider/cobalt"
	"github.com/relink/relink/store"
)

// loadClients is how many webhook senders post at once.
const loadClients = 64

// BenchmarkWebhookLoad posts b.N distinct, validly signed webhooks from
// loadClients concurrent clients over loopback to a server with a real
// SQLite cache of 2,000 registered connections, and reports the sustained
// rate of verified, stored and acknowledged events, the acknowledgement
// latency, and the events per transaction. Every request must get 200 and
// every event must be in the events table afterwards. Run it as
//
//	go test -run '^$' -bench WebhookLoad -benchtime 20000x -cpu 2 ./server
func BenchmarkWebhookLoad(b *testing.B) {
	for _, kind := range []string{"cobalt", "plaid", "mixed"} {
		b.Run(kind, func(b *testing.B) { benchLoad(b, kind) })
	}
}

type loadRequest struct {
	path   string
	body   []byte
	header http.Header
}

func benchLoad(b *testing.B, kind string) {
	e := newEnv(b, func(c *Config) { c.Logger = slog.New(slog.NewJSONHandler(io.Discard, nil)) })
	const conns = 1000
	regs := make([]store.Registration, 0, 2*conns)
	for i := range conns {
		regs = append(regs, store.Registration{Provider: "cobalt", ProviderID: fmt.Sprintf("clinic_%d", i)},
			store.Registration{Provider: "plaid", ProviderID: fmt.Sprintf("item_%d", i)})
	}
	e.register(regs...)

	secret := e.cobalt.WebhookSecret()
	t0 := time.Now().Add(-time.Minute)
	reqs := make([]loadRequest, b.N+1) // +1: a warm-up that fetches Plaid's key
	for i := range reqs {
		plaidOne := kind == "plaid" || (kind == "mixed" && i%2 == 1) || i == b.N
		if plaidOne {
			code := []string{"ITEM_LOGIN_REQUIRED", "ITEM_LOCKED"}[i/conns%2]
			body, _ := json.Marshal(map[string]any{"webhook_type": "ITEM", "webhook_code": "ERROR",
				"item_id": fmt.Sprintf("item_%d", i%conns), "environment": "production",
				"error": map[string]any{"error_type": "ITEM_ERROR", "error_code": code, "status": 400,
					"error_message": fmt.Sprintf("delivery %d", i), "display_message": nil}})
			reqs[i] = loadRequest{"/webhooks/plaid", body, e.plaidHeader(body)}
			continue
		}
		ref := fmt.Sprintf("clinic_%d", i%conns)
		data := loginRequired(ref)
		if i/conns%2 == 1 {
			data["error_type"] = "password_expired"
		}
		body := cobaltBody(b, fmt.Sprintf("evt_%d", i), ref, "access_token.login_required", t0.Add(time.Duration(i)*time.Microsecond), data)
		reqs[i] = loadRequest{"/webhooks/cobalt", body, http.Header{cobalt.SignatureHeader: {hmacHex(secret, body)}}}
	}
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		MaxIdleConnsPerHost: loadClients, MaxConnsPerHost: loadClients, DisableCompression: true}}
	defer hc.CloseIdleConnections()
	send := func(r loadRequest) error {
		req, _ := http.NewRequest(http.MethodPost, e.base+r.path, strings.NewReader(string(r.body)))
		req.Header = r.header.Clone()
		req.Header.Set("Content-Type", "application/json")
		resp, err := hc.Do(req)
		if err != nil {
			return err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("%s: status %d", r.path, resp.StatusCode)
		}
		return nil
	}
	if err := send(reqs[b.N]); err != nil {
		b.Fatal(err)
	}
	batches0, events0, busy0 := e.srv.m.batches.Load(), e.srv.m.batchEvents.Load(), e.srv.m.storeNS.Load()

	lat := make([][]time.Duration, loadClients)
	var next atomic.Int64
	var failed atomic.Value
	var wg sync.WaitGroup
	var depthSum, depthN atomic.Int64
	sampling := make(chan struct{})
	go func() {
		for {
			select {
			case <-sampling:
				return
			case <-time.After(time.Millisecond):
				depthSum.Add(int64(len(e.srv.w.in)))
				depthN.Add(1)
			}
		}
	}()
	b.ResetTimer()
	start := time.Now()
	for c := range loadClients {
		wg.Go(func() {
			mine := make([]time.Duration, 0, b.N/loadClients+1)
			for i := int(next.Add(1) - 1); i < b.N; i = int(next.Add(1) - 1) {
				t := time.Now()
				if err := send(reqs[i]); err != nil {
					failed.Store(err)
					return
				}
				mine = append(mine, time.Since(t))
			}
			lat[c] = mine
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	close(sampling)
	b.ReportMetric(float64(depthSum.Load())/float64(max(1, depthN.Load())), "queue-depth")
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
	if got, want := e.events(), b.N+1; got != want {
		b.Fatalf("%d events stored, want %d: events were lost", got, want)
	}
	all := slices.Concat(lat...)
	slices.Sort(all)
	pct := func(p float64) float64 {
		return float64(all[min(len(all)-1, int(p*float64(len(all))))]) / float64(time.Millisecond)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(100*float64(e.srv.m.storeNS.Load()-busy0)/float64(elapsed), "writer-busy-%")
	b.ReportMetric(float64(e.srv.m.batchEvents.Load()-events0)/float64(max(1, e.srv.m.batches.Load()-batches0)), "events/tx")
}
