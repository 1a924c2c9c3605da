package backend_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/relink/relink/backend"
	"github.com/relink/relink/config"
	"github.com/relink/relink/health"
	"github.com/relink/relink/provider"
	"github.com/relink/relink/provider/plaid"
	"github.com/relink/relink/provider/sandbox"
	"github.com/relink/relink/remind"
	"github.com/relink/relink/store"
	"github.com/relink/relink/ticket"
	"github.com/relink/relink/vault"
)

// rconn is one registry row and the health to give it.
type rconn struct {
	id, name, email, phone, user string
	cat                          health.Category
	warn                         health.Warning
	deadline                     *time.Time
	msg                          string
	provider                     string // default plaid
}

type rworld struct {
	t      testing.TB
	st     *store.Store
	desk   *backend.Backend
	emu    *sandbox.Plaid
	box    *sandbox.Mailbox
	mu     sync.Mutex
	base   time.Time // the clock reads base + the real time since started,
	start  time.Time // so retries come due; advance moves base
	dbPath string
	keyHex string
}

const publicURL = "https://relink.example.com"

// newRWorld opens a cache with conns registered and their health applied,
// a Plaid emulator holding them (so a reminder's link can be redeemed), a
// backend with durable links on, and a loopback mailbox.
func newRWorld(t testing.TB, conns ...rconn) *rworld {
	t.Helper()
	ctx := context.Background()
	w := &rworld{t: t, base: time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC), start: time.Now()}
	clock := w.now
	emu, err := sandbox.NewPlaid(sandbox.PlaidOptions{PerItemPerMinute: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	w.emu = emu
	key, hexKey, _ := vault.Generate()
	w.keyHex = hexKey
	w.dbPath = filepath.Join(t.TempDir(), "r.db")
	w.st, err = store.Open(ctx, w.dbPath, store.Options{Sealer: key, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.st.Close() })
	w.register(conns...)
	id, secret := emu.Credentials()
	pc, err := plaid.New(plaid.Config{BaseURL: emu.URL(), ClientID: id, Secret: secret, ClientName: "t", Language: "en",
		CountryCodes: []string{"US"}, HostedLink: true})
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ticket.LoadOrCreate(ticket.KeyPath(w.dbPath))
	if err != nil {
		t.Fatal(err)
	}
	w.desk = &backend.Backend{Store: w.st, Providers: map[string]provider.Provider{"plaid": pc}, Operator: "dana", Now: clock,
		Tickets: signer, PublicURL: publicURL + "/", LinkTTL: 72 * time.Hour}
	w.box, err = sandbox.StartMailbox(sandbox.MailboxOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.box.Close() })
	return w
}

func (w *rworld) register(conns ...rconn) {
	w.t.Helper()
	ctx := context.Background()
	im, err := w.st.BeginImport(ctx, "test")
	if err != nil {
		w.t.Fatal(err)
	}
	var obs []store.Observation
	for _, c := range conns {
		if c.provider == "" {
			c.provider = "plaid"
		}
		tok := ""
		if c.provider == "plaid" {
			tok = "access-sandbox-" + c.id + "-SECRET"
			if w.emu != nil {
				w.emu.AddConnection(sandbox.Connection{ID: c.id, AccessToken: tok, Code: "ITEM_LOGIN_REQUIRED", Institution: "Tartan Bank"})
			}
		}
		if err := im.Add(ctx, store.Registration{Provider: c.provider, ProviderID: c.id, AccessToken: tok, UserRef: c.user,
			Name: c.name, Email: c.email, Phone: c.phone, Institution: "Tartan Bank"}); err != nil {
			w.t.Fatal(err)
		}
		if c.cat == "" || c.cat == health.Unknown {
			continue
		}
		at := w.now().Add(-time.Hour)
		obs = append(obs, store.Observation{Provider: c.provider, ProviderID: c.id, Kind: "poll", Signal: health.Signal{
			Effect: health.SetPrimary, Category: c.cat, UserMessage: c.msg, ProviderCode: "CODE", Source: health.SourcePoll, ObservedAt: at}})
		if c.warn != "" {
			obs = append(obs, store.Observation{Provider: c.provider, ProviderID: c.id, Kind: "webhook", EventID: "w-" + c.id,
				Signal: health.Signal{Effect: health.SetWarning, Warning: c.warn, Deadline: c.deadline, Source: health.SourceWebhook, ObservedAt: at}})
		}
	}
	if err := im.Commit(ctx, "test"); err != nil {
		w.t.Fatal(err)
	}
	if _, err := w.st.Apply(ctx, obs); err != nil {
		w.t.Fatal(err)
	}
}

