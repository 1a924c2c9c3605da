package backend_test

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/relink/relink/backend"
	"github.com/relink/relink/health"
	"github.com/relink/relink/remind"
)

var hiro = rconn{id: "hiro-login", name: "Hiro Schmidt", email: "hiro@example.com", user: "u-hiro", cat: health.LoginRequired}

// Two agents on one hub, one user: the second to plan is told who
// reminded them and when, not only that a cooldown applies; a reminder
// still in the outbox is named as being sent by its person.
func TestASecondAgentsPlanNamesWhoRemindedTheUser(t *testing.T) {
	w := newRWorld(t, hiro, people[2])
	r := w.reminders(nil)
	dana, lee := r.As("dana"), r.As("lee")
	hiroOnly := backend.Audience{Refs: []string{"plaid:hiro-login"}}
	w.mustSend(dana, w.mustPlan(dana, hiroOnly))
	w.advance(12 * time.Second)

	plan := w.mustPlan(lee, hiroOnly)
	if len(plan.Messages) != 0 || len(plan.Skipped) != 1 {
		t.Fatalf("lee's plan: %+v", plan)
	}
	sk := plan.Skipped[0]
	if sk.Reason != remind.ReasonCooldown || sk.By != "dana" || sk.Detail != "dana reminded them 12s ago (cooldown 24h)" {
		t.Fatalf("lee is told %+v", sk)
	}
	// dana herself is told it was her.
	if own := w.mustPlan(dana, hiroOnly).Skipped[0]; own.Detail != "you reminded them 12s ago (cooldown 24h)" {
		t.Fatalf("dana is told %q", own.Detail)
	}

	// dana's reminder to Bob waits in the outbox (her mail server was down):
	// lee's plan says she is reminding him.
	down := w.reminders(func(o *backend.RemindOptions) { o.Channels = map[string]remind.Channel{remind.Email: deadEmail(t)} }).As("dana")
	bobOnly := backend.Audience{Refs: []string{"plaid:bob-pw"}}
	if _, err := down.SendReminders(context.Background(), w.mustPlan(down, bobOnly), nil); err == nil {
		t.Fatal("sending through a mail server that is down")
	}
	w.advance(3 * time.Minute)
	sk = w.mustPlan(lee, bobOnly).Skipped[0]
	if sk.Reason != remind.ReasonQueued || sk.By != "dana" || !strings.HasPrefix(sk.Detail, "dana is reminding them (queued 3m ago)") {
		t.Fatalf("lee is told %+v", sk)
	}
}

// Both agents planned before either sent: both confirm. The outbox lets one
// message through, and the second agent's report names who reminded Hiro
// instead of counting a bare "already sent".
func TestTheSecondOfTwoConfirmedSendsNamesTheFirst(t *testing.T) {
	w := newRWorld(t, hiro)
	r := w.reminders(nil)
	dana, lee := r.As("dana"), r.As("lee")
	hiroOnly := backend.Audience{Refs: []string{"plaid:hiro-login"}}
	danas, lees := w.mustPlan(dana, hiroOnly), w.mustPlan(lee, hiroOnly)
	if len(danas.Messages) != 1 || len(lees.Messages) != 1 {
		t.Fatal("both plans remind Hiro")
	}
	w.mustSend(dana, danas)
	rep := w.mustSend(lee, lees)
	if rep.Sent != 0 || len(rep.Beaten) != 1 || rep.Skipped[remind.ReasonCooldown] != 0 {
		t.Fatalf("lee's report: %+v", rep)
	}
	if s := rep.Summary(); s != "1 not sent: dana reminded Hiro Schmidt just now · 0 skipped · 0 failed" {
		t.Fatalf("lee's summary: %q", s)
	}
	if b := rep.Beaten[0]; b.To != "hiro@example.com" || len(b.Connections) != 1 || b.Connections[0] != "plaid:hiro-login" {
		t.Fatalf("beaten %+v", b)
	}
	if got := w.received()["hiro@example.com"]; got != 1 {
		t.Fatalf("Hiro got %d messages", got)
	}
}

