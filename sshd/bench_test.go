package sshd

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/relink/relink/health"
	"github.com/relink/relink/store"
	"github.com/relink/relink/ui"
)

// BenchmarkSessions: RELINK_BENCH_SESSIONS (default 10) SSH sessions, each
// with a 120x35 pty, against one hub over a cache of RELINK_BENCH_ROWS
// connections (default 10,000; 8% failing, over six categories and seven
// institutions). Every session presses j or k (alternately, so each press
// moves the cursor) every 100 ms, out of step with the others,
// RELINK_BENCH_PRESSES times (default 50). It reports the time from a
// key's write to the first byte of the frame that follows (p50, p99, max),
// keys no frame followed within 5 s of the last, and the
// heap and stacks per session above the idle hub (after a GC; client and
// hub share this process, so it counts both sides). Each session re-reads
// the cache every 3 s as the dashboard does (RELINK_BENCH_REFRESH=1h to
// leave that out). Run it once:
//
//	RELINK_BENCH_SESSIONS=50 RELINK_BENCH_ROWS=1000000 RELINK_BENCH_DB=/tmp/relink-ssh-1m.db \
//	  go test ./sshd -run '^$' -bench BenchmarkSessions -benchtime 1x
func BenchmarkSessions(b *testing.B) {
	sessions, rows, presses := envInt(b, "RELINK_BENCH_SESSIONS", 10), envInt(b, "RELINK_BENCH_ROWS", 10000), envInt(b, "RELINK_BENCH_PRESSES", 50)
	refresh := 3 * time.Second // the dashboard's re-read of the cache; RELINK_BENCH_REFRESH changes it
	if v := os.Getenv("RELINK_BENCH_REFRESH"); v != "" {
		var err error
		if refresh, err = time.ParseDuration(v); err != nil {
			b.Fatal(err)
		}
	}
	st := benchStore(b, rows)
	hub := startBenchHub(b, st, sessions, refresh)
	idle := inUse()

	for b.Loop() {
		lat, missed, busy := hub.press(b, presses)
		reportLatency(b, lat, missed)
		b.ReportMetric(float64(busy-idle)/float64(sessions)/(1<<20), "MB/session")
	}
}

// benchHub is the hub of a benchmark: the server on a loopback port and a
// key for each of its sessions' people (agents).
type benchHub struct {
	srv  *Server
	addr string
	keys []key
}

// startBenchHub serves the dashboard over st for n agents, each session
// re-reading the cache every refresh, until the benchmark ends.
func startBenchHub(b *testing.B, st *store.Store, n int, refresh time.Duration) *benchHub {
	h := &benchHub{keys: make([]key, n)}
	people := make([]Person, n)
	for i := range h.keys {
		h.keys[i] = newKey(b)
		people[i] = Person{Name: fmt.Sprintf("agent%02d", i), Role: ui.RoleAgent, Keys: []gossh.PublicKey{h.keys[i].pub}}
	}
	var notice time.Duration // RELINK_BENCH_NOTICE: Options.NoticeEvery
	if v := os.Getenv("RELINK_BENCH_NOTICE"); v != "" {
		var err error
		if notice, err = time.ParseDuration(v); err != nil {
			b.Fatal(err)
		}
	}
	var err error
	h.srv, err = New(Options{HostKeyFile: filepath.Join(b.TempDir(), "host"), People: people, MaxSessions: max(1, n),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), NoticeEvery: notice,
		Dashboard: func(Person) ui.Options {
			return ui.Options{Store: st, Providers: []string{"plaid", "belvo", "cobalt"}, RefreshInterval: refresh}
		}})
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	h.addr = ln.Addr().String()
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.srv.Serve(ctx, ln) }()
	b.Cleanup(func() { stop(); <-done })
	return h
}

// press opens every session, waits for each to draw its first frame, then
// has each press j or k every 100 ms, presses times, out of step with the
// others. It returns the latencies from key to frame, the keys no frame
// followed, and the memory in use halfway through (see inUse).
func (h *benchHub) press(b *testing.B, presses int) (lat []time.Duration, missed int, busy uint64) {
	sessions := len(h.keys)
	var wg sync.WaitGroup
	probes := make([]*probe, sessions)
	ready := make(chan struct{})
	var up sync.WaitGroup
	up.Add(sessions)
	for i := range sessions {
		probes[i] = &probe{}
		cfg := &gossh.ClientConfig{User: "bench", Auth: []gossh.AuthMethod{gossh.PublicKeys(h.keys[i].signer)},
			HostKeyCallback: gossh.FixedHostKey(h.srv.HostKey()), Timeout: 30 * time.Second}
		wg.Go(func() {
			offset := time.Duration(i) * 100 * time.Millisecond / time.Duration(sessions)
			if err := probes[i].run(h.addr, cfg, presses, offset, &up, ready); err != nil {
				b.Error(err)
			}
		})
	}
	up.Wait() // every session has drawn its first frame
	close(ready)
	time.Sleep(time.Duration(presses) * 50 * time.Millisecond) // halfway through the presses
	busy = inUse()                                             // one collection, not one per session
	wg.Wait()
	for _, p := range probes {
		lat = append(lat, p.lat...)
		missed += p.missed
	}
	slices.Sort(lat)
	return lat, missed, busy
}

