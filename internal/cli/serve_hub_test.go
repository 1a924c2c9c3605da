package cli

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/relink/relink/backend"
)

// fakeSyncer counts syncs, how many run at once, and holds each until
// released.
type fakeSyncer struct {
	started, finished, running, most atomic.Int32
	release                          chan struct{}
}

func (f *fakeSyncer) Sync(ctx context.Context, only []string, _ func(backend.SyncProgress)) ([]backend.SyncReport, error) {
	n := f.running.Add(1)
	for {
		m := f.most.Load()
		if n <= m || f.most.CompareAndSwap(m, n) {
			break
		}
	}
	f.started.Add(1)
	defer func() { f.running.Add(-1); f.finished.Add(1) }()
	select {
	case <-f.release:
	case <-ctx.Done():
	}
	return []backend.SyncReport{{Provider: "plaid", Seen: 12, Changed: 3}, {Provider: "belvo", Seen: 4}}, nil
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func eventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// The hub's sync runs once per tick of its (injected) ticker, one sync at
// a time: ticks that come during a sync wait for it, never start another.
// Each provider's outcome is logged in one line with its counts.
func TestServeSyncsOncePerTickOneAtATime(t *testing.T) {
	f := &fakeSyncer{release: make(chan struct{})}
	ticks := make(chan time.Time, 3)
	logs := &lockedBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); syncLoop(ctx, f, ticks, slog.New(slog.NewTextHandler(logs, nil))) }()

	if f.started.Load() != 0 {
		t.Fatal("a sync before the first tick")
	}
	for range 3 {
		ticks <- time.Now()
	}
	for i := int32(1); i <= 3; i++ {
		eventually(t, "the next sync", func() bool { return f.started.Load() == i })
		f.release <- struct{}{}
		eventually(t, "it to finish", func() bool { return f.finished.Load() == i })
	}
	cancel()
	<-done
	if n, most := f.started.Load(), f.most.Load(); n != 3 || most != 1 {
		t.Fatalf("%d syncs for 3 ticks, %d at once; want 3, one at a time", n, most)
	}
	if got := strings.Count(logs.String(), `msg="serve: synced" provider=plaid checked=12 events=0 changed=3`); got != 3 {
		t.Fatalf("%d plaid lines, want 3:\n%s", got, logs)
	}
	if got := strings.Count(logs.String(), `provider=belvo checked=4 events=0 changed=0`); got != 3 {
		t.Fatalf("%d belvo lines, want 3:\n%s", got, logs)
	}
}

// A reminder left queued (the mail server was down when an agent sent it)
// is sent by the hub's outbox on its own: at start, without anyone running
// relink remind, and the send is logged.
func TestServeOutboxSendsWhatIsQueued(t *testing.T) {
	c, box := remindCLI(t)
	a := &app{stdout: io.Discard, stderr: io.Discard, getenv: func(k string) string { return c.env[k] }}
	ctx := context.Background()
	e, err := a.open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()

	// An agent's send while the mail server is down: nothing arrives, the
	// message stays queued.
	down, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := down.Addr().(*net.TCPAddr).Port
	down.Close()
	rc := e.cfg.Reminders
	rc.Email.SMTPPort = port
	agent, err := newReminders(e.backend, rc, "")
	if err != nil {
		t.Fatal(err)
	}
	defer agent.Close()
	plan, err := agent.PlanReminders(ctx, []string{"plaid:item-reset"}, "email")
	if err != nil || len(plan.Messages) != 1 {
		t.Fatalf("plan: %v, %d messages", err, len(plan.Messages))
	}
	sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	rep, err := agent.SendReminders(sctx, plan, nil)
	cancel()
	if err == nil || rep.Sent != 0 {
		t.Fatalf("sending with the mail server down: %v, %+v", err, rep)
	}
	if n, err := e.st.QueuedReminders(ctx, "email"); err != nil || n != 1 {
		t.Fatalf("queued: %d, %v", n, err)
	}
	if len(box.Messages()) != 0 {
		t.Fatal("a message arrived with the mail server down")
	}

	rem, err := a.reminders(e)
	if err != nil {
		t.Fatal(err)
	}
	defer rem.Close()
	logs := &lockedBuffer{}
	hctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		outboxLoop(hctx, rem, make(chan time.Time), time.Second, slog.New(slog.NewTextHandler(logs, nil)))
	}()
	eventually(t, "the queued reminder to arrive", func() bool { return len(box.Messages()) == 1 })
	eventually(t, "the send logged", func() bool { return strings.Contains(logs.String(), `msg="serve: outbox: sent" channel=email sent=1`) })
	stop()
	<-done
	if n, _ := e.st.QueuedReminders(ctx, "email"); n != 0 {
		t.Fatalf("%d still queued", n)
	}
	if to := box.Messages()[0].To; len(to) != 1 || to[0] != "bob@example.com" {
		t.Fatalf("sent to %v", to)
	}
}