// The real race: two agents' sessions plan the same user, then both send
// at once. Exactly one message reaches the mailbox, and the one whose
// message was not sent is told, by name, who reminded Hiro.
func TestTwoAgentsRacingToRemindOneUserSendOneMessage(t *testing.T) {
	for range 5 {
		w := newRWorld(t, hiro)
		r := w.reminders(nil)
		agents := []*backend.Reminders{r.As("dana"), r.As("lee")}
		hiroOnly := backend.Audience{Refs: []string{"plaid:hiro-login"}}
		plans := []backend.Plan{w.mustPlan(agents[0], hiroOnly), w.mustPlan(agents[1], hiroOnly)}
		reps := make([]backend.Report, 2)
		errs := make([]error, 2)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range agents {
			wg.Go(func() {
				<-start
				reps[i], errs[i] = agents[i].SendReminders(context.Background(), plans[i], nil)
			})
		}
		close(start)
		wg.Wait()
		if errs[0] != nil || errs[1] != nil {
			t.Fatal(errs)
		}
		if got := w.received()["hiro@example.com"]; got != 1 || len(w.box.Messages()) != 1 {
			t.Fatalf("Hiro got %d messages", got)
		}
		winner, loser := 0, 1
		if reps[1].Sent == 1 {
			winner, loser = 1, 0
		}
		if reps[winner].Sent != 1 || reps[loser].Sent != 0 || len(reps[loser].Beaten) != 1 {
			t.Fatalf("reports: %+v / %+v", reps[winner], reps[loser])
		}
		who := agents[winner].Operator
		if b := reps[loser].Beaten[0]; b.By != who || b.Name != "Hiro Schmidt" {
			t.Fatalf("%s is told %+v, not that %s reminded Hiro", agents[loser].Operator, b, who)
		}
		if s := reps[loser].Summary(); !strings.HasPrefix(s, "1 not sent: "+who+" ") || !strings.Contains(s, " Hiro Schmidt ") {
			t.Fatalf("the loser's summary: %q", s)
		}
	}
}

// firstHeld is a channel whose first send waits until release is closed;
// every later send goes straight through.
type firstHeld struct {
	remind.Channel
	once    sync.Once
	holding chan struct{} // closed when the first send is held
	release chan struct{}
}

func (f *firstHeld) Send(ctx context.Context, m remind.Message) error {
	first := false
	f.once.Do(func() { first = true })
	if first {
		close(f.holding)
		<-f.release
	}
	return f.Channel.Send(ctx, m)
}

// The hub's outbox run (an empty plan, every 30 s in relink serve) leaves
// a running send its messages, even those queued before the hub's run
// began: the agent who sent them is told every one was sent. It had taken
// those the agent's run had not claimed yet, and the agent read "2 sent"
// of six.
func TestTheHubsOutboxLeavesARunningSendItsMessages(t *testing.T) {
	var users []rconn
	for i := range 6 {
		users = append(users, rconn{id: fmt.Sprintf("u%d-login", i), name: fmt.Sprintf("User %d", i),
			email: fmt.Sprintf("u%d@example.com", i), user: fmt.Sprintf("u-%d", i), cat: health.LoginRequired})
	}
	w := newRWorld(t, users...)
	held := &firstHeld{holding: make(chan struct{}), release: make(chan struct{})}
	r := w.reminders(func(o *backend.RemindOptions) {
		held.Channel = o.Channels[remind.Email]
		o.Channels = map[string]remind.Channel{remind.Email: held}
		// One send at a time: the agent's run claims at most two ahead.
		o.Limits = map[string]remind.Limit{remind.Email: {Concurrency: 1, PerSecond: 1000}}
	})
	dana, hub := r.As("dana"), r.As("the hub")
	plan := w.mustPlan(dana, backend.Audience{Category: string(health.LoginRequired)})
	if len(plan.Messages) != 6 {
		t.Fatalf("dana's plan has %d messages", len(plan.Messages))
	}
	ctx := context.Background()
	type result struct {
		rep backend.Report
		err error
	}
	danas := make(chan result, 1)
	go func() {
		rep, err := dana.SendReminders(ctx, plan, nil)
		danas <- result{rep, err}
	}()
	<-held.holding
	// dana's first message is with the mail server; the rest are queued.
	for {
		n, err := w.st.QueuedReminders(ctx, remind.Email)
		if err != nil {
			t.Fatal(err)
		}
		if n >= 4 {
			break
		}
		runtime.Gosched()
	}
	hubs, err := hub.SendReminders(ctx, backend.Plan{Channel: remind.Email}, nil)
	if err != nil {
		t.Fatal(err)
	}
	close(held.release)
	got := <-danas
	if got.err != nil {
		t.Fatal(got.err)
	}
	if hubs.Sent != 0 || got.rep.Sent != 6 {
		t.Fatalf("the hub sent %d of dana's messages while she sent them; dana's report: %d sent (%s)",
			hubs.Sent, got.rep.Sent, got.rep.Summary())
	}
	if n := len(w.box.Messages()); n != 6 {
		t.Fatalf("%d messages reached the mailbox, want 6", n)
	}
}