// reportLatency reports the sorted key-to-frame latencies' p50, p99 and
// max, the keys no frame followed, and the frames.
func reportLatency(b *testing.B, lat []time.Duration, missed int) {
	if len(lat) == 0 {
		b.Fatal("no frame followed any key")
	}
	q := func(f float64) float64 { return float64(lat[int(f*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
	b.ReportMetric(float64(missed), "no-frame")
	b.ReportMetric(float64(len(lat)), "frames")
}

// probe is one benchmark session: it presses keys and times the frames.
// A frame answers every key written before it that no frame answered yet
// (the renderer draws at most 60 frames a second, so one frame may show
// two keys); a key still unanswered at the end counts as missed.
type probe struct {
	mu      sync.Mutex
	pending []time.Time // keys written, not yet answered by a frame
	lat     []time.Duration
	missed  int
}

func (p *probe) run(addr string, cfg *gossh.ClientConfig, presses int, offset time.Duration, up *sync.WaitGroup, ready <-chan struct{}) error {
	signalled := false
	defer func() {
		if !signalled {
			up.Done()
		}
	}()
	c, err := gossh.Dial("tcp", addr, cfg)
	if err != nil {
		return err
	}
	defer c.Close()
	s, err := c.NewSession()
	if err != nil {
		return err
	}
	if err := s.RequestPty("xterm-256color", 35, 120, gossh.TerminalModes{}); err != nil {
		return err
	}
	in, err := s.StdinPipe()
	if err != nil {
		return err
	}
	out, err := s.StdoutPipe()
	if err != nil {
		return err
	}
	if err := s.Shell(); err != nil {
		return err
	}
	first := make(chan struct{})
	go func() {
		buf := make([]byte, 32<<10)
		var seen int
		for {
			n, err := out.Read(buf)
			now := time.Now()
			if n > 0 {
				seen += n
				if seen > 2000 && first != nil { // the first frame of rows, not just the terminal setup
					close(first)
					first = nil
				}
				p.mu.Lock()
				for _, at := range p.pending {
					p.lat = append(p.lat, now.Sub(at))
				}
				p.pending = p.pending[:0]
				p.mu.Unlock()
			}
			if err != nil {
				return
			}
		}
	}()
	select {
	case <-first:
	case <-time.After(60 * time.Second):
		return fmt.Errorf("no first frame in 60s")
	}
	time.Sleep(300 * time.Millisecond) // let the first frame's rows and counts land before timing keys
	signalled = true
	up.Done()
	<-ready
	time.Sleep(offset) // sessions press out of step, as people do
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for i := range presses {
		<-tick.C
		k := "j"
		if i%2 == 1 {
			k = "k"
		}
		p.mu.Lock()
		p.pending = append(p.pending, time.Now())
		p.mu.Unlock()
		if _, err := io.WriteString(in, k); err != nil {
			return err
		}
	}
	deadline := time.Now().Add(5 * time.Second) // for the last frames to arrive
	for {
		p.mu.Lock()
		left := len(p.pending)
		p.mu.Unlock()
		if left == 0 || time.Now().After(deadline) {
			p.mu.Lock()
			p.missed = left
			p.mu.Unlock()
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	_ = s.Close()
	return nil
}

// inUse is the heap and stacks in use, after a collection.
func inUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse + ms.StackInuse
}

func envInt(b *testing.B, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		b.Fatalf("%s: %v", name, err)
	}
	return n
}

// benchStore is a cache of n connections, 8% failing, at RELINK_BENCH_DB
// if set (built once, kept between runs) or in a temp dir.
func benchStore(b *testing.B, n int) *store.Store {
	b.Helper()
	path := os.Getenv("RELINK_BENCH_DB")
	if path == "" {
		path = filepath.Join(b.TempDir(), "bench.db")
	}
	ctx := context.Background()
	_, statErr := os.Stat(path)
	st, err := store.Open(ctx, path, store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	if statErr == nil {
		return st
	}
	insts := []string{"Chase", "Wells Fargo", "Bank of America", "Citi", "Banco Azul", "Nubank", "mychart.example.org"}
	cats := []health.Category{health.LoginRequired, health.MFARequired, health.AccountLocked, health.PasswordExpired,
		health.InstitutionDown, health.ConsentExpired}
	now := time.Now()
	const batch = 20000
	for from := 0; from < n; from += batch {
		im, err := st.BeginImport(ctx, "bench")
		if err != nil {
			b.Fatal(err)
		}
		var obs []store.Observation
		for i := from; i < min(n, from+batch); i++ {
			prov := []string{"plaid", "belvo", "cobalt"}[i%3]
			pid := fmt.Sprintf("%s-%07d", prov, i)
			if err := im.Add(ctx, store.Registration{Provider: prov, ProviderID: pid, UserRef: fmt.Sprintf("u%07d", i),
				Name: fmt.Sprintf("User %07d", i), Email: fmt.Sprintf("user%d@example.com", i), Institution: insts[i%len(insts)]}); err != nil {
				b.Fatal(err)
			}
			if i%25 >= 2 {
				continue // 2 in 25 fail; the others stay registered and unchecked
			}
			obs = append(obs, store.Observation{Provider: prov, ProviderID: pid, Kind: "poll", Signal: health.Signal{
				Effect: health.SetPrimary, Category: cats[(i/25)%len(cats)], ProviderCode: "CODE", Source: health.SourcePoll,
				ObservedAt: now.Add(-time.Duration(i%(14*24*60)) * time.Minute)}})
		}
		if err := im.Commit(ctx, "bench"); err != nil {
			b.Fatal(err)
		}
		if _, err := st.Apply(ctx, obs); err != nil {
			b.Fatal(err)
		}
	}
	return st
}