func (w *rworld) now() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.base.Add(time.Since(w.start))
}

func (w *rworld) advance(d time.Duration) { w.mu.Lock(); w.base = w.base.Add(d); w.mu.Unlock() }

func (w *rworld) setHealth(id string, cat health.Category) {
	w.t.Helper()
	w.advance(time.Second)
	if _, err := w.st.Apply(context.Background(), []store.Observation{{Provider: "plaid", ProviderID: id, Kind: "poll",
		Signal: health.Signal{Effect: health.SetPrimary, Category: cat, Source: health.SourcePoll, ObservedAt: w.now()}}}); err != nil {
		w.t.Fatal(err)
	}
}

// reminders builds the backend's reminders over the mailbox; mod adjusts
// the options.
func (w *rworld) reminders(mod func(*backend.RemindOptions)) *backend.Reminders {
	w.t.Helper()
	tpl, err := remind.LoadTemplates("")
	if err != nil {
		w.t.Fatal(err)
	}
	email, err := remind.NewEmail(remind.EmailOptions{Email: w.box.EmailConfig("Acme Support <support@acme.example>")})
	if err != nil {
		w.t.Fatal(err)
	}
	o := backend.RemindOptions{Templates: tpl, Channels: map[string]remind.Channel{remind.Email: email}, Cooldown: 24 * time.Hour,
		Backoff: remind.Backoff{Base: 5 * time.Millisecond, Max: 20 * time.Millisecond, MaxAttempts: 4}}
	if mod != nil {
		mod(&o)
	}
	r, err := backend.NewReminders(w.desk, o)
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(func() { r.Close() })
	return r
}

func (w *rworld) mustPlan(r *backend.Reminders, a backend.Audience) backend.Plan {
	w.t.Helper()
	p, err := r.Plan(context.Background(), a, remind.Email)
	if err != nil {
		w.t.Fatal(err)
	}
	return p
}

func (w *rworld) mustSend(r *backend.Reminders, p backend.Plan) backend.Report {
	w.t.Helper()
	rep, err := r.SendReminders(context.Background(), p, nil)
	if err != nil {
		w.t.Fatal(err)
	}
	return rep
}

// received counts the mailbox's messages per recipient.
func (w *rworld) received() map[string]int {
	out := map[string]int{}
	for _, m := range w.box.Messages() {
		for _, to := range m.To {
			out[to]++
		}
	}
	return out
}

var people = []rconn{
	{id: "ana-locked", name: "Ana Silva", email: "ana@example.com", user: "u-ana", cat: health.AccountLocked, msg: "Your account is locked."},
	{id: "ana-login", name: "Ana Silva", email: "ana@example.com", user: "u-ana", cat: health.LoginRequired},
	{id: "bob-pw", name: "Bob Reyes", email: "bob@example.com", user: "u-bob", cat: health.PasswordExpired},
	{id: "carl-down", name: "Carl", email: "carl@example.com", user: "u-carl", cat: health.InstitutionDown},
	{id: "dee-nomail", name: "Dee", phone: "+15551234567", user: "u-dee", cat: health.MFARequired},
	{id: "eve-ok", name: "Eve", email: "eve@example.com", user: "u-eve", cat: health.Healthy},
	{id: "fay-revoked", name: "Fay", email: "fay@example.com", user: "u-fay", cat: health.PermissionRevoked},
}

func refs(conns []rconn) []string {
	var out []string
	for _, c := range conns {
		out = append(out, "plaid:"+c.id)
	}
	return out
}

