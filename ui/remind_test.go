package ui

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/relink/relink/backend"
	"github.com/relink/relink/health"
	"github.com/relink/relink/provider"
	"github.com/relink/relink/provider/plaid"
	"github.com/relink/relink/provider/sandbox"
	"github.com/relink/relink/remind"
	"github.com/relink/relink/store"
	"github.com/relink/relink/ticket"
)

var _ Reminders = (*backend.Reminders)(nil)

const testPublicURL = "https://relink.example.com"

// testReminders are real reminders over st, on the clock now. Plaid (a
// client of the Plaid emulator on loopback) is configured, so its rows get
// durable links, signed with a key in t.TempDir(); Belvo and Cobalt are
// not, so theirs are skipped for having no reconnect link. Email goes to a
// real SMTP mailbox on loopback.
func testReminders(t testing.TB, st *store.Store, now func() time.Time) (*backend.Reminders, *sandbox.Mailbox) {
	t.Helper()
	return testRemindersWith(t, st, now, sandbox.MailboxOptions{}, nil)
}

// testRemindersWith are testReminders with their mailbox's options, and
// tune (when not nil) changing their options.
func testRemindersWith(t testing.TB, st *store.Store, now func() time.Time, mo sandbox.MailboxOptions,
	tune func(*backend.RemindOptions)) (*backend.Reminders, *sandbox.Mailbox) {
	t.Helper()
	emu, err := sandbox.NewPlaid(sandbox.PlaidOptions{PerItemPerMinute: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	id, secret := emu.Credentials()
	pc, err := plaid.New(plaid.Config{BaseURL: emu.URL(), ClientID: id, Secret: secret, ClientName: "relink test", Language: "en",
		CountryCodes: []string{"US"}, HostedLink: true})
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ticket.LoadOrCreate(filepath.Join(t.TempDir(), "link.key"))
	if err != nil {
		t.Fatal(err)
	}
	d := &backend.Backend{Store: st, Providers: map[string]provider.Provider{"plaid": pc}, Operator: "dana", Now: now,
		Tickets: signer, PublicURL: testPublicURL, LinkTTL: 168 * time.Hour}
	box, err := sandbox.StartMailbox(mo)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { box.Close() })
	email, err := remind.NewEmail(remind.EmailOptions{Email: box.EmailConfig("Acme Support <support@acme.example>")})
	if err != nil {
		t.Fatal(err)
	}
	tpl, err := remind.LoadTemplates("")
	if err != nil {
		t.Fatal(err)
	}
	ro := backend.RemindOptions{Templates: tpl, Channels: map[string]remind.Channel{remind.Email: email},
		Cooldown: 24 * time.Hour, Backoff: remind.Backoff{Base: 5 * time.Millisecond, Max: 20 * time.Millisecond, MaxAttempts: 3}}
	if tune != nil {
		tune(&ro)
	}
	rem, err := backend.NewReminders(d, ro)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rem.Close() })
	return rem, box
}

// selectWhere moves the cursor to the first loaded row that ok accepts.
func (h *harness) selectWhere(ok func(store.Connection) bool) {
	h.t.Helper()
	for i, c := range h.m.rows {
		if ok(c) {
			h.run(h.m.moveTo(h.m.rowsOff + i))
			return
		}
	}
	h.t.Fatal("no such row loaded")
}

// testRemindersFixed are testReminders on a clock that stays at epoch.
func testRemindersFixed(t testing.TB, st *store.Store) *backend.Reminders {
	t.Helper()
	rem, _ := testReminders(t, st, fixedClock)
	return rem
}

// fixedClock is a clock that stays at epoch.
func fixedClock() time.Time { return epoch }

// remindHarness is a harness over a fresh test store with real reminders
// on the harness's clock.
func remindHarness(t *testing.T, w, hh int) (*harness, *store.Store, *sandbox.Mailbox) {
	t.Helper()
	st := newStore(t)
	var h *harness
	rem, box := testReminders(t, st, func() time.Time { return h.clk.Now() })
	h = newHarness(t, st, Options{Reminders: rem, Operator: "dana"}, w, hh)
	return h, st, box
}

