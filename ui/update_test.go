package ui

import (
	"context"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/relink/relink/health"
	"github.com/relink/relink/store"
)

func TestGroupsByRankWithCounts(t *testing.T) {
	h := newHarness(t, newStore(t), Options{}, 120, 35)
	var got []string
	for _, g := range h.m.groups {
		got = append(got, g.label())
	}
	want := "all failing|account_locked|login_required|mfa_required|institution_down|expiring"
	if strings.Join(got, "|") != want {
		t.Fatalf("groups = %v, want %s", got, want)
	}
	mustContain(t, h.line("relink"), "all failing 29", "account_locked 4", "login_required 14", "expiring 3")
	if h.m.total != 29 {
		t.Fatalf("total = %d", h.m.total)
	}
}

func TestNavigation(t *testing.T) {
	h := newHarness(t, newStore(t), Options{}, 120, 35)
	first := h.selectedName(t)
	h.press("j", "j")
	if h.m.cursor != 2 {
		t.Fatalf("cursor after jj = %d", h.m.cursor)
	}
	h.press("k")
	if h.m.cursor != 1 {
		t.Fatalf("cursor after k = %d", h.m.cursor)
	}
	h.press("G")
	if h.m.cursor != 28 {
		t.Fatalf("G: cursor = %d", h.m.cursor)
	}
	last := h.selectedName(t)
	if !strings.Contains(h.line(last), "›") {
		t.Fatalf("the selected row has no marker:\n%s", h.screen())
	}
	h.press("g")
	if h.m.cursor != 0 || h.selectedName(t) != first {
		t.Fatalf("g: cursor = %d", h.m.cursor)
	}
	h.send(tea.WindowSizeMsg{Width: 80, Height: 24})
	h.press("pgdown")
	if h.m.cursor != h.m.lay.rows || h.m.top == 0 {
		t.Fatalf("pgdown: cursor = %d, top %d, rows %d", h.m.cursor, h.m.top, h.m.lay.rows)
	}
	h.press("ctrl+d", "ctrl+d")
	if h.m.cursor != 28 {
		t.Fatalf("page down past the end: cursor = %d", h.m.cursor)
	}
	h.press("up", "home")
	if h.m.cursor != 0 {
		t.Fatalf("home: cursor = %d", h.m.cursor)
	}
}

func TestSwitchGroups(t *testing.T) {
	h := newHarness(t, newStore(t), Options{}, 120, 35)
	h.press("tab")
	if g := h.m.group(); g.sg.Category != health.AccountLocked || h.m.total != 4 {
		t.Fatalf("tab: group %s, total %d", g.key(), h.m.total)
	}
	mustContain(t, h.screen(), "Account locked (account_locked)", "Where account_locked breaks")
	h.press("l", "h", "h")
	if h.m.group().key() != "all" {
		t.Fatalf("l h h: group %s", h.m.group().key())
	}
	h.press("shift+tab")
	if h.m.group().key() != "expiring" || h.m.total != 3 {
		t.Fatalf("shift+tab wraps to expiring: %s, total %d", h.m.group().key(), h.m.total)
	}
	mustContain(t, h.screen(), "deadline", "consent_expiring", "in 2d")
}

func TestFilterAsYouTypeIsDebounced(t *testing.T) {
	h := newHarness(t, newStore(t), Options{}, 120, 35)
	h.press("/")
	h.typ("nubank")
	if h.m.total != 29 {
		t.Fatalf("the store was read before the typing paused: total %d", h.m.total)
	}
	h.advance(filterDebounce)
	if h.m.total != 4 {
		t.Fatalf("filter nubank: total %d", h.m.total)
	}
	for _, c := range h.m.rows {
		if c.Institution != "Nubank" {
			t.Fatalf("row %s does not match", c.Institution)
		}
	}
	h.press("enter")
	if h.m.filterOn {
		t.Fatal("enter should leave the input")
	}
	mustContain(t, h.screen(), `filter "nubank" 4 of 29`)
	h.press("esc")
	if h.m.total != 29 || h.m.filter.Value() != "" {
		t.Fatalf("esc should clear the filter: total %d, filter %q", h.m.total, h.m.filter.Value())
	}
}

