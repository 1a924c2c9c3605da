package ui

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"

	"github.com/relink/relink/backend"
	"github.com/relink/relink/health"
	"github.com/relink/relink/store"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// golden compares got with testdata/<test name>.golden (rewritten with -update).
// The files keep the styles: `cat` one in a terminal to see it as drawn.
func golden(t *testing.T, got string) {
	t.Helper()
	path := filepath.Join("testdata", filepath.FromSlash(t.Name())+".golden")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./ui -run %s -update to create it)", err, t.Name())
	}
	want := string(b)
	if got == want {
		return
	}
	gl, wl := strings.Split(ansi.Strip(got), "\n"), strings.Split(ansi.Strip(want), "\n")
	for i := 0; i < max(len(gl), len(wl)); i++ {
		var g, w string
		if i < len(gl) {
			g = gl[i]
		}
		if i < len(wl) {
			w = wl[i]
		}
		if g != w {
			t.Fatalf("%s: line %d differs:\n got: %q\nwant: %q\n(run with -update if the change is intended)", path, i+1, g, w)
		}
	}
	t.Fatalf("%s: same text, different styles (run with -update if the change is intended)", path)
}

// themed sets the harness's theme variant: "dark", "light" (by the terminal
// background) or "plain" (NO_COLOR).
func (h *harness) themed(variant string) {
	switch variant {
	case "light":
		h.send(tea.BackgroundColorMsg{Color: lightGrey{}})
	case "plain":
		h.send(tea.ColorProfileMsg{Profile: colorprofile.ASCII})
	}
}

// componentFixture puts the dashboard into a state that shows every part:
// the login_required group, two marks, a running task and a result; the
// selected connection also has a warning, an outage kept aside and a link.
func componentFixture(t *testing.T, w, h int, variant string) *harness {
	st := newStore(t)
	hs := newHarness(t, st, Options{Actions: realDesk(st), Reminders: testRemindersFixed(t, st), Operator: "dana"}, w, h)
	hs.themed(variant)
	hs.press("tab", "tab", "j", "space", "space", "k")
	enrich(t, st, hs.m)
	hs.advance(hs.m.opts.RefreshInterval)
	hs.m.startTask("sync")
	hs.m.tasks[0].progress = "plaid 120/400"
	hs.m.report(true, "copied direct link for Ada Tanaka · 29m left")
	return hs
}

func TestGoldenComponents(t *testing.T) {
	for _, w := range []int{80, 120} {
		for _, variant := range []string{"dark", "light"} {
			t.Run(fmt.Sprintf("%d/%s", w, variant), func(t *testing.T) {
				h := componentFixture(t, w, 35, variant)
				m, c := h.m, &h.m.c
				l := m.lay
				t.Run("tabs", func(t *testing.T) { golden(t, renderTabs(c, m.groups, m.gi, "dana", w)) })
				t.Run("viewbar", func(t *testing.T) { golden(t, m.renderViewBar()) })
				t.Run("table", func(t *testing.T) { golden(t, renderTable(c, m.tableData(), l.tableW, l.tableH)) })
				t.Run("insights", func(t *testing.T) { golden(t, renderInsights(c, m.insightsData(), l.paneW, 14)) })
				t.Run("status", func(t *testing.T) { golden(t, renderStatus(c, m.statusData(), w)) })
				t.Run("footer", func(t *testing.T) { golden(t, renderFooter(c, m.footerMode(), w)) })
				t.Run("help", func(t *testing.T) { golden(t, renderHelp(c)) })
				h.press("enter")
				conn, _ := m.selected()
				t.Run("detail", func(t *testing.T) { golden(t, renderDetail(c, m.detailData(conn, true), 60, 22)) })
				h.press("r")
				t.Run("remind", func(t *testing.T) { golden(t, m.overlay.view(c)) })
			})
		}
	}
}

// TestGoldenFunnel draws the funnel view over a store with reminders sent,
// links clicked and connections repaired, at 80x24 (where it scrolls) and
// 120x35.
func TestGoldenFunnel(t *testing.T) {
	st := newStore(t)
	seedFunnel(t, st)
	for _, size := range [][2]int{{80, 24}, {120, 35}} {
		for _, variant := range []string{"dark", "light"} {
			t.Run(fmt.Sprintf("%dx%d/%s", size[0], size[1], variant), func(t *testing.T) {
				h := newHarness(t, st, Options{Operator: "dana"}, size[0], size[1])
				h.themed(variant)
				h.press("F")
				golden(t, h.m.render())
			})
		}
	}
}