func TestRemindersReachAMailboxWithDurableLinks(t *testing.T) {
	w := newRWorld(t, people...)
	r := w.reminders(nil)
	ctx := context.Background()
	plan, err := r.PlanReminders(ctx, refs(people), remind.Email)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Messages) != 2 || plan.Connections() != 3 || plan.Considered != 7 {
		t.Fatalf("plan: %d messages, %d connections: %+v", len(plan.Messages), plan.Connections(), plan.Messages)
	}
	if m := plan.Messages[0]; m.To != "ana@example.com" || len(m.Conns) != 2 || m.Conns[0].Category != health.AccountLocked {
		t.Fatalf("ana's message covers both her connections, worst first: %+v", m)
	}
	skips := plan.SkipCounts()
	if skips[remind.ReasonNotUsers] != 1 || skips[remind.ReasonNoAddress] != 1 || skips[remind.ReasonHealthy] != 1 || skips[remind.ReasonRevoked] != 1 {
		t.Fatalf("skips %v", plan.Skipped)
	}
	if plan.Sample == nil || !strings.Contains(plan.Sample.Text, publicURL+"/r/…") || !strings.Contains(plan.Sample.Text, "First unlock it") {
		t.Fatalf("sample %+v", plan.Sample)
	}
	if n, _ := w.st.OutboxCounts(ctx); len(n) != 0 {
		t.Fatal("planning queued something")
	}

	var calls [][2]int
	rep, err := r.SendReminders(ctx, plan, func(done, total int) { calls = append(calls, [2]int{done, total}) })
	if err != nil {
		t.Fatal(err)
	}
	if rep.Sent != 2 || rep.Connections != 3 || len(rep.Failed) != 0 || rep.Skipped[remind.ReasonNotUsers] != 1 {
		t.Fatalf("report %+v", rep)
	}
	if last := calls[len(calls)-1]; last != [2]int{2, 2} {
		t.Fatalf("progress %v", calls)
	}
	if s := rep.Summary(); s != "2 sent · 4 skipped (1 healthy again, 1 no address, 1 not the user's to fix, 1 user revoked access) · 0 failed" {
		t.Fatalf("summary %q", s)
	}
	got := w.received()
	if len(got) != 2 || got["ana@example.com"] != 1 || got["bob@example.com"] != 1 {
		t.Fatalf("received %v", got)
	}
	var ana sandbox.Mail
	for _, m := range w.box.Messages() {
		if m.To[0] == "ana@example.com" {
			ana = m
		}
	}
	if ana.Subject != "Action needed: 2 of your connected accounts need you" || !strings.Contains(ana.Text, "First unlock it with Tartan Bank") ||
		!strings.Contains(ana.Text, `Details: "Your account is locked."`) {
		t.Fatalf("ana's mail: %q\n%s", ana.Subject, ana.Text)
	}
	links := regexp.MustCompile(regexp.QuoteMeta(publicURL)+`/r/[^\s"<]+`).FindAllString(ana.Text, -1)
	if len(links) != 2 || links[0] == links[1] {
		t.Fatalf("want a durable link per connection: %v\n%s", links, ana.Text)
	}
	// The link in the mail is a real durable link: redeeming it mints a
	// fresh provider token.
	tok, _ := url.PathUnescape(strings.TrimPrefix(links[0], publicURL+"/r/"))
	red, err := w.desk.Redeem(ctx, tok)
	if err != nil || red.Outcome != backend.Redirect || red.Connection != "plaid:ana-locked" {
		t.Fatalf("redeeming the mailed link: %+v %v", red, err)
	}
	c, _ := w.st.Connection(ctx, "plaid", "ana-login")
	if c.LastRemindedAt == nil || w.now().Sub(*c.LastRemindedAt) > time.Minute {
		t.Fatalf("last_reminded_at %v", c.LastRemindedAt)
	}
	hist, _ := w.st.History(ctx, c.ID, 10)
	var kinds []string
	for _, h := range hist {
		kinds = append(kinds, h.Kind)
		if strings.Contains(h.Summary, "SECRET") {
			t.Fatalf("a token in history: %q", h.Summary)
		}
	}
	if !strings.Contains(strings.Join(kinds, ","), "reminder") || !strings.Contains(strings.Join(kinds, ","), "link") {
		t.Fatalf("history %v", kinds)
	}
	for _, m := range w.box.Messages() {
		if strings.Contains(m.Text+m.HTML, "SECRET") {
			t.Fatal("a token in a reminder")
		}
	}
}