func TestLateResultsAreDropped(t *testing.T) {
	h := newHarness(t, newStore(t), Options{}, 120, 35)
	h.m.filter.SetValue("chase")
	older := h.m.pageCmd(false)() // read, but not delivered yet
	h.m.filter.SetValue("wells")
	h.run(h.m.pageCmd(true))
	h.send(older) // arrives late
	if h.m.total == 0 || h.m.rows[0].Institution != "Wells Fargo" {
		t.Fatalf("the late chase page replaced the wells one: %d rows, first %q", h.m.total, h.m.rows[0].Institution)
	}
}

func TestSortCycleAndReverse(t *testing.T) {
	h := newHarness(t, newStore(t), Options{}, 120, 35)
	h.press("s")
	if h.m.sort != store.SortName {
		t.Fatalf("sort = %s", h.m.sort)
	}
	names := func() []string {
		var out []string
		for _, c := range h.m.rows {
			out = append(out, c.Name)
		}
		return out
	}
	asc := names()
	for i := 1; i < len(asc); i++ {
		if asc[i-1] > asc[i] {
			t.Fatalf("not sorted by name: %v", asc)
		}
	}
	h.press("S")
	desc := names()
	if desc[0] != asc[len(asc)-1] {
		t.Fatalf("S should reverse: first %q, want %q", desc[0], asc[len(asc)-1])
	}
	mustContain(t, h.screen(), "sort user ↓ (Z→A)", "user ↓") // the column's name, and the way its values run
}

func TestMarks(t *testing.T) {
	h := newHarness(t, newStore(t), Options{}, 120, 35)
	h.press("space", "space")
	if len(h.m.marks) != 2 || h.m.cursor != 2 {
		t.Fatalf("marks %d, cursor %d", len(h.m.marks), h.m.cursor)
	}
	mustContain(t, h.screen(), "● 2 marked")
	h.press("space") // marks the third, moves on
	h.press("k", "space")
	if len(h.m.marks) != 2 {
		t.Fatalf("space on a marked row unmarks it: %d", len(h.m.marks))
	}
	h.press("esc")
	if len(h.m.marks) != 0 {
		t.Fatal("esc clears marks")
	}
	h.press("tab", "tab", "A") // login_required
	if len(h.m.marks) != 14 {
		t.Fatalf("A marked %d, want 14", len(h.m.marks))
	}
	mustContain(t, h.screen(), "marked 14")
}

func TestDetailPane(t *testing.T) {
	h := newHarness(t, newStore(t), Options{}, 120, 35)
	h.press("tab", "tab", "enter")
	if !h.m.detailOpen || h.m.historyFor == 0 {
		t.Fatalf("enter: open %v, history for %d", h.m.detailOpen, h.m.historyFor)
	}
	c, _ := h.m.selected()
	mustContain(t, strings.Join(strings.Fields(h.paneText()), " "), "Connection "+c.Ref(), "Login required (login_required)",
		"ITEM_LOGIN_REQUIRED ·", "user_changed_password", "The login details of this account", "History", "→ login_required")
	h.press("j")
	next, _ := h.m.selected()
	if h.m.historyFor != next.ID {
		t.Fatalf("the pane should follow the selection: history of %d, selected %d", h.m.historyFor, next.ID)
	}
	h.press("esc")
	if h.m.detailOpen {
		t.Fatal("esc closes the pane")
	}
	mustContain(t, h.screen(), "New failures per day", "By institution")
}

func TestDetailBelowWhenNarrow(t *testing.T) {
	h := newHarness(t, newStore(t), Options{}, 80, 24)
	h.press("enter")
	if !h.m.lay.paneBelow || h.m.lay.tableW != 80 {
		t.Fatalf("at 80 columns the pane goes below: %+v", h.m.lay)
	}
	lines := strings.Split(h.screen(), "\n")
	if !strings.Contains(lines[2+h.m.lay.tableH], "Connection") {
		t.Fatalf("pane not under the table:\n%s", h.screen())
	}
}

func TestHelpBuiltFromKeyMap(t *testing.T) {
	h := newHarness(t, newStore(t), Options{Keys: map[string][]string{"sync": {"R"}}}, 120, 35)
	h.press("?")
	if _, ok := h.m.overlay.(*helpOverlay); !ok {
		t.Fatal("? opens help")
	}
	s := h.screen()
	mustContain(t, s, "Keys", "next row", "filter rows", "mark all in view")
	if strings.Contains(s, "copy direct link") || strings.Contains(s, "sync now") {
		t.Fatalf("help lists actions that are off (no actions configured):\n%s", s)
	}
	h.press("esc")
	if h.m.overlay != nil {
		t.Fatal("esc closes help")
	}
}