func TestGoldenScreens(t *testing.T) {
	for _, size := range [][2]int{{80, 24}, {120, 35}} {
		for _, variant := range []string{"dark", "light"} {
			t.Run(fmt.Sprintf("%dx%d/%s", size[0], size[1], variant), func(t *testing.T) {
				h := componentFixture(t, size[0], size[1], variant)
				t.Run("table", func(t *testing.T) { golden(t, h.m.render()) })
				h.press("enter")
				t.Run("detail", func(t *testing.T) { golden(t, h.m.render()) })
				h.press("?")
				t.Run("help", func(t *testing.T) { golden(t, h.m.render()) })
			})
		}
	}
}

// TestEveryLineFits drives the dashboard through its states at three sizes
// and in every theme, and checks that no line is wider than the terminal
// and the screen is never taller.
func TestEveryLineFits(t *testing.T) {
	st := newStore(t)
	rem := testRemindersFixed(t, st)
	variants := []struct {
		name string
		opts Options
		v    string
	}{
		{"auto-dark", Options{}, "dark"},
		{"auto-light", Options{}, "light"},
		{"high-contrast", Options{Theme: "high-contrast"}, "dark"},
		{"colorblind", Options{Theme: "colorblind"}, "light"},
		{"no-color", Options{}, "plain"},
		{"ascii", Options{ASCII: true}, "dark"},
	}
	steps := []struct {
		name string
		do   func(h *harness)
	}{
		{"start", func(h *harness) {}},
		{"marks", func(h *harness) { h.press("space", "space", "A") }},
		{"detail", func(h *harness) { h.press("enter") }},
		{"detail-next-group", func(h *harness) { h.press("tab", "G") }},
		{"qr", func(h *harness) { h.press("Q") }},
		{"qr-with-link", func(h *harness) {
			c, _ := h.m.selected()
			h.m.links[c.ID] = backend.Link{Kind: store.LinkDurable, ExpiresAt: epoch.Add(time.Hour),
				URL: "https://relink.example.com/r/" + strings.Repeat("eyJpZCI6", 20)}
		}},
		{"filter", func(h *harness) {
			h.press("esc", "/")
			h.typ("a very long filter that will not fit anywhere at all ok")
		}},
		{"filtered", func(h *harness) { h.advance(filterDebounce); h.press("enter") }},
		{"expiring", func(h *harness) { h.press("esc", "shift+tab") }},
		{"help", func(h *harness) { h.press("?") }},
		{"palette", func(h *harness) { h.press("esc", ":") }},
		{"confirm", func(h *harness) { h.press("esc", "tab", "r") }},
		{"task", func(h *harness) {
			h.press("esc")
			h.m.startTask(strings.Repeat("a long running task ", 10))
			h.m.report(false, strings.Repeat("an error that goes on ", 20))
		}},
		{"remind-preview", func(h *harness) {
			h.toGroup(string(health.MFARequired))
			h.press("A", "r") // Plaid rows to send to, Belvo and Cobalt rows skipped
			if p, ok := h.m.overlay.(*previewOverlay); !ok || !p.asks() {
				h.t.Fatalf("no preview that asks: %T", h.m.overlay)
			}
		}},
		{"remind-preview-scrolled", func(h *harness) { h.advance(graceQuiet); h.press("pgdown", "j", "j") }},
		{"remind-nothing-to-send", func(h *harness) {
			h.press("esc", "esc") // the preview, then the marks
			h.toGroup(string(health.InstitutionDown))
			h.press("r")
			if p, ok := h.m.overlay.(*previewOverlay); !ok || p.asks() {
				h.t.Fatalf("no nothing-to-send notice: %T", h.m.overlay)
			}
		}},
		{"remind-sending", func(h *harness) {
			h.press("esc")
			id, _ := h.m.startTask("sending reminders")
			h.m.setTaskProgress(id, "5/12")
		}},
		{"funnel", func(h *harness) { h.press("F") }},
		{"funnel-scrolled", func(h *harness) { h.press("G") }},
	}
	seedFunnel(t, st) // the funnel has rows; the login_required Plaid rows are within the cooldown
	for _, size := range [][2]int{{80, 24}, {120, 35}, {200, 50}} {
		for _, v := range variants {
			w, hh := size[0], size[1]
			opts := v.opts
			opts.Actions, opts.Reminders, opts.Operator = realDesk(st), rem, "a-very-long-operator-name"
			h := newHarness(t, st, opts, w, hh)
			h.themed(v.v)
			for _, s := range steps {
				s.do(h)
				lines := strings.Split(h.m.render(), "\n")
				if len(lines) > hh {
					t.Fatalf("%dx%d %s %s: %d lines", w, hh, v.name, s.name, len(lines))
				}
				if h.m.overlay == nil && len(lines) != hh {
					t.Fatalf("%dx%d %s %s: %d lines, want %d", w, hh, v.name, s.name, len(lines), hh)
				}
				for i, l := range lines {
					if lw := ansi.StringWidth(l); lw > w {
						t.Fatalf("%dx%d %s %s: line %d is %d wide:\n%s", w, hh, v.name, s.name, i+1, lw, ansi.Strip(l))
					}
				}
			}
		}
	}
}