func TestSendingAPlanTwiceSendsOnce(t *testing.T) {
	ctx := context.Background()
	w := newRWorld(t, people...)
	r := w.reminders(nil)
	plan := w.mustPlan(r, backend.Audience{AllFailing: true})
	// Two operators confirm the same plan at once, then one clicks again.
	var wg sync.WaitGroup
	reps := make([]backend.Report, 2)
	for i := range reps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			if reps[i], err = r.SendReminders(ctx, plan, nil); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	third := w.mustSend(r, plan)
	if got := w.received(); len(got) != 2 || got["ana@example.com"] != 1 || got["bob@example.com"] != 1 {
		t.Fatalf("received %v", got)
	}
	if reps[0].Sent+reps[1].Sent != 2 || third.Sent != 0 || third.Skipped[remind.ReasonCooldown]+third.Skipped[remind.ReasonQueued] != 3 {
		t.Fatalf("reports %+v %+v %+v", reps[0], reps[1], third)
	}
	// A new plan within the cooldown skips them.
	again := w.mustPlan(r, backend.Audience{AllFailing: true})
	if len(again.Messages) != 0 || again.SkipCounts()[remind.ReasonCooldown] != 3 {
		t.Fatalf("replan: %+v", again.Skipped)
	}
	// Without a cooldown, a new plan sends again, but the same plan never.
	r0 := w.reminders(func(o *backend.RemindOptions) { o.Cooldown = 0 })
	p0 := w.mustPlan(r0, backend.Audience{Refs: []string{"plaid:bob-pw"}})
	w.mustSend(r0, p0)
	if rep := w.mustSend(r0, p0); rep.Sent != 0 || rep.Skipped[remind.ReasonDuplicate] != 1 {
		t.Fatalf("the same plan twice: %+v", rep)
	}
	if got := w.received()["bob@example.com"]; got != 2 {
		t.Fatalf("bob got %d", got)
	}
}

func TestSkipReasonsThroughTheDesk(t *testing.T) {
	ctx := context.Background()
	past := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	soon := time.Date(2026, 3, 20, 0, 0, 0, 0, time.UTC)
	w := newRWorld(t, append(people,
		rconn{id: "gus-expiring", name: "Gus", email: "gus@example.com", user: "u-gus", cat: health.Healthy, warn: health.ConsentExpiring, deadline: &soon},
		rconn{id: "hal-passed", name: "Hal", email: "hal@example.com", user: "u-hal", cat: health.Healthy, warn: health.ConsentExpiring, deadline: &past},
		rconn{id: "ivy-unchecked", name: "Ivy", email: "ivy@example.com", user: "u-ivy"},
		rconn{id: "jo-belvo", name: "Jo", email: "jo@example.com", user: "u-jo", cat: health.LoginRequired, provider: "belvo"},
		rconn{id: "kim-consent", name: "Kim", email: "kim@example.com", user: "u-kim", cat: health.ConsentInsufficient},
	)...)
	lisbon, _ := time.LoadLocation("Europe/Lisbon")
	quiet, _ := remind.ParseQuietHours("21:00-08:00", lisbon)
	r := w.reminders(func(o *backend.RemindOptions) { o.Quiet = quiet })
	all := append(refs(people), "plaid:gus-expiring", "plaid:hal-passed", "plaid:ivy-unchecked", "belvo:jo-belvo", "plaid:kim-consent")
	plan, err := r.PlanReminders(ctx, all, remind.Email)
	if err != nil {
		t.Fatal(err)
	}
	want := map[remind.Reason]int{remind.ReasonNotUsers: 1, remind.ReasonNoAddress: 1, remind.ReasonHealthy: 1, remind.ReasonRevoked: 1,
		remind.ReasonDeadlinePassed: 1, remind.ReasonUnchecked: 1, remind.ReasonNoLink: 1, remind.ReasonOptional: 1}
	if got := plan.SkipCounts(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("skips %v, want %v", got, want)
	}
	for _, s := range plan.Skipped {
		if s.Detail == "" || s.Ref == "" {
			t.Errorf("a skip without its reason: %+v", s)
		}
	}
	if len(plan.Messages) != 3 { // ana (2), bob, gus (the warning)
		t.Fatalf("messages %+v", plan.Messages)
	}
	// Bob is fixed between the preview and the confirm: not sent.
	w.setHealth("bob-pw", health.Healthy)
	rep := w.mustSend(r, plan)
	if rep.Sent != 2 || rep.Skipped[remind.ReasonHealthy] != 2 {
		t.Fatalf("report %+v", rep)
	}
	if w.received()["gus@example.com"] != 1 {
		t.Fatal("the warning was not sent")
	}
	var gus sandbox.Mail
	for _, m := range w.box.Messages() {
		if m.To[0] == "gus@example.com" {
			gus = m
		}
	}
	if !strings.Contains(gus.Subject, "stops working on Friday 20 March 2026") {
		t.Fatalf("a warning names its deadline: %q", gus.Subject)
	}
	// Within the cooldown.
	w.advance(time.Hour)
	w.setHealth("bob-pw", health.PasswordExpired)
	plan = w.mustPlan(r, backend.Audience{Refs: []string{"plaid:ana-locked", "plaid:bob-pw"}})
	if c := plan.SkipCounts(); c[remind.ReasonCooldown] != 1 || len(plan.Messages) != 1 {
		t.Fatalf("cooldown: %v", plan.Skipped)
	}
	// Quiet hours in the operator's zone: 22:00 in Lisbon.
	w.advance(9 * time.Hour)
	plan = w.mustPlan(r, backend.Audience{Refs: []string{"plaid:bob-pw"}})
	if c := plan.SkipCounts(); c[remind.ReasonQuietHours] != 1 || len(plan.Messages) != 0 {
		t.Fatalf("quiet hours: %v", plan.Skipped)
	}
	// A plan made before quiet hours is not sent during them.
	w.advance(12 * time.Hour)
	plan = w.mustPlan(r, backend.Audience{Refs: []string{"plaid:bob-pw"}})
	w.advance(-12 * time.Hour)
	if rep := w.mustSend(r, plan); rep.Sent != 0 || rep.Skipped[remind.ReasonQuietHours] != 1 {
		t.Fatalf("send in quiet hours: %+v", rep)
	}
	// Already queued: a message left queued by a run whose SMTP server was down.
	w.advance(12 * time.Hour)
	down := w.reminders(func(o *backend.RemindOptions) {
		o.Quiet = quiet
		o.Channels = map[string]remind.Channel{remind.Email: deadEmail(t)}
	})
	if _, err := down.SendReminders(ctx, plan, nil); err == nil {
		t.Fatal("sending through a server that is down")
	}
	plan = w.mustPlan(r, backend.Audience{Refs: []string{"plaid:bob-pw"}})
	if c := plan.SkipCounts(); c[remind.ReasonQueued] != 1 {
		t.Fatalf("queued: %v", plan.Skipped)
	}
	// Categories and warnings select the audience too.
	byCat, err := r.Plan(ctx, backend.Audience{Category: "consent_expiring"}, remind.Email)
	if err != nil || byCat.Considered != 2 {
		t.Fatalf("by warning: %d %v", byCat.Considered, err)
	}
	if _, err := r.Plan(ctx, backend.Audience{Category: "healthy"}, remind.Email); err == nil {
		t.Fatal("healthy is not a category to remind")
	}
	if _, err := r.PlanReminders(ctx, []string{"plaid:nope"}, remind.Email); err == nil || !strings.Contains(err.Error(), "not in the cache") {
		t.Fatalf("unknown ref: %v", err)
	}
}