// remindable are the emails of the seeded connections a reminder reaches:
// failing Plaid rows whose problem is the user's to fix.
func remindable(t *testing.T, st *store.Store) []string {
	t.Helper()
	var out []string
	err := st.List(context.Background(), store.ListQuery{Failing: true}, func(c store.Connection) error {
		if c.Provider == "plaid" && c.Health.Category != health.InstitutionDown {
			out = append(out, c.Email)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

func outbox(t *testing.T, st *store.Store) map[string]int {
	t.Helper()
	n, err := st.OutboxCounts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestRemindPreviewsAsksAndSends marks every failing row and presses r:
// the preview counts the users and the connections they cover, groups the
// skips with their reasons and shows one rendered message with its link;
// No is the default and keys in the grace period are swallowed; y sends
// through a real SMTP mailbox with progress, the status line has the
// summary, and the rows then show when they were reminded.
func TestRemindPreviewsAsksAndSends(t *testing.T) {
	h, st, box := remindHarness(t, 120, 35)
	want := remindable(t, st)
	if len(want) != 12 {
		t.Fatalf("the seed has %d remindable connections, want 12", len(want))
	}
	h.press("A", "r")
	p, ok := h.m.overlay.(*previewOverlay)
	if !ok {
		t.Fatalf("r should preview first, overlay %T", h.m.overlay)
	}
	if len(h.m.tasks) != 0 || h.m.planning != 0 {
		t.Fatalf("the planning task is still shown: %+v", h.m.tasks)
	}
	screen := h.screen()
	mustContain(t, screen, "Remind by email",
		"To 12 users, covering 12 connections",
		"17 skipped: 12 no reconnect link, 5 not the user's to fix",
		"no reconnect link: ", "not the user's to fix: ",
		"Sample to "+p.plan.Sample.To,
		"Subject "+p.plan.Sample.Subject,
		"Link    "+testPublicURL+"/r/…",
		"│ Hello ",
		"Send 12 reminders by email?", "› No", "Yes")
	mustContain(t, h.line("Subject"), "reconnect")

	h.press("y", "enter") // typed before the dialog could be read: swallowed
	if h.m.overlay == nil || box.Count() != 0 {
		t.Fatalf("keys in the grace period answered: overlay %v, %d mails", h.m.overlay, box.Count())
	}
	h.advance(graceQuiet)
	h.press("enter") // No is the default
	if h.m.overlay != nil || box.Count() != 0 || len(outbox(t, st)) != 0 || len(h.m.tasks) != 0 {
		t.Fatalf("enter on No: overlay %v, %d mails, outbox %v", h.m.overlay, box.Count(), outbox(t, st))
	}
	if len(h.m.marks) != 29 {
		t.Fatalf("No should keep the marks: %d", len(h.m.marks))
	}

	h.press("r")
	h.advance(graceQuiet)
	var progress []string
	h.onMsg = func(msg tea.Msg) {
		if _, ok := msg.(remindProgressMsg); ok {
			progress = append(progress, h.line("sending reminders"))
		}
	}
	h.press("y")
	h.onMsg = nil
	if !box.Wait(12, 10*time.Second) {
		t.Fatalf("the mailbox got %d messages, want 12", box.Count())
	}
	var got []string
	for _, ml := range box.Messages() {
		if len(ml.To) != 1 {
			t.Fatalf("recipients %v", ml.To)
		}
		got = append(got, ml.To[0])
		if ml.Subject == "" || !strings.Contains(ml.Text, testPublicURL+"/r/") {
			t.Fatalf("mail to %v: subject %q, no durable link in:\n%s", ml.To, ml.Subject, ml.Text)
		}
	}
	slices.Sort(got)
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("mailed %v\nwant %v", got, want)
	}
	if len(progress) == 0 {
		t.Fatal("no progress was shown")
	}
	for _, l := range progress {
		if !regexp.MustCompile(`[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] sending reminders \d+/12`).MatchString(l) {
			t.Fatalf("progress line %q", l)
		}
	}
	mustContain(t, h.line("sent"), "✓ 12 sent · 17 skipped (12 no reconnect link, 5 not the user's to fix) · 0 failed")
	if len(h.m.marks) != 0 || len(h.m.tasks) != 0 {
		t.Fatalf("after sending: %d marks, tasks %+v", len(h.m.marks), h.m.tasks)
	}
	if n := outbox(t, st); n[store.ReminderSent] != 12 || len(n) != 1 {
		t.Fatalf("outbox %v", n)
	}

	// The rows say when: fed by last_reminded_at, re-read after the send.
	h.clk.now = h.clk.now.Add(2 * time.Hour)
	h.advance(h.m.opts.RefreshInterval)
	reminded, never := 0, 0
	for _, c := range h.m.rows {
		l := h.line(displayName(c))
		switch {
		case c.LastRemindedAt != nil && strings.Contains(l, " 2h ago "):
			reminded++
		case c.LastRemindedAt == nil && strings.Contains(l, "never"):
			never++
		case noRemindWord(c) != "" && strings.Contains(l, "✗ "+noRemindWord(c)): // a reminder cannot fix it, and it says so
		default:
			t.Fatalf("row %q (reminded %v)", l, c.LastRemindedAt)
		}
	}
	if reminded == 0 || never == 0 {
		t.Fatalf("%d rows reminded 2h ago, %d never:\n%s", reminded, never, h.screen())
	}
	mustContain(t, h.screen(), "reminded")

	// Again, within the cooldown: nothing to send, and why; no question.
	h.press("A", "r")
	p, ok = h.m.overlay.(*previewOverlay)
	if !ok || p.asks() {
		t.Fatalf("overlay %T", h.m.overlay)
	}
	mustContain(t, h.screen(), "Nothing to send. 29 skipped: 12 within cooldown, 12 no reconnect link, 5 not", "within cooldown: Ada Okafor,")
	if s := h.screen(); strings.Contains(s, "Send ") || strings.Contains(s, "Yes") {
		t.Fatalf("nothing to send, yet it asks:\n%s", s)
	}
	h.press("y")
	h.press("esc")
	if h.m.overlay != nil || box.Count() != 12 {
		t.Fatalf("overlay %v, %d mails", h.m.overlay, box.Count())
	}
}

// TestRemindSendsWhatAKilledRunLeft: another run (here, another claimant
// in this process, so "gone" by the outbox's rule) holds a message
// mid-send and dies. The dashboard's r takes it back before planning: the
// preview asks to send it, names it as recovered, and y delivers it once.
func TestRemindSendsWhatAKilledRunLeft(t *testing.T) {
	h, st, box := remindHarness(t, 120, 35)
	h.toGroup(string(health.LoginRequired))
	h.selectWhere(func(c store.Connection) bool { return c.Provider == "plaid" })
	ref := h.m.rows[h.m.cursor-h.m.rowsOff].Ref()

	held := make(chan struct{}, 1)
	release := make(chan struct{})
	stuck, _ := testRemindersWith(t, st, func() time.Time { return h.clk.Now() }, sandbox.MailboxOptions{
		Reject: func(string, []string) error {
			held <- struct{}{}
			<-release
			return fmt.Errorf("refused: its sender is gone")
		}}, func(o *backend.RemindOptions) {
		// One message at a time, and that one never finishes: like a killed
		// run, this one claims nothing more.
		o.Limits = map[string]remind.Limit{remind.Email: {Concurrency: 1, PerSecond: 100}}
	})
	plan, err := stuck.PlanReminders(context.Background(), []string{ref}, remind.Email)
	if err != nil || len(plan.Messages) != 1 {
		t.Fatalf("plan %+v, %v", plan, err)
	}
	sent := make(chan error, 1)
	go func() { _, err := stuck.SendReminders(context.Background(), plan, nil); sent <- err }()
	t.Cleanup(func() { close(release); <-sent }) // before the store and mailboxes close
	<-held                                       // the message is being sent, and its run will never finish it
	if n := outbox(t, st); n["sending"] != 1 {
		t.Fatalf("outbox %v, want one message being sent", n)
	}

	h.press("r")
	p, ok := h.m.overlay.(*previewOverlay)
	if !ok || !p.asks() {
		t.Fatalf("r should ask to send what the killed run left: overlay %T %+v", h.m.overlay, p)
	}
	mustContain(t, h.screen(), "1 reminder left queued by an interrupted run (1 recovered: that run stopped", // wrapped
		"while sending them)", "Send 1 reminder by email?")
	h.advance(graceQuiet)
	h.press("y")
	if !box.Wait(1, 10*time.Second) {
		t.Fatalf("the mailbox got %d messages, want 1", box.Count())
	}
	mustContain(t, h.screen(), "1 sent (1 resumed from an interrupted run, 1 of them recovered mid-send)")
	if n := outbox(t, st); n["sent"] != 1 || n["sending"] != 0 {
		t.Fatalf("outbox %v", n)
	}
}

func TestRemindNothingToSendSaysWhy(t *testing.T) {
	h, st, box := remindHarness(t, 80, 24)
	h.toGroup(string(health.InstitutionDown))
	name := h.selectedName(t)
	h.press("r")
	if p, ok := h.m.overlay.(*previewOverlay); !ok || p.asks() {
		t.Fatalf("overlay %T", h.m.overlay)
	}
	s := h.screen()
	mustContain(t, s, "Nothing to send. 1 skipped: 1 not the user's to fix",
		"not the user's to fix: "+name+" · institution_down is not the", "esc closes")
	if strings.Contains(s, "Yes") {
		t.Fatalf("it asks:\n%s", s)
	}
	mustContain(t, h.line("esc"), "esc close") // the footer
	h.press("enter")
	if h.m.overlay != nil || box.Count() != 0 || len(outbox(t, st)) != 0 {
		t.Fatal("enter closes, and nothing is sent")
	}
}

// TestRemindSampleScrolls: at 80x24 the sample is cut to fit and j/k
// scroll it; the link is visible all along.
func TestRemindSampleScrolls(t *testing.T) {
	h, _, _ := remindHarness(t, 80, 24)
	h.selectWhere(func(c store.Connection) bool {
		return c.Provider == "plaid" && c.Health.Category == health.LoginRequired
	})
	h.press("r")
	p, ok := h.m.overlay.(*previewOverlay)
	if !ok || !p.asks() {
		t.Fatalf("overlay %T", h.m.overlay)
	}
	lines, shown := previewSample(&h.m.c, p)
	if shown >= len(lines) || shown < 3 {
		t.Fatalf("%d of %d sample lines shown at 80x24", shown, len(lines))
	}
	mustContain(t, h.screen(), "lines 1-", "j/k scroll", testPublicURL+"/r/")
	h.press("j") // in the grace period: swallowed
	if p.scroll.top != 0 {
		t.Fatal("a key in the grace period scrolled")
	}
	h.advance(graceQuiet)
	h.press("j", "j")
	if p.scroll.top != 2 {
		t.Fatalf("scroll = %d", p.scroll.top)
	}
	mustContain(t, h.screen(), "lines 3-", testPublicURL+"/r/")
	h.press("pgdown", "pgdown", "pgdown", "pgdown", "j")
	if p.scroll.top != len(lines)-shown {
		t.Fatalf("scrolled to %d, the last window starts at %d", p.scroll.top, len(lines)-shown)
	}
	mustContain(t, h.screen(), "If you have already done this", "Send 1 reminder to "+h.selectedName(t)+" by email?")
	h.press("k")
	if p.scroll.top != len(lines)-shown-1 {
		t.Fatalf("k: scroll = %d", p.scroll.top)
	}
}

func TestRemindProgressShowsInTheStatusLine(t *testing.T) {
	h, _, _ := remindHarness(t, 80, 24)
	id, _ := h.m.startTask("sending reminders")
	h.m.Update(remindProgressMsg{task: id, done: 5, total: 12})
	mustContain(t, h.line("sending"), "sending reminders 5/12")
	h.send(remindDoneMsg{task: id, rep: backend.Report{Channel: "email", Sent: 10, Skipped: map[remind.Reason]int{remind.ReasonCooldown: 2},
		Failed: []backend.Failure{{To: "a@example.com", Reason: "550 no such user"}}}})
	mustContain(t, h.line("sent"), "✗ 10 sent · 2 skipped (2 cooldown) · 1 failed")
}

func TestGracePeriodHasACeiling(t *testing.T) {
	h, _, box := remindHarness(t, 120, 35)
	h.selectWhere(func(c store.Connection) bool {
		return c.Provider == "plaid" && c.Health.Category == health.LoginRequired
	})
	h.press("r")
	for i := 0; i < 10; i++ { // a key every 200ms keeps swallowing, but not forever
		h.advance(200 * time.Millisecond)
		h.press("x")
	}
	h.press("y")
	if !box.Wait(1, 10*time.Second) {
		t.Fatalf("after %s the dialog should answer", graceMax)
	}
}

func TestEscCancelsTheRemindPreviewAtOnce(t *testing.T) {
	h, st, box := remindHarness(t, 120, 35)
	h.press("r", "esc")
	if h.m.overlay != nil || box.Count() != 0 || len(outbox(t, st)) != 0 {
		t.Fatal("esc cancels, even in the grace period")
	}
}

// TestRemindWithoutDurableLinksSaysWhyFirst: reminders that cannot be
// sent (no serve.public_url) say so before asking anything.
func TestRemindWithoutDurableLinksSaysWhyFirst(t *testing.T) {
	st := newStore(t)
	rem, _ := testReminders(t, st, fixedClock)
	rem.PublicURL = ""
	h := newHarness(t, st, Options{Reminders: rem}, 120, 35)
	h.press("r")
	if h.m.overlay != nil {
		t.Fatalf("overlay %T", h.m.overlay)
	}
	mustContain(t, h.line("reminding"), "✗ reminding: ", "serve.public_url")
}

// seedFunnel reminds the failing Plaid login_required connections by
// email, at epoch; half of them click their link, and two are repaired,
// one and three hours later.
func seedFunnel(t testing.TB, st *store.Store) {
	t.Helper()
	ctx := context.Background()
	rem, box := testReminders(t, st, fixedClock)
	var refs []string
	var conns []store.Connection
	err := st.List(ctx, store.ListQuery{Failing: true, Category: health.LoginRequired}, func(c store.Connection) error {
		if c.Provider == "plaid" {
			refs, conns = append(refs, c.Ref()), append(conns, c)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	plan, err := rem.PlanReminders(ctx, refs, remind.Email)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := rem.SendReminders(ctx, plan, nil)
	if err != nil || rep.Sent != len(refs) || box.Count() != len(refs) {
		t.Fatalf("sent %d of %d (%d mails): %v", rep.Sent, len(refs), box.Count(), err)
	}
	for i, c := range conns[:len(conns)/2] {
		links, err := st.Links(ctx, c.ID, 1)
		if err != nil || len(links) == 0 {
			t.Fatalf("no link for %s: %v", c.Ref(), err)
		}
		if err := st.RecordClick(ctx, links[0].ID, "redirected"); err != nil {
			t.Fatal(err)
		}
		if i < 2 {
			at := epoch.Add(time.Duration(1+2*i) * time.Hour)
			if _, err := st.Apply(ctx, []store.Observation{{Provider: c.Provider, ProviderID: c.ProviderID, Kind: "poll",
				ReceivedAt: at, Signal: health.Signal{Effect: health.SetPrimary, Category: health.Healthy,
					Source: health.SourcePoll, ObservedAt: at}}}); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestFunnelShowsWhatWorks: F opens the reconnect funnel per category and
// channel, read from the store; esc closes it.
func TestFunnelShowsWhatWorks(t *testing.T) {
	st := newStore(t)
	seedFunnel(t, st)
	h := newHarness(t, st, Options{}, 120, 35)
	h.press("F")
	o, ok := h.m.overlay.(*funnelOverlay)
	if !ok || !o.loaded || o.err != nil {
		t.Fatalf("overlay %T %+v", h.m.overlay, o)
	}
	s := h.screen()
	mustContain(t, s, "What works: the reconnect funnel", "last 30 days, since 2026-04-14",
		"failing → reminded → clicked → repaired", "repaired of reminded", "By channel, every category")
	row := regexp.MustCompile(`login_required\s+email\s+14\s+8\s+4\s+50%\s+2\s+25%\s+2h ██████·+`)
	if !row.MatchString(s) {
		t.Fatalf("no login_required email row like %s in:\n%s", row, s)
	}
	if !regexp.MustCompile(`account_locked\s+-\s+4\s+0\s+-\s+-\s+-`).MatchString(s) {
		t.Fatalf("account_locked, never reminded, is missing:\n%s", s)
	}
	if !regexp.MustCompile(`│\s+email\s+8\s+4\s+50%\s+2\s+25%\s+2h`).MatchString(s) {
		t.Fatalf("the email total is missing:\n%s", s)
	}
	mustContain(t, h.line("esc"), "esc close")
	h.press("esc")
	if h.m.overlay != nil {
		t.Fatal("esc closes the funnel")
	}
	h.press(":")
	h.typ("funnel")
	mustContain(t, h.screen(), "what works: reconnect funnel")
	h.press("enter")
	if _, ok := h.m.overlay.(*funnelOverlay); !ok {
		t.Fatalf("the palette should open the funnel: %T", h.m.overlay)
	}
	h.press("F")
	if h.m.overlay != nil {
		t.Fatal("F closes the funnel too")
	}
	h.press("?")
	mustContain(t, h.screen(), "F", "what works: reconnect funnel")
}

func TestFunnelWithNothingToShow(t *testing.T) {
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "empty.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h := newHarness(t, st, Options{ReadOnly: true}, 80, 24)
	h.press("F")
	mustContain(t, h.screen(), "No failing connections and no reminders in this period.")
}

// TestFunnelScrollsAt80x24: the funnel is taller than a 24-line screen;
// j/k scroll it and the window never leaves the rows.
func TestFunnelScrollsAt80x24(t *testing.T) {
	st := newStore(t)
	seedFunnel(t, st)
	h := newHarness(t, st, Options{}, 80, 24)
	h.press("F")
	o := h.m.overlay.(*funnelOverlay)
	if _, shown, n := funnelLines(&h.m.c, o); shown != n {
		t.Fatalf("the seeded funnel (%d lines) should fit at 80x24, %d show", n, shown)
	}
	// A backend that reminds about everything, on two channels: more rows
	// than the screen has lines.
	for _, topic := range health.Topics() {
		for _, ch := range []string{"email", "sms"} {
			o.rows = append(o.rows, store.FunnelRow{Category: topic, Channel: ch, Failing: 20, Reminded: 10, Clicked: 5, Repaired: 3,
				RepairTimes: []time.Duration{time.Hour, 2 * time.Hour, 5 * time.Hour}})
		}
	}
	_, shown, n := funnelLines(&h.m.c, o)
	if shown >= n {
		t.Fatalf("%d of %d lines show", shown, n)
	}
	mustContain(t, h.screen(), "login_required", fmt.Sprintf("lines 1-%d of %d", shown, n))
	h.press("G")
	if o.scroll.top != n-shown {
		t.Fatalf("G: scroll %d, want %d", o.scroll.top, n-shown)
	}
	mustContain(t, h.screen(), "the median runs from the first reminder")
	h.press("j")
	if o.scroll.top != n-shown {
		t.Fatal("scrolled past the end")
	}
	h.press("g", "k")
	if o.scroll.top != 0 {
		t.Fatal("scrolled before the start")
	}
}
