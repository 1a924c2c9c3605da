package sshd

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/relink/relink/provider/cobalt"
	"github.com/relink/relink/server"
	"github.com/relink/relink/store"
)

// hubLoadClients are the webhook senders, each on its own keep-alive
// connection: as many as server.BenchmarkWebhookLoad has
// (RELINK_BENCH_CLIENTS sets another number).
const hubLoadClients = 64

// BenchmarkHubLoad: relink serve's verified webhook ingestion (server, as
// relink serve runs it: HMAC-signed Cobalt events, verified, stored in
// group commits) into the cache that RELINK_BENCH_SESSIONS SSH sessions
// (default 50) read while they press keys as in BenchmarkSessions; every
// stored batch is the hub's Notify (server's OnStored, as relink serve
// wires it), so each session re-reads at once. It reports the verified,
// stored and acknowledged events per second while the sessions press,
// and the sessions' key-to-frame latencies meanwhile. With
// RELINK_BENCH_DB the cache is a copy of that file (the webhooks change
// it), else one of RELINK_BENCH_ROWS built for the run.
//
//	RELINK_BENCH_SESSIONS=50 RELINK_BENCH_ROWS=1000000 RELINK_BENCH_DB=/tmp/relink-ssh-1m.db RELINK_BENCH_PRESSES=100 \
//	  go test ./sshd -run '^$' -bench BenchmarkHubLoad -benchtime 1x
//
// RELINK_BENCH_SESSIONS=0 measures the ingestion alone for as long;
// RELINK_BENCH_TARGETS=n sends every event to one of n connections.
func BenchmarkHubLoad(b *testing.B) {
	sessions, rows, presses := envInt(b, "RELINK_BENCH_SESSIONS", 50), envInt(b, "RELINK_BENCH_ROWS", 10000), envInt(b, "RELINK_BENCH_PRESSES", 50)
	clients := envInt(b, "RELINK_BENCH_CLIENTS", hubLoadClients)
	st := hubLoadStore(b, rows)
	hub := startBenchHub(b, st, sessions, 3*time.Second)
	const secret = "bench-cobalt-webhook-secret"
	web, err := server.New(server.Config{Store: st, CobaltSecret: secret, OnStored: hub.srv.Notify,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- web.Serve(ctx, ln) }()
	defer func() { stop(); <-served }()

	// Login failures at cobalt connections spread over the cache (every
	// third connection is cobalt's), each event new; with
	// RELINK_BENCH_TARGETS=n they go to the first n cobalt connections
	// only, so that after the first n events each repeats a failure the
	// connection already has (only observed_at moves).
	cobalts := max(1, rows/3)
	if n := envInt(b, "RELINK_BENCH_TARGETS", 0); n > 0 {
		cobalts = min(cobalts, n)
	}
	flip := envInt(b, "RELINK_BENCH_FLIP", 0) == 1
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	t0 := time.Now().Add(-time.Minute)
	var seq atomic.Int64
	request := func() []byte {
		i := seq.Add(1)
		ref := fmt.Sprintf("cobalt-%07d", 3*(int(i*7919)%cobalts)+2)
		data := map[string]any{"access_token_reference_id": ref, "emr_instance_domain": "https://ehr.example.com", "message": "Please reconnect."}
		if flip && (i-1)/int64(cobalts)%2 == 1 {
			data["error_type"] = "password_expired"
		}
		body, _ := json.Marshal(map[string]any{"id": "evt_" + run + "_" + strconv.FormatInt(i, 10), "object": "event",
			"type": "access_token.login_required", "created": t0.Add(time.Duration(i) * time.Microsecond).UTC().Format("2006-01-02T15:04:05.000Z07:00"),
			"access_token_reference_id": ref, "data": data})
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write(body)
		return fmt.Appendf(nil, "POST /webhooks/cobalt HTTP/1.1\r\nHost: relink\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s: %s\r\n\r\n%s",
			len(body), cobalt.SignatureHeader, hex.EncodeToString(mac.Sum(nil)), body)
	}

	// The requests are made before the clock starts, as many as 12,000 a
	// second would send (more are made as they are sent): the senders
	// share the hub's two cores, and building and signing a request is
	// not the hub's work.
	made := make([][]byte, 12000*presses/10)
	for i := range made {
		made[i] = request()
	}
	var taken atomic.Int64
	next := func() []byte {
		if i := taken.Add(1) - 1; i < int64(len(made)) {
			return made[i]
		}
		return request()
	}

	for b.Loop() {
		var sent atomic.Int64
		var failed atomic.Value
		m0 := storeMetrics(b, ln.Addr().String())
		halt := make(chan struct{})
		var senders sync.WaitGroup
		start := time.Now()
		for range clients {
			senders.Go(func() {
				c, err := net.Dial("tcp", ln.Addr().String())
				if err != nil {
					failed.Store(err)
					return
				}
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					select {
					case <-halt:
						return
					default:
					}
					if err := post(c, r, next()); err != nil {
						failed.Store(err)
						return
					}
					sent.Add(1)
				}
			})
		}
		var lat []time.Duration
		missed := 0
		if sessions > 0 {
			lat, missed, _ = hub.press(b, presses)
		} else {
			time.Sleep(time.Duration(presses) * 100 * time.Millisecond)
		}
		close(halt)
		elapsed := time.Since(start)
		senders.Wait()
		if err, _ := failed.Load().(error); err != nil {
			b.Fatal(err)
		}
		m1 := storeMetrics(b, ln.Addr().String())
		b.ReportMetric(float64(sent.Load())/elapsed.Seconds(), "events/s")
		b.ReportMetric((m1["relink_store_batch_events_total"]-m0["relink_store_batch_events_total"])/
			max(1, m1["relink_store_batches_total"]-m0["relink_store_batches_total"]), "events/tx")
		b.ReportMetric(100*(m1["relink_store_busy_seconds_total"]-m0["relink_store_busy_seconds_total"])/elapsed.Seconds(), "writer-busy-%")
		if sessions > 0 {
			reportLatency(b, lat, missed)
		}
	}
}

