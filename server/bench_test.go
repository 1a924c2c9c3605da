package server

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
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

// loadRequest is one whole HTTP/1.1 request, serialized in advance so the
// load generator spends little of the CPU the server is measured on.
type loadRequest []byte

func newLoadRequest(path string, body []byte, header http.Header) loadRequest {
	var b bytes.Buffer
	fmt.Fprintf(&b, "POST %s HTTP/1.1\r\nHost: relink\r\nContent-Type: application/json\r\nContent-Length: %d\r\n", path, len(body))
	header.Write(&b)
	b.WriteString("\r\n")
	b.Write(body)
	return b.Bytes()
}

// rawConn is a keep-alive HTTP/1.1 client connection that sends prepared
// requests and reads only the status and the body length of the answers
// (net/http's client costs about as much CPU per request as the server).
type rawConn struct {
	addr string
	conn net.Conn
	r    *bufio.Reader
}

func newRawConn(addr string) *rawConn { return &rawConn{addr: addr} }

func (c *rawConn) close() {
	if c.conn != nil {
		c.conn.Close()
	}
}

// send posts req and wants 200.
func (c *rawConn) send(req loadRequest) error {
	if c.conn == nil {
		conn, err := net.Dial("tcp", c.addr)
		if err != nil {
			return err
		}
		c.conn, c.r = conn, bufio.NewReader(conn)
	}
	if _, err := c.conn.Write(req); err != nil {
		return err
	}
	line, err := c.r.ReadSlice('\n')
	if err != nil {
		return err
	}
	if len(line) < 12 || string(line[9:12]) != "200" {
		return fmt.Errorf("answer %q", line)
	}
	length := -1
	for {
		h, err := c.r.ReadSlice('\n')
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
		return errors.New("an answer without Content-Length")
	}
	_, err = c.r.Discard(length)
	return err
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
			reqs[i] = newLoadRequest("/webhooks/plaid", body, e.plaidHeader(body))
			continue
		}
		ref := fmt.Sprintf("clinic_%d", i%conns)
		data := loginRequired(ref)
		if i/conns%2 == 1 {
			data["error_type"] = "password_expired"
		}
		body := cobaltBody(b, fmt.Sprintf("evt_%d", i), ref, "access_token.login_required", t0.Add(time.Duration(i)*time.Microsecond), data)
		reqs[i] = newLoadRequest("/webhooks/cobalt", body, http.Header{cobalt.SignatureHeader: {hmacHex(secret, body)}})
	}
	addr := strings.TrimPrefix(e.base, "http://")
	if err := newRawConn(addr).send(reqs[b.N]); err != nil {
		b.Fatal(err)
	}
	batches0, events0, busy0 := e.srv.m.batches.Load(), e.srv.m.batchEvents.Load(), e.srv.m.storeNS.Load()

	lat := make([][]time.Duration, loadClients)
	var next atomic.Int64
	var failed atomic.Value
	var wg sync.WaitGroup
	queueDepth := sampleQueue(e.srv.w)
	cpu0 := cpuTime(b)
	b.ResetTimer()
	start := time.Now()
	for c := range loadClients {
		wg.Go(func() {
			conn := newRawConn(addr)
			defer conn.close()
			mine := make([]time.Duration, 0, b.N/loadClients+1)
			for i := int(next.Add(1) - 1); i < b.N; i = int(next.Add(1) - 1) {
				t := time.Now()
				if err := conn.send(reqs[i]); err != nil {
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
	b.ReportMetric(float64((cpuTime(b)-cpu0)/time.Microsecond)/float64(b.N), "cpu-µs/event")
	b.ReportMetric(queueDepth(), "queue-depth")
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
	if n := e.srv.m.batchErrors.Load(); n != 0 {
		b.Errorf("%d store transactions failed", n)
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

// cpuTime is the CPU time this process (clients and server) has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// sampleQueue samples how many events wait for the writer every
// millisecond until the returned func, which gives their mean, is called.
func sampleQueue(w *writer) func() float64 {
	stop, done := make(chan struct{}), make(chan float64)
	go func() {
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		var sum, n int
		for {
			select {
			case <-tick.C:
				sum += len(w.in)
				n++
			case <-stop:
				done <- float64(sum) / float64(max(n, 1))
				return
			}
		}
	}()
	return func() float64 { close(stop); return <-done }
}