func TestTransientFailuresRetryAndPermanentOnesFail(t *testing.T) {
	ctx := context.Background()
	w := newRWorld(t, people...)
	var mu sync.Mutex
	tries := map[string]int{}
	w.box.Close()
	box, err := sandbox.StartMailbox(sandbox.MailboxOptions{Reject: func(_ string, to []string) error {
		mu.Lock()
		defer mu.Unlock()
		tries[to[0]]++
		switch {
		case to[0] == "ana@example.com" && tries[to[0]] <= 2:
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "greylisted, try again"}
		case to[0] == "bob@example.com":
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
		}
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer box.Close()
	w.box = box
	r := w.reminders(nil)
	rep, err := r.SendReminders(ctx, w.mustPlan(r, backend.Audience{AllFailing: true}), nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Sent != 1 || len(rep.Failed) != 1 || rep.Failed[0].To != "bob@example.com" || !strings.Contains(rep.Failed[0].Reason, "550") {
		t.Fatalf("report %+v", rep)
	}
	if tries["ana@example.com"] != 3 || w.received()["ana@example.com"] != 1 {
		t.Fatalf("ana: %d tries, %d received", tries["ana@example.com"], w.received()["ana@example.com"])
	}
	c, _ := w.st.Connection(ctx, "plaid", "ana-login")
	rs, _ := w.st.RemindersOf(ctx, c.ID, 5)
	if len(rs) != 1 || rs[0].Status != "sent" || rs[0].Attempts != 3 {
		t.Fatalf("ana's reminder %+v", rs)
	}
	c, _ = w.st.Connection(ctx, "plaid", "bob-pw")
	rs, _ = w.st.RemindersOf(ctx, c.ID, 5)
	if len(rs) != 1 || rs[0].Status != "failed" || !strings.Contains(rs[0].LastError, "no such user") || c.LastRemindedAt != nil {
		t.Fatalf("bob's reminder %+v", rs)
	}
	if !strings.Contains(rep.Summary(), "1 failed") {
		t.Fatal(rep.Summary())
	}
}

func TestChannelDownKeepsTheRestQueuedForTheNextRun(t *testing.T) {
	ctx := context.Background()
	w := newRWorld(t, people...)
	addr := w.box.Addr()
	w.box.Close() // the SMTP server is down
	r := w.reminders(nil)
	rep, err := r.SendReminders(ctx, w.mustPlan(r, backend.Audience{AllFailing: true}), nil)
	if err == nil || !strings.Contains(err.Error(), "connecting to SMTP server") || !strings.Contains(err.Error(), "stay queued") {
		t.Fatalf("err %v", err)
	}
	if rep.Sent != 0 || rep.Pending == 0 || len(rep.Failed) != 0 {
		t.Fatalf("report %+v", rep)
	}
	box, err := sandbox.StartMailbox(sandbox.MailboxOptions{Addr: addr})
	if err != nil {
		t.Skipf("could not listen on %s again: %v", addr, err)
	}
	defer box.Close()
	w.box = box
	// The next run, with nothing new to send, delivers what was queued.
	rep, err = r.SendReminders(ctx, backend.Plan{Channel: remind.Email}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Sent+rep.Cancelled == 0 || rep.Resumed == 0 {
		t.Fatalf("resume %+v", rep)
	}
	// Whatever was not queued before the stop is planned afresh.
	rep = w.mustSend(r, w.mustPlan(r, backend.Audience{AllFailing: true}))
	if got := w.received(); got["ana@example.com"] != 1 || got["bob@example.com"] != 1 {
		t.Fatalf("received %v (last %+v)", got, rep)
	}
}

func TestWebhookChannelThroughTheDesk(t *testing.T) {
	w := newRWorld(t, people...)
	var mu sync.Mutex
	var keys []string
	hook := newHookServer(t, "whsec-desk-0123456789", func(key string) { mu.Lock(); keys = append(keys, key); mu.Unlock() })
	wh, err := remind.NewWebhook(remind.WebhookOptions{URL: hook, Secret: "whsec-desk-0123456789"})
	if err != nil {
		t.Fatal(err)
	}
	r := w.reminders(func(o *backend.RemindOptions) { o.Channels = map[string]remind.Channel{remind.Webhook: wh} })
	if err := r.Ready(remind.Email); err == nil {
		t.Fatal("email is not configured here")
	}
	plan, err := r.Plan(context.Background(), backend.Audience{AllFailing: true}, remind.Webhook)
	if err != nil {
		t.Fatal(err)
	}
	// The webhook reaches users without an email (Dee, by user_ref).
	if len(plan.Messages) != 3 {
		t.Fatalf("messages %+v", plan.Messages)
	}
	rep := w.mustSend(r, plan)
	if rep.Sent != 3 || len(keys) != 3 {
		t.Fatalf("report %+v, %d deliveries", rep, len(keys))
	}
}

// ---- crash safety ----

const crashChildEnv = "RELINK_REMIND_CRASH_CHILD"

// TestRemindCrashChild is the child process of TestCrashMidBulkLosesNothing:
// it reminds every failing connection of the parent's database over the
// parent's mailbox, and exits 0 when done. It does nothing in a normal run.
func TestRemindCrashChild(t *testing.T) {
	spec := os.Getenv(crashChildEnv)
	if spec == "" {
		t.Skip("the child of the crash test")
	}
	var db, keyHex, smtpAddr string
	var conc int
	fmt.Sscanf(spec, "%s %s %s %d", &db, &keyHex, &smtpAddr, &conc)
	ctx := context.Background()
	key, err := vault.ParseKey(keyHex)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(ctx, db, store.Options{Sealer: key})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	signer, err := ticket.LoadOrCreate(ticket.KeyPath(db))
	if err != nil {
		t.Fatal(err)
	}
	pc, err := plaid.New(plaid.Config{BaseURL: "http://127.0.0.1:9", ClientID: "x", Secret: "y", ClientName: "t", Language: "en",
		CountryCodes: []string{"US"}, HostedLink: true}) // never called: durable links mint no token
	if err != nil {
		t.Fatal(err)
	}
	d := &backend.Backend{Store: st, Providers: map[string]provider.Provider{"plaid": pc}, Operator: "child", Now: time.Now,
		Tickets: signer, PublicURL: publicURL, LinkTTL: time.Hour}
	host, port, _ := strings.Cut(smtpAddr, ":")
	p, _ := strconv.Atoi(port)
	email, err := remind.NewEmail(remind.EmailOptions{Email: configEmail(host, p)})
	if err != nil {
		t.Fatal(err)
	}
	tpl, _ := remind.LoadTemplates("")
	r, err := backend.NewReminders(d, backend.RemindOptions{Templates: tpl, Channels: map[string]remind.Channel{remind.Email: email},
		Cooldown: 24 * time.Hour, Limits: map[string]remind.Limit{remind.Email: {Concurrency: conc, PerSecond: 1500}}})
	if err != nil {
		t.Fatal(err)
	}
	plan, err := r.Plan(ctx, backend.Audience{AllFailing: true}, remind.Email)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := r.SendReminders(ctx, plan, nil)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("child: %s\n", rep.Summary())
}

func TestCrashMidBulkLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("re-executes the test binary")
	}
	// A kill point is "links N" (N durable links minted: the first chunk
	// is being prepared, nothing queued yet) or "mail N" (the mailbox has
	// received N messages: mid-send).
	for _, tc := range []struct {
		conc  int
		kills []string
	}{{1, []string{"mail 150"}}, {4, []string{"links 60", "mail 100", "mail 200", "mail 300"}}} {
		t.Run(fmt.Sprintf("concurrency %d, kills at %v", tc.conc, tc.kills), func(t *testing.T) {
			const n = 400
			var conns []rconn
			for i := range n {
				conns = append(conns, rconn{id: fmt.Sprintf("item-%04d", i), name: "User", email: fmt.Sprintf("user%04d@example.com", i),
					user: fmt.Sprintf("u%04d", i), cat: health.LoginRequired})
			}
			w := newRWorld(t, conns...)
			w.st.Close() // the children own the database
			ctx := context.Background()
			watch, err := store.Open(ctx, w.dbPath, store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer watch.Close()
			reached := func(point string) bool {
				var what string
				var at int
				fmt.Sscanf(point, "%s %d", &what, &at)
				if what == "mail" {
					return w.box.Wait(at, 30*time.Second)
				}
				for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
					links := 0
					watch.AuditSince(ctx, time.Time{}, func(e store.AuditEntry) error {
						if e.Action == "link" {
							links++
						}
						return nil
					})
					if links >= at {
						return true
					}
				}
				return false
			}
			inflight := 0 // messages that can have been in flight at the kills
			run := func(killAt string) bool {
				cmd := exec.Command(os.Args[0], "-test.run=^TestRemindCrashChild$", "-test.count=1")
				cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s %s %s %d", crashChildEnv, w.dbPath, w.keyHex, w.box.Addr(), tc.conc))
				var out strings.Builder
				cmd.Stdout, cmd.Stderr = &out, &out
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				if killAt != "" && reached(killAt) {
					cmd.Process.Kill() // SIGKILL: no defer, no cleanup
					cmd.Wait()
					counts, _ := watch.OutboxCounts(ctx)
					t.Logf("killed at %s: %d received, outbox %v", killAt, w.box.Count(), counts)
					inflight += min(counts["sending"], tc.conc) // claimed ahead but not handed over: no duplicate
					return true
				}
				if err := cmd.Wait(); err != nil {
					t.Fatalf("child: %v\n%s", err, out.String())
				}
				return false
			}
			for _, at := range tc.kills {
				if !run(at) {
					t.Fatalf("the child finished before %s", at)
				}
			}
			run("") // the restart finishes the job
			got := w.received()
			dups := 0
			for i := range n {
				c := got[fmt.Sprintf("user%04d@example.com", i)]
				if c == 0 {
					t.Errorf("user%04d got nothing", i)
				}
				dups += max(c-1, 0)
			}
			if dups > inflight {
				t.Errorf("%d duplicates after %d kills: more than the %d messages in flight", dups, len(tc.kills), inflight)
			}
			t.Logf("%d messages for %d users after %d kills: %d duplicates, %d in flight at the kills", w.box.Count(), n, len(tc.kills), dups, inflight)
			counts, _ := watch.OutboxCounts(ctx)
			if counts["sent"] != n || len(counts) != 1 {
				t.Errorf("outbox after the restart: %v", counts)
			}
		})
	}
}

// ---- helpers ----

func configEmail(host string, port int) config.Email {
	return config.Email{SMTPHost: host, SMTPPort: port, From: "Acme Support <support@acme.example>", TLS: "none"}
}

// deadEmail is an email channel to a port nothing listens on.
func deadEmail(t testing.TB) remind.Channel {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	ch, err := remind.NewEmail(remind.EmailOptions{Email: configEmail("127.0.0.1", port), Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

// newHookServer is a team's own sender: it checks each webhook's signature
// and hands its idempotency key to onKey.
func newHookServer(t testing.TB, secret string, onKey func(string)) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := remind.VerifySignature([]byte(secret), r.Header.Get(remind.SignatureHeader), body, time.Now(), time.Minute); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		onKey(r.Header.Get("Idempotency-Key"))
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// BenchmarkRemind10k: plan and send 10,000 reminders (10,000 users, one
// failing connection each) through a loopback SMTP server: links minted,
// messages rendered, queued, sent and recorded. "unlimited" sends with 8
// at once and no rate limit; "default-limits" with DefaultLimit (8 at
// once, 200/s). It fails on any missing or duplicate message.
//
//	go test ./desk -run '^$' -bench Remind10k -benchtime 1x
func BenchmarkRemind10k(b *testing.B) {
	const n = 10_000
	for _, bc := range []struct {
		name  string
		limit *remind.Limit
	}{{"unlimited", &remind.Limit{Concurrency: 8}}, {"default-limits", nil}} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				var conns []rconn
				for i := range n {
					conns = append(conns, rconn{id: fmt.Sprintf("item-%05d", i), name: "User", email: fmt.Sprintf("user%05d@example.com", i),
						user: fmt.Sprintf("u%05d", i), cat: health.LoginRequired})
				}
				w := newRWorld(b, conns...)
				r := w.reminders(func(o *backend.RemindOptions) {
					if bc.limit != nil {
						o.Limits = map[string]remind.Limit{remind.Email: *bc.limit}
					}
				})
				ctx := context.Background()
				b.StartTimer()
				start := time.Now()
				plan, err := r.Plan(ctx, backend.Audience{AllFailing: true}, remind.Email)
				if err != nil {
					b.Fatal(err)
				}
				planned := time.Since(start)
				rep, err := r.SendReminders(ctx, plan, nil)
				if err != nil {
					b.Fatal(err)
				}
				wall := time.Since(start)
				b.StopTimer()
				got := w.received()
				if rep.Sent != n || w.box.Count() != n || len(got) != n {
					b.Fatalf("sent %d, mailbox %d messages to %d recipients; want %d", rep.Sent, w.box.Count(), len(got), n)
				}
				b.ReportMetric(wall.Seconds(), "s/10k")
				b.ReportMetric(planned.Seconds(), "s-plan")
				b.ReportMetric(float64(n)/wall.Seconds(), "msg/s")
				b.StartTimer()
			}
		})
	}
}

// Copies made with As act as another person: each one's sends name it in
// the audit log and the history, the original keeps its own name, and two
// copies sending the same plan at once send it once (they share the outbox,
// its claimant and the write lock).
func TestRemindersAsNameThePerson(t *testing.T) {
	w := newRWorld(t, people...)
	r := w.reminders(nil)
	lee, sam := r.As("lee"), r.As("sam")
	if r.Operator == "lee" || lee.Operator != "lee" || sam.Operator != "sam" || lee.Store != r.Store {
		t.Fatalf("operators: %q %q %q", r.Operator, lee.Operator, sam.Operator)
	}
	ctx := context.Background()
	plan, err := lee.PlanReminders(ctx, []string{"plaid:bob-pw"}, remind.Email)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	reps := make([]backend.Report, 2)
	errs := make([]error, 2)
	for i, who := range []*backend.Reminders{lee, sam} {
		wg.Go(func() { reps[i], errs[i] = who.SendReminders(ctx, plan, nil) })
	}
	wg.Wait()
	if errs[0] != nil || errs[1] != nil {
		t.Fatal(errs)
	}
	if got := w.received()["bob@example.com"]; got != 1 || reps[0].Sent+reps[1].Sent != 1 {
		t.Fatalf("bob got %d messages; sent %d + %d", got, reps[0].Sent, reps[1].Sent)
	}
	if _, err := sam.DurableLink(ctx, "plaid:carl-down"); err != nil {
		t.Fatal(err)
	}
	var lines []string
	w.st.AuditSince(ctx, time.Time{}, func(e store.AuditEntry) error {
		if e.Action == "remind" || e.Action == "link" {
			lines = append(lines, e.Operator+" "+e.Action+" "+e.Target)
		}
		return nil
	})
	got := strings.Join(lines, "; ")
	if !strings.Contains(got, "lee remind plaid:bob-pw") && !strings.Contains(got, "sam remind plaid:bob-pw") ||
		!strings.Contains(got, "sam link plaid:carl-down") {
		t.Fatalf("audit: %s", got)
	}
}