// storeMetrics reads the server's store counters from its /metrics.
func storeMetrics(b *testing.B, addr string) map[string]float64 {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		name, v, ok := strings.Cut(sc.Text(), " ")
		if ok && strings.HasPrefix(name, "relink_store_") {
			out[name], _ = strconv.ParseFloat(v, 64)
		}
	}
	return out
}

// post sends one prepared request on c and wants 200.
func post(c net.Conn, r *bufio.Reader, req []byte) error {
	if _, err := c.Write(req); err != nil {
		return err
	}
	line, err := r.ReadSlice('\n')
	if err != nil {
		return err
	}
	if len(line) < 12 || string(line[9:12]) != "200" {
		return fmt.Errorf("answer %q", line)
	}
	length := -1
	for {
		h, err := r.ReadSlice('\n')
		if err != nil {
			return err
		}
		if len(h) <= 2 {
			break
		}
		if k, v, ok := strings.Cut(string(h), ":"); ok && strings.EqualFold(k, "Content-Length") {
			length, _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
	if length < 0 {
		return fmt.Errorf("an answer without Content-Length")
	}
	_, err = r.Discard(length)
	return err
}

// hubLoadStore is a copy of RELINK_BENCH_DB (built first if missing), or
// a cache of n connections built for the run.
func hubLoadStore(b *testing.B, n int) *store.Store {
	src := os.Getenv("RELINK_BENCH_DB")
	if src == "" {
		return benchStore(b, n)
	}
	if _, err := os.Stat(src); err != nil {
		benchStore(b, n).Close() // builds it
	}
	dst := filepath.Join(b.TempDir(), "hubload.db")
	for _, suffix := range []string{"", "-wal"} {
		if err := copyFile(src+suffix, dst+suffix); err != nil && !(suffix != "" && os.IsNotExist(err)) {
			b.Fatal(err)
		}
	}
	st, err := store.Open(context.Background(), dst, store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	return st
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	// On disk before the run: else the first fsyncs of the run (ext4's
	// ordered journal) wait for hundreds of megabytes of the copy.
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