var colourSGR = regexp.MustCompile(`\x1b\[([0-9;:]*)m`)

// TestNoColorStillShowsSelection: without colours the selected row keeps
// its marker and is drawn in reverse video, and nothing else needs colour.
func TestNoColorStillShowsSelection(t *testing.T) {
	h := newHarness(t, newStore(t), Options{}, 120, 35)
	h.themed("plain")
	h.press("j", "space")
	out := h.m.render()
	for _, sgr := range colourSGR.FindAllStringSubmatch(out, -1) {
		for _, p := range strings.Split(sgr[1], ";") {
			var n int
			fmt.Sscan(p, &n)
			if (n >= 30 && n <= 49) || (n >= 90 && n <= 107) {
				t.Fatalf("a colour is drawn under NO_COLOR: %q", sgr[0])
			}
		}
	}
	name := h.selectedName(t)
	var sel string
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(ansi.Strip(l), name) && strings.Contains(ansi.Strip(l), "›") {
			sel = l
		}
	}
	if sel == "" || !strings.Contains(sel, "7m") && !strings.Contains(sel, ";7") {
		t.Fatalf("the selected row %q has no marker in reverse video", sel)
	}
	if !strings.Contains(ansi.Strip(h.m.render()), "● 1 marked") {
		t.Fatal("marks are not shown")
	}
	h.press("h")
	h.press("r") // no remind configured: nothing happens
	mustContain(t, h.screen(), "expiring")
}

func TestThemesDiffer(t *testing.T) {
	st := newStore(t)
	seen := map[string]string{}
	for _, theme := range []string{"auto", "dark", "light", "high-contrast", "colorblind"} {
		h := newHarness(t, st, Options{Theme: theme}, 120, 35)
		h.themed("light")
		out := h.m.render()
		for other, o := range seen {
			if o == out && !(theme == "light" && other == "auto") {
				t.Errorf("%s and %s render the same on a light background", theme, other)
			}
		}
		seen[theme] = out
	}
}

// enrich gives the selected connection a consent warning, an outage that
// may not hide its login problem, and a minted link.
func enrich(t *testing.T, st *store.Store, m *Model) {
	t.Helper()
	c, ok := m.selected()
	if !ok {
		t.Fatal("nothing selected")
	}
	ctx := context.Background()
	dl := epoch.Add(4 * 24 * time.Hour)
	obs := []store.Observation{
		{Provider: c.Provider, ProviderID: c.ProviderID, EventID: "evt-down", Kind: "webhook", Signal: health.Signal{
			Effect: health.SetPrimary, Category: health.InstitutionDown, ProviderCode: "INSTITUTION_NOT_RESPONDING",
			Source: health.SourceWebhook, ObservedAt: epoch.Add(-5 * time.Hour)}},
		{Provider: c.Provider, ProviderID: c.ProviderID, EventID: "evt-exp", Kind: "webhook", Signal: health.Signal{
			Effect: health.SetWarning, Warning: health.ConsentExpiring, Deadline: &dl, ProviderCode: "PENDING_EXPIRATION",
			Source: health.SourceWebhook, ObservedAt: epoch.Add(-4 * time.Hour)}},
	}
	if _, err := st.Apply(ctx, obs); err != nil {
		t.Fatal(err)
	}
	exp := epoch.Add(29 * time.Minute)
	_, err := st.AddLink(ctx, store.Link{ConnectionID: c.ID, Kind: store.LinkDirect, Operator: "dana", CreatedAt: epoch.Add(-time.Minute),
		URL: "https://sandbox.example/link/update?token=link-sandbox-6f1c2d9e-8a4b-4c1e-9f0a-1b2c3d4e5f60", ExpiresAt: &exp})
	if err != nil {
		t.Fatal(err)
	}
}

func TestASCIIModeDrawsOnlyASCII(t *testing.T) {
	st := newStore(t)
	seedFunnel(t, st)
	h := newHarness(t, st, Options{ASCII: true, Actions: realDesk(st), Reminders: testRemindersFixed(t, st)}, 120, 35)
	h.press("space")
	h.m.startTask("sync")
	check := func(state string) {
		for i, r := range h.screen() {
			if r > 127 {
				t.Fatalf("%s: non-ASCII %q at %d:\n%s", state, r, i, h.screen())
			}
		}
	}
	check("table")
	h.press("enter")
	check("detail")
	h.press("?")
	check("help")
	h.press("esc", "r")
	check("remind preview")
	h.press("esc", "F")
	check("funnel")
}
