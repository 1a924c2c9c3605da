package remind

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeOutbox is an in-memory Outbox that checks its protocol: only a
// message being sent is finished, and once.
type fakeOutbox struct {
	mu         sync.Mutex
	now        func() time.Time
	jobs       []*fakeJob
	claimErr   error
	maxSending int // the most messages claimed at once
}

type fakeJob struct {
	Job
	status string // queued, sending, sent, failed, cancelled
	next   time.Time
	reason string
}

func newFakeOutbox(now func() time.Time) *fakeOutbox { return &fakeOutbox{now: now} }

// add queues n messages to u<first>…@example.com, due now.
func (o *fakeOutbox) add(n int, edit func(*Message)) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for range n {
		id := int64(len(o.jobs) + 1)
		m := Message{Channel: Email, To: fmt.Sprintf("u%d@example.com", id)}
		if edit != nil {
			edit(&m)
		}
		o.jobs = append(o.jobs, &fakeJob{Job: Job{ID: id, Message: m}, status: "queued", next: o.now()})
	}
}

func (o *fakeOutbox) Claim(_ context.Context, channel string, n int) ([]Job, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.claimErr != nil {
		return nil, o.claimErr
	}
	var out []Job
	sending := 0
	for _, j := range o.jobs {
		if j.status == "queued" && !j.next.After(o.now()) && len(out) < n {
			j.status = "sending"
			j.Attempts++
			out = append(out, j.Job)
		}
		if j.status == "sending" {
			sending++
		}
	}
	o.maxSending = max(o.maxSending, sending)
	return out, nil
}

func (o *fakeOutbox) Finish(_ context.Context, job Job, out Outcome) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	j := o.jobs[job.ID-1]
	if j.status != "sending" {
		return fmt.Errorf("finishing job %d as %s, but it is %s", job.ID, out.Status, j.status)
	}
	j.reason = out.Reason
	switch out.Status {
	case Sent:
		j.status = "sent"
	case Failed:
		j.status = "failed"
	case Cancelled:
		j.status = "cancelled"
	case Retry:
		j.status, j.next = "queued", out.Next
	case Released:
		j.status, j.next = "queued", o.now()
		j.Attempts--
	}
	return nil
}

func (o *fakeOutbox) NextDue(context.Context, string) (time.Time, bool, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	var next time.Time
	ok := false
	for _, j := range o.jobs {
		if j.status == "queued" && (!ok || j.next.Before(next)) {
			next, ok = j.next, true
		}
	}
	return next, ok, nil
}

// statuses counts the jobs by status.
func (o *fakeOutbox) statuses() map[string]int {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := map[string]int{}
	for _, j := range o.jobs {
		out[j.status]++
	}
	return out
}

func (o *fakeOutbox) job(id int64) fakeJob {
	o.mu.Lock()
	defer o.mu.Unlock()
	return *o.jobs[id-1]
}

// fakeChannel sends with send (nil: succeed) and counts sends in flight.
type fakeChannel struct {
	send     func(ctx context.Context, m Message) error
	calls    atomic.Int32
	inflight atomic.Int32
	most     atomic.Int32
}

func (c *fakeChannel) Name() string { return Email }
func (c *fakeChannel) Close() error { return nil }

func (c *fakeChannel) Send(ctx context.Context, m Message) error {
	c.calls.Add(1)
	n := c.inflight.Add(1)
	defer c.inflight.Add(-1)
	for {
		most := c.most.Load()
		if n <= most || c.most.CompareAndSwap(most, n) {
			break
		}
	}
	if c.send != nil {
		return c.send(ctx, m)
	}
	return nil
}

// finishes records what OnFinish reported, and fails the test if it is
// ever called twice at once.
type finishes struct {
	t    *testing.T
	busy atomic.Bool
	mu   sync.Mutex
	got  map[Status]int
	why  map[Status][]string
}

func newFinishes(t *testing.T) *finishes {
	return &finishes{t: t, got: map[Status]int{}, why: map[Status][]string{}}
}

func (f *finishes) record(_ Job, o Outcome) {
	if !f.busy.CompareAndSwap(false, true) {
		f.t.Error("OnFinish called while another call was running")
	}
	defer f.busy.Store(false)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.got[o.Status]++
	f.why[o.Status] = append(f.why[o.Status], o.Reason)
}

