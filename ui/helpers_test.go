package ui

import (
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/relink/relink/health"
	"github.com/relink/relink/store"
)

// epoch is the fixed "now" of every test: goldens do not move with the clock.
var epoch = time.Date(2026, 5, 14, 12, 0, 0, 0, time.UTC)

// clock is a test clock that only moves when told.
type clock struct{ now time.Time }

func (c *clock) Now() time.Time { return c.now }

var (
	firstNames = []string{"Ada", "Bruno", "Carmen", "Dmitri", "Elif", "Farah", "Goran", "Hana", "Ivo", "Jun", "Kemal", "Lucia"}
	lastNames  = []string{"Okafor", "Silva", "Lindqvist", "Novak", "Haddad", "Moreau", "Tanaka", "Reyes", "Brandt"}
	places     = []struct{ provider, institution string }{
		{"plaid", "Chase"}, {"plaid", "Wells Fargo"}, {"belvo", "Banco Azul"}, {"cobalt", "mychart.northwell.example"},
		{"plaid", "Chase"}, {"belvo", "Nubank"},
	}
)

// seedSpec says how many connections of each category the test store has.
var seedSpec = []struct {
	cat              health.Category
	n                int
	code, reason, um string
}{
	{health.LoginRequired, 14, "ITEM_LOGIN_REQUIRED", "user_changed_password", "The login details of this account have changed."},
	{health.MFARequired, 6, "ITEM_LOGIN_REQUIRED", "mfa_required", ""},
	{health.AccountLocked, 4, "ITEM_LOCKED", "", "Your account is locked; unlock it at your bank."},
	{health.InstitutionDown, 5, "INSTITUTION_DOWN", "", ""},
	{health.Healthy, 8, "", "", ""},
}

// newStore opens a real cache in t.TempDir() and fills it with a fixed set
// of connections: registry rows first, then provider signals through Apply,
// as the sync and the webhooks write them.
func newStore(t testing.TB) *store.Store {
	t.Helper()
	ctx := context.Background()
	clk := &clock{now: epoch}
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "relink.db"), store.Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	im, err := st.BeginImport(ctx, "test")
	if err != nil {
		t.Fatal(err)
	}
	var obs []store.Observation
	i := 0
	for _, spec := range seedSpec {
		for j := 0; j < spec.n; j++ {
			p := places[i%len(places)]
			first, last := firstNames[i%len(firstNames)], lastNames[(i/2)%len(lastNames)]
			pid := fmt.Sprintf("%s-%04d", p.provider, i+1)
			err := im.Add(ctx, store.Registration{Provider: p.provider, ProviderID: pid, UserRef: fmt.Sprintf("u_%04d", i+1),
				Name: first + " " + last, Email: strings.ToLower(first+"."+last) + "@example.com", Institution: p.institution})
			if err != nil {
				t.Fatal(err)
			}
			at := epoch.Add(-time.Duration(i*7+3) * time.Hour)
			sig := health.Signal{Effect: health.SetPrimary, Category: spec.cat, ProviderCode: spec.code,
				ProviderReason: spec.reason, UserMessage: spec.um, Source: health.SourceWebhook, ObservedAt: at}
			obs = append(obs, store.Observation{Provider: p.provider, ProviderID: pid, EventID: fmt.Sprintf("evt-%d", i),
				Kind: "webhook", Signal: sig, ReceivedAt: at})
			if spec.cat == health.Healthy && j < 3 {
				dl := epoch.Add(time.Duration(j+2) * 24 * time.Hour)
				obs = append(obs, store.Observation{Provider: p.provider, ProviderID: pid, EventID: fmt.Sprintf("evt-w%d", i),
					Kind: "webhook", ReceivedAt: at.Add(time.Minute), Signal: health.Signal{Effect: health.SetWarning,
						Warning: health.ConsentExpiring, Deadline: &dl, ProviderCode: "PENDING_EXPIRATION",
						Source: health.SourceWebhook, ObservedAt: at.Add(time.Minute)}})
			}
			i++
		}
	}
	if err := im.Commit(ctx, "seed"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Apply(ctx, obs); err != nil {
		t.Fatal(err)
	}
	if err := st.RecordSync(ctx, "plaid", epoch.Add(-3*time.Minute), "", 10, 1, nil); err != nil {
		t.Fatal(err)
	}
	if err := st.RecordSync(ctx, "belvo", epoch.Add(-2*time.Hour), "", 5, 0, nil); err != nil {
		t.Fatal(err)
	}
	return st
}

// harness drives a Model as Bubble Tea would, but synchronously: commands
// run at once and their messages are fed back; timers wait on the test clock.
type harness struct {
	t         testing.TB
	m         *Model
	clk       *clock
	timers    []timer
	clipboard string
	quit      bool
	onMsg     func(tea.Msg) // sees every message after the model took it
}

type timer struct {
	at  time.Time
	msg tea.Msg
}