func TestTooSmallAndBack(t *testing.T) {
	h := newHarness(t, newStore(t), Options{}, 120, 35)
	h.send(tea.WindowSizeMsg{Width: 60, Height: 20})
	mustContain(t, h.screen(), "terminal too small (need 80x24)", "now 60x20")
	h.send(tea.WindowSizeMsg{Width: 20, Height: 3})
	for _, l := range strings.Split(h.m.render(), "\n") {
		if ansi.StringWidth(l) > 20 {
			t.Fatalf("too-small screen wider than 20: %q", ansi.Strip(l))
		}
	}
	h.send(tea.WindowSizeMsg{Width: 120, Height: 35})
	mustContain(t, h.screen(), "All failing", "? help")
}

func TestBackgroundColourPicksLightOrDark(t *testing.T) {
	h := newHarness(t, newStore(t), Options{}, 120, 35)
	dark := h.m.render()
	h.send(tea.BackgroundColorMsg{Color: lightGrey{}})
	if h.m.dark || h.m.render() == dark {
		t.Fatal("a light background should restyle the dashboard")
	}
}

type lightGrey struct{}

func (lightGrey) RGBA() (r, g, b, a uint32) { return 0xeeee, 0xeeee, 0xeeee, 0xffff }

func TestRefreshShowsNewEvents(t *testing.T) {
	st := newStore(t)
	h := newHarness(t, st, Options{}, 120, 35)
	ctx := context.Background()
	_, err := st.Apply(ctx, []store.Observation{{Provider: "belvo", ProviderID: "belvo-new", Institution: "Banco Azul",
		Register: true, UserRef: "u_new", EventID: "evt-new", Kind: "webhook",
		Signal: health.Signal{Effect: health.SetPrimary, Category: health.PermissionRevoked, ProviderCode: "invalid",
			Source: health.SourceWebhook, ObservedAt: epoch}}})
	if err != nil {
		t.Fatal(err)
	}
	h.advance(h.m.opts.RefreshInterval)
	mustContain(t, h.line("relink"), "all failing 30", "permission_revoked 1")
	if h.m.total != 30 {
		t.Fatalf("the visible page was not re-read: total %d", h.m.total)
	}
}

func TestSelectionFollowsItsRowOnRefresh(t *testing.T) {
	st := newStore(t)
	h := newHarness(t, st, Options{}, 120, 35)
	h.press("tab", "tab", "j", "j")
	want := h.selectedName(t)
	// A connection that failed long ago now sorts first in login_required.
	_, err := st.Apply(context.Background(), []store.Observation{{Provider: "plaid", ProviderID: "plaid-old", Register: true,
		Institution: "Chase", EventID: "evt-old", Kind: "webhook", Signal: health.Signal{Effect: health.SetPrimary,
			Category: health.LoginRequired, ProviderCode: "ITEM_LOGIN_REQUIRED", Source: health.SourceWebhook,
			ObservedAt: epoch.Add(-30 * 24 * time.Hour)}}})
	if err != nil {
		t.Fatal(err)
	}
	h.advance(h.m.opts.RefreshInterval)
	if got := h.selectedName(t); got != want || h.m.cursor != 3 {
		t.Fatalf("selection moved to %q (cursor %d), want %q at 3", got, h.m.cursor, want)
	}
}

func TestOvertakenReadsAreCancelledQuietly(t *testing.T) {
	h := newHarness(t, newStore(t), Options{}, 120, 35)
	h.m.filter.SetValue("chase")
	older := h.m.pageCmd(true)
	h.m.filter.SetValue("wells")
	newer := h.m.pageCmd(true)
	h.run(newer)
	h.run(older) // cancelled when newer started; its error is not news
	if h.m.result != nil {
		t.Fatalf("an overtaken read reported: %+v", h.m.result)
	}
	if h.m.rows[0].Institution != "Wells Fargo" || h.m.total != 5 {
		t.Fatalf("rows %q, total %d", h.m.rows[0].Institution, h.m.total)
	}
}