func (f *finishes) counts() map[Status]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[Status]int{}
	for k, v := range f.got {
		out[k] = v
	}
	return out
}

func TestDispatcherSendsAllWithinItsConcurrency(t *testing.T) {
	ob := newFakeOutbox(time.Now)
	ob.add(40, nil)
	ch := &fakeChannel{send: func(context.Context, Message) error { time.Sleep(3 * time.Millisecond); return nil }}
	fin := newFinishes(t)
	d := &Dispatcher{Outbox: ob, Channel: ch, Limit: Limit{Concurrency: 4}, OnFinish: fin.record}
	if err := d.Run(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if got := ob.statuses(); got["sent"] != 40 || len(got) != 1 {
		t.Fatalf("outbox %v", got)
	}
	if got := fin.counts(); got[Sent] != 40 || len(got) != 1 {
		t.Errorf("OnFinish saw %v", got)
	}
	if ch.calls.Load() != 40 || ch.most.Load() != 4 {
		t.Errorf("%d sends, at most %d at once; want 40, 4 at once", ch.calls.Load(), ch.most.Load())
	}
	// In flight (4) plus claimed ahead (at most 2×4, claimed only when a
	// slot is free): never 3×4 'sending' at once.
	if ob.maxSending >= 12 {
		t.Errorf("%d messages claimed at once", ob.maxSending)
	}
}

func TestDispatcherRetriesTransientFailuresAndGivesUp(t *testing.T) {
	ob := newFakeOutbox(time.Now)
	ob.add(3, nil) // u1 fails twice then goes, u2 is refused, u3 always fails
	var mu sync.Mutex
	tries := map[string]int{}
	ch := &fakeChannel{send: func(_ context.Context, m Message) error {
		mu.Lock()
		defer mu.Unlock()
		tries[m.To]++
		switch {
		case m.To == "u1@example.com" && tries[m.To] <= 2:
			return Transient(errors.New("451 greylisted"))
		case m.To == "u2@example.com":
			return Permanent(errors.New("550 no such user"))
		case m.To == "u3@example.com":
			return errors.New("unclassified: counts as transient")
		}
		return nil
	}}
	fin := newFinishes(t)
	d := &Dispatcher{Outbox: ob, Channel: ch, Limit: Limit{Concurrency: 2},
		Backoff: Backoff{Base: time.Millisecond, Max: 4 * time.Millisecond, MaxAttempts: 3}, OnFinish: fin.record}
	if err := d.Run(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if j := ob.job(1); j.status != "sent" || j.Attempts != 3 {
		t.Errorf("u1: %s after %d attempts", j.status, j.Attempts)
	}
	if j := ob.job(2); j.status != "failed" || j.Attempts != 1 || !strings.Contains(j.reason, "550") {
		t.Errorf("u2: %s after %d attempts: %q", j.status, j.Attempts, j.reason)
	}
	if j := ob.job(3); j.status != "failed" || j.Attempts != 3 || !strings.HasPrefix(j.reason, "gave up after 3 attempts: unclassified") {
		t.Errorf("u3: %s after %d attempts: %q", j.status, j.Attempts, j.reason)
	}
	if got := fin.counts(); got[Retry] != 4 || got[Sent] != 1 || got[Failed] != 2 || len(got) != 3 {
		t.Errorf("OnFinish saw %v", got)
	}
}

func TestDispatcherStopsWhenTheChannelIsDown(t *testing.T) {
	ob := newFakeOutbox(time.Now)
	ob.add(10, nil)
	down := Unavailable(errors.New("connecting to SMTP server: connection refused"))
	ch := &fakeChannel{send: func(context.Context, Message) error { return down }}
	fin := newFinishes(t)
	d := &Dispatcher{Outbox: ob, Channel: ch, Limit: Limit{Concurrency: 2}, OnFinish: fin.record}
	err := d.Run(context.Background(), nil)
	if !errors.Is(err, down) {
		t.Fatalf("Run: %v", err)
	}
	if n := ch.calls.Load(); n < 1 || n > 2 {
		t.Errorf("%d sends after the channel went down; want 1 or 2 (those in flight)", n)
	}
	// Everything stays queued, and no attempt counts.
	if got := ob.statuses(); got["queued"] != 10 {
		t.Fatalf("outbox %v", got)
	}
	for id := int64(1); id <= 10; id++ {
		if j := ob.job(id); j.Attempts != 0 {
			t.Errorf("job %d: %d attempts counted", id, j.Attempts)
		}
	}
	// Only the attempted messages are reported.
	if got := fin.counts(); got[Released] != int(ch.calls.Load()) || len(got) != 1 {
		t.Errorf("OnFinish saw %v for %d sends", got, ch.calls.Load())
	}
}

func TestDispatcherCancelledMidSendReleasesWhatIsInFlight(t *testing.T) {
	ob := newFakeOutbox(time.Now)
	ob.add(10, nil)
	started := make(chan struct{}, 10)
	ch := &fakeChannel{send: func(ctx context.Context, _ Message) error {
		started <- struct{}{}
		<-ctx.Done()
		return Transient(ctx.Err())
	}}
	fin := newFinishes(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d := &Dispatcher{Outbox: ob, Channel: ch, Limit: Limit{Concurrency: 3}, OnFinish: fin.record}
	go func() {
		for range 3 {
			<-started
		}
		cancel()
	}()
	if err := d.Run(ctx, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run: %v", err)
	}
	if got := ob.statuses(); got["queued"] != 10 {
		t.Fatalf("outbox %v", got)
	}
	for id := int64(1); id <= 10; id++ {
		if j := ob.job(id); j.Attempts != 0 {
			t.Errorf("job %d: %d attempts counted", id, j.Attempts)
		}
	}
	got := fin.counts()
	if got[Released] != 3 || len(got) != 1 || ch.calls.Load() != 3 {
		t.Fatalf("OnFinish saw %v, %d sends", got, ch.calls.Load())
	}
	for _, why := range fin.why[Released] {
		if why != "the run stopped while it was being sent" {
			t.Errorf("released: %q", why)
		}
	}
}

func TestDispatcherCancelsMessagesWhoseLinksExpired(t *testing.T) {
	ob := newFakeOutbox(time.Now)
	ob.add(1, func(m *Message) { m.Expires = time.Now().Add(-time.Minute) })
	ob.add(1, func(m *Message) { m.Expires = time.Now().Add(time.Hour) })
	ch := &fakeChannel{}
	d := &Dispatcher{Outbox: ob, Channel: ch}
	if err := d.Run(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if j := ob.job(1); j.status != "cancelled" || !strings.Contains(j.reason, "links expired") {
		t.Errorf("expired: %s %q", j.status, j.reason)
	}
	if j := ob.job(2); j.status != "sent" || ch.calls.Load() != 1 {
		t.Errorf("valid: %s, %d sends", j.status, ch.calls.Load())
	}
}

func TestDispatcherKeepsToItsRate(t *testing.T) {
	ob := newFakeOutbox(time.Now)
	ob.add(11, nil)
	d := &Dispatcher{Outbox: ob, Channel: &fakeChannel{}, Limit: Limit{Concurrency: 4, PerSecond: 100}}
	start := time.Now()
	if err := d.Run(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	// The first goes at once, each next 10 ms after the one before.
	if took := time.Since(start); took < 90*time.Millisecond {
		t.Errorf("11 sends at 100/s took %s", took)
	}
	if got := ob.statuses(); got["sent"] != 11 {
		t.Fatalf("outbox %v", got)
	}
}

func TestDispatcherSendsWhatIsQueuedWhileItRuns(t *testing.T) {
	ob := newFakeOutbox(time.Now)
	more := make(chan struct{}, 1)
	go func() {
		defer close(more)
		for range 3 {
			ob.add(5, nil)
			select {
			case more <- struct{}{}:
			default:
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	d := &Dispatcher{Outbox: ob, Channel: &fakeChannel{}, Limit: Limit{Concurrency: 2}}
	start := time.Now()
	if err := d.Run(context.Background(), more); err != nil {
		t.Fatal(err)
	}
	if got := ob.statuses(); got["sent"] != 15 || len(got) != 1 {
		t.Fatalf("outbox %v", got)
	}
	if took := time.Since(start); took > 900*time.Millisecond {
		t.Errorf("took %s: new work waited for the idle nap, not the signal", took)
	}
}

func TestDispatcherStopsWhenItCannotClaim(t *testing.T) {
	ob := newFakeOutbox(time.Now)
	ob.claimErr = errors.New("database is locked")
	err := (&Dispatcher{Outbox: ob, Channel: &fakeChannel{}}).Run(context.Background(), nil)
	if err == nil || err.Error() != "claiming email reminders: database is locked" {
		t.Fatalf("Run: %v", err)
	}
}

func TestDispatcherLeavesFarRetriesToALaterRun(t *testing.T) {
	ob := newFakeOutbox(time.Now)
	ob.add(1, nil)
	ob.jobs[0].next = time.Now().Add(time.Hour)
	ch := &fakeChannel{}
	d := &Dispatcher{Outbox: ob, Channel: ch, Backoff: Backoff{Max: time.Second}}
	start := time.Now()
	if err := d.Run(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if ch.calls.Load() != 0 || ob.job(1).status != "queued" || time.Since(start) > 500*time.Millisecond {
		t.Errorf("%d sends, %s, after %s", ch.calls.Load(), ob.job(1).status, time.Since(start))
	}
}

// fakeClock moves on only when it is waited on: After(d) advances it by
// d and fires at once.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	ch := make(chan time.Time, 1)
	ch <- c.t
	return ch
}

func TestDispatcherWaitsForRetriesOnItsClock(t *testing.T) {
	start := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	clk := &fakeClock{t: start}
	ob := newFakeOutbox(clk.Now)
	ob.add(1, nil)
	fails := 2
	ch := &fakeChannel{send: func(context.Context, Message) error {
		if fails > 0 {
			fails--
			return Transient(errors.New("451 greylisted"))
		}
		return nil
	}}
	d := &Dispatcher{Outbox: ob, Channel: ch, Clock: clk, Backoff: Backoff{Base: 20 * time.Second, Max: time.Minute}}
	wall := time.Now()
	if err := d.Run(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if j := ob.job(1); j.status != "sent" || j.Attempts != 3 {
		t.Fatalf("%s after %d attempts", j.status, j.Attempts)
	}
	// Two retries, about 20s and 40s later (±20%), waited on the clock.
	if waited := clk.Now().Sub(start); waited < 48*time.Second || waited > 73*time.Second {
		t.Errorf("the clock moved %s", waited)
	}
	if took := time.Since(wall); took > 2*time.Second {
		t.Errorf("the retries waited %s of real time", took)
	}
}

func TestDispatcherPacesOnItsClock(t *testing.T) {
	start := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	clk := &fakeClock{t: start}
	ob := newFakeOutbox(clk.Now)
	ob.add(5, nil)
	var at []time.Duration
	ch := &fakeChannel{send: func(context.Context, Message) error { at = append(at, clk.Now().Sub(start)); return nil }}
	d := &Dispatcher{Outbox: ob, Channel: ch, Clock: clk, Limit: Limit{Concurrency: 1, PerSecond: 0.5}}
	wall := time.Now()
	if err := d.Run(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if want := []time.Duration{0, 2 * time.Second, 4 * time.Second, 6 * time.Second, 8 * time.Second}; fmt.Sprint(at) != fmt.Sprint(want) {
		t.Errorf("sent at %v, want %v", at, want)
	}
	if took := time.Since(wall); took > 2*time.Second {
		t.Errorf("the pacing waited %s of real time", took)
	}
}

func TestDispatcherJudgesByNowAndWaitsByItsClock(t *testing.T) {
	// Now alone (the backend's clock) judges expiry; the waits stay on
	// the real clock.
	judged := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	ob := newFakeOutbox(func() time.Time { return judged })
	ob.add(1, func(m *Message) { m.Expires = judged.Add(-time.Second) })
	ob.add(2, func(m *Message) { m.Expires = judged.Add(time.Second) })
	ch := &fakeChannel{}
	d := &Dispatcher{Outbox: ob, Channel: ch, Now: func() time.Time { return judged }, Limit: Limit{PerSecond: 50}}
	wall := time.Now()
	if err := d.Run(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if got := ob.statuses(); got["cancelled"] != 1 || got["sent"] != 2 {
		t.Fatalf("outbox %v", got)
	}
	// The second send waited 20 ms for the rate limit on the real clock,
	// though Now stands still.
	if took := time.Since(wall); took < 15*time.Millisecond {
		t.Errorf("2 sends at 50/s took %s", took)
	}
}