func newHarness(t testing.TB, st *store.Store, opts Options, w, h int) *harness {
	t.Helper()
	hs := &harness{t: t, clk: &clock{now: epoch}}
	opts.Store = st
	opts.Now = hs.clk.Now
	if opts.Providers == nil {
		opts.Providers = []string{"belvo", "cobalt", "plaid"}
	}
	m, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	m.after = hs.schedule
	hs.m = m
	hs.run(m.Init())
	hs.send(tea.WindowSizeMsg{Width: w, Height: h})
	return hs
}

func (h *harness) schedule(d time.Duration, msg tea.Msg) tea.Cmd {
	h.timers = append(h.timers, timer{at: h.clk.now.Add(d), msg: msg})
	return nil
}

func (h *harness) send(msg tea.Msg) {
	h.t.Helper()
	_, cmd := h.m.Update(msg)
	if h.onMsg != nil {
		h.onMsg(msg)
	}
	h.run(cmd)
}

// run executes cmd and everything it leads to.
func (h *harness) run(cmd tea.Cmd) {
	h.t.Helper()
	queue := []tea.Cmd{cmd}
	for len(queue) > 0 {
		c := queue[0]
		queue = queue[1:]
		if c == nil {
			continue
		}
		msg := c()
		switch msg := msg.(type) {
		case nil:
		case tea.BatchMsg:
			queue = append(queue, msg...)
		case tea.QuitMsg:
			h.quit = true
		default:
			if t := reflect.TypeOf(msg); t.PkgPath() == "charm.land/bubbletea/v2" {
				switch t.Name() {
				case "setClipboardMsg":
					h.clipboard = reflect.ValueOf(msg).String()
				case "sequenceMsg": // tea.Sequence: each command and what it leads to, in order
					v := reflect.ValueOf(msg)
					for i := 0; i < v.Len(); i++ {
						h.run(v.Index(i).Interface().(tea.Cmd))
					}
				}
				continue // terminal requests: nothing to answer in a test
			}
			h.send(msg)
		}
	}
}

// advance moves the clock by d and fires the timers that are due, in order.
func (h *harness) advance(d time.Duration) {
	h.t.Helper()
	h.clk.now = h.clk.now.Add(d)
	for {
		sort.SliceStable(h.timers, func(i, j int) bool { return h.timers[i].at.Before(h.timers[j].at) })
		if len(h.timers) == 0 || h.timers[0].at.After(h.clk.now) {
			return
		}
		t := h.timers[0]
		h.timers = h.timers[1:]
		h.send(t.msg)
	}
}

// press sends key presses, by their names as Bubble Tea reports them.
func (h *harness) press(keys ...string) {
	h.t.Helper()
	for _, k := range keys {
		h.send(keyPress(k))
	}
}

// typ types text, one key press per character.
func (h *harness) typ(s string) {
	h.t.Helper()
	for _, r := range s {
		h.send(tea.KeyPressMsg{Code: r, Text: string(r)})
	}
}

func keyPress(name string) tea.KeyPressMsg {
	special := map[string]tea.KeyPressMsg{
		"enter": {Code: tea.KeyEnter}, "esc": {Code: tea.KeyEscape}, "tab": {Code: tea.KeyTab},
		"shift+tab": {Code: tea.KeyTab, Mod: tea.ModShift}, "space": {Code: tea.KeySpace, Text: " "},
		"down": {Code: tea.KeyDown}, "up": {Code: tea.KeyUp}, "pgdown": {Code: tea.KeyPgDown}, "pgup": {Code: tea.KeyPgUp},
		"home": {Code: tea.KeyHome}, "end": {Code: tea.KeyEnd}, "backspace": {Code: tea.KeyBackspace},
		"ctrl+r": {Code: 'r', Mod: tea.ModCtrl}, "ctrl+c": {Code: 'c', Mod: tea.ModCtrl},
		"ctrl+d": {Code: 'd', Mod: tea.ModCtrl}, "ctrl+u": {Code: 'u', Mod: tea.ModCtrl}, "ctrl+p": {Code: 'p', Mod: tea.ModCtrl},
	}
	if k, ok := special[name]; ok {
		return k
	}
	r := []rune(name)[0]
	return tea.KeyPressMsg{Code: r, Text: name}
}

// screen is the rendered screen without styles.
func (h *harness) screen() string { return ansi.Strip(h.m.render()) }

// line returns the screen line containing s, or "".
func (h *harness) line(s string) string {
	for _, l := range strings.Split(h.screen(), "\n") {
		if strings.Contains(l, s) {
			return l
		}
	}
	return ""
}

// toGroup switches to the tab of key ("all", a category, "expiring").
func (h *harness) toGroup(key string) {
	h.t.Helper()
	for i, g := range h.m.groups {
		if g.key() == key {
			h.run(h.m.switchGroup(i))
			return
		}
	}
	h.t.Fatalf("no group %q", key)
}

func (h *harness) selectedName(t testing.TB) string {
	t.Helper()
	c, ok := h.m.selected()
	if !ok {
		t.Fatalf("nothing selected (cursor %d, rows %d+%d, total %d)", h.m.cursor, h.m.rowsOff, len(h.m.rows), h.m.total)
	}
	return c.Name
}

func mustContain(t testing.TB, s string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(s, w) {
			t.Fatalf("missing %q in:\n%s", w, s)
		}
	}
}
