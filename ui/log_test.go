package ui

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"

	"github.com/relink/relink/backend"
	"github.com/relink/relink/store"
)

// failingSync is a backend whose sync fails with err.
type failingSync struct {
	Actions
	err error
}

func (f failingSync) Sync(context.Context, []string, func(backend.SyncProgress)) ([]backend.SyncReport, error) {
	return nil, f.err
}

// boxText is the text inside the open dialog, as drawn over the screen,
// its lines joined by spaces: a message wrapped in it reads as one again.
func boxText(h *harness) string {
	var parts []string
	for _, l := range strings.Split(ansi.Strip(h.m.overlay.view(&h.m.c)), "\n") {
		i, j := strings.Index(l, "│"), strings.LastIndex(l, "│")
		if i >= 0 && j > i {
			parts = append(parts, strings.Fields(l[i+len("│"):j])...)
		}
	}
	return strings.Join(parts, " ")
}

const longSyncError = "plaid: the API answered 400 INVALID_API_KEYS: the client_id or secret provided are not valid; " +
	"check client_id and secret in the [plaid] section of the config, or RELINK_PLAID_SECRET, then sync again (request 7f3c9a)"

// A sync failing with an error longer than the status line: the line cuts
// it and ends with where to read it whole, and L shows the whole of it.
func TestALongErrorIsCutWithAHintAndLShowsItWhole(t *testing.T) {
	st := newStore(t)
	h := newHarness(t, st, Options{Actions: failingSync{realDesk(st), errors.New(longSyncError)}}, 80, 24)
	h.press("ctrl+r")
	status := h.line("sync failed")
	if status == "" {
		t.Fatalf("no failed sync on the status line:\n%s", h.screen())
	}
	if !strings.HasSuffix(strings.TrimRight(status, " "), "… L: messages") || strings.Contains(status, "request 7f3c9a") {
		t.Fatalf("the status line is not cut with the hint: %q", status)
	}
	h.press("L")
	if _, ok := h.m.overlay.(*logOverlay); !ok {
		t.Fatalf("L opened %T", h.m.overlay)
	}
	mustContain(t, h.screen(), "Messages · newest first")
	mustContain(t, boxText(h), "12:00:00 ✗ sync failed: "+longSyncError)
	mustContain(t, h.lastLine(), "scroll", "close")
	h.press("L")
	if h.m.overlay != nil {
		t.Fatal("L closes the messages")
	}
	h.press("L", "esc")
	if h.m.overlay != nil {
		t.Fatal("esc closes the messages")
	}
}

// An error of several lines shows its first on the status line, with the
// hint though it fits; the log has every line.
func TestAnErrorOfSeveralLinesIsWholeInTheLog(t *testing.T) {
	st := newStore(t)
	h := newHarness(t, st, Options{Actions: realDesk(st)}, 120, 35)
	h.m.fail("reading the funnel", errors.New("database is locked\nretry in a moment"))
	status := h.line("reading the funnel")
	if !strings.Contains(status, "✗ reading the funnel: database is locked … L: messages") || strings.Contains(status, "retry") {
		t.Fatalf("status %q", status)
	}
	h.press("L")
	mustContain(t, boxText(h), "reading the funnel: database is locked retry in a moment")
}

// The log is newest first, keeps a repeat as a count, holds no link (a
// direct one carries a live provider token), and keeps its newest
// logLimit messages only.
func TestTheLogIsNewestFirstBoundedAndHoldsNoLink(t *testing.T) {
	w := newPlaidWorld(t, fixedClock)
	h := newHarness(t, w.st, Options{Actions: w.desk, Role: RoleAgent}, 120, 35)
	h.selectWhere(func(c store.Connection) bool { return c.Name == "Ana Ruiz" })
	h.press("c")
	if h.line("Copied direct link") == "" || !strings.HasPrefix(h.clipboard, w.emu.URL()) {
		t.Fatalf("no link copied: %q", h.clipboard)
	}
	h.press("ctrl+r", "ctrl+r") // an agent: refused, twice
	h.press("L")
	lines, _ := logLines(&h.m.c, &h.m.log)
	text := boxText(h)
	if strings.Contains(text, "http") || strings.Contains(text, "hosted") {
		t.Fatalf("the log holds a link: %s", text)
	}
	refused := strings.Index(text, "agents cannot sync on demand; ask a lead (×2)")
	copied := strings.Index(text, "Copied direct link for Ana Ruiz (expires in 30 min) · the link: on the clipboard and in the details")
	if refused < 0 || copied < 0 || refused > copied {
		t.Fatalf("want the refusal, counted, above the copy (newest first):\n%s", text)
	}
	if len(h.m.log.entries) != 2 || len(lines) < 2 {
		t.Fatalf("log %+v, rows %+v", h.m.log.entries, lines)
	}
	h.press("esc")

	for i := range logLimit + 5 {
		h.m.report(true, fmt.Sprintf("message %d", i))
	}
	if n := len(h.m.log.entries); n != logLimit {
		t.Fatalf("the log keeps %d messages, want %d", n, logLimit)
	}
	if first := h.m.log.entries[0].text; first != "message 5" {
		t.Fatalf("the oldest kept is %q, want message 5", first)
	}
}

// Text from outside reaches the log as visible escapes, as everywhere.
func TestTheLogShowsControlCharactersAsEscapes(t *testing.T) {
	h := newHarness(t, newStore(t), Options{}, 120, 35)
	h.m.fail("syncing belvo", errors.New("bad \x1b]52;c;ZXZpbA==\x07 answer"))
	h.press("L")
	if s := h.m.render(); strings.Contains(s, "\x1b]52") {
		t.Fatal("an OSC 52 sequence reached the screen")
	}
	mustContain(t, boxText(h), `bad \x1b]52;c;ZXZpbA==\x07 answer`)
}

func TestWrapWords(t *testing.T) {
	for _, c := range []struct {
		text string
		w    int
		want []string
	}{
		{"started with --read-only", 15, []string{"started with", "--read-only"}},
		{"a\nb c", 10, []string{"a", "b c"}},
		{"see https://relink.example.com/r/abcdef now", 12, []string{"see", "https://reli", "nk.example.c", "om/r/abcdef", "now"}},
		{"", 10, []string{""}},
		{"日本", 1, []string{"日", "本"}},
	} {
		if got := wrapWords(c.text, c.w); strings.Join(got, "|") != strings.Join(c.want, "|") {
			t.Errorf("wrapWords(%q, %d) = %q, want %q", c.text, c.w, got, c.want)
		}
	}
}

// BenchmarkMessagesLogFrame is a frame of the messages log when full
// (logLimit messages of a long error each), as every key in it redraws it.
func BenchmarkMessagesLogFrame(b *testing.B) {
	h := newHarness(b, newStore(b), Options{}, 120, 35)
	for i := range logLimit {
		h.m.fail(fmt.Sprintf("syncing plaid (%d)", i), errors.New(longSyncError))
	}
	h.press("L")
	b.ResetTimer()
	for range b.N {
		h.press("j")
		_ = h.m.render()
	}
}

// A sync failing with an error of several lines (a provider's answer
// quoted under the first) shows its first line on the status line and the
// rest in the log.
func TestASyncErrorOfSeveralLinesIsWholeInTheLog(t *testing.T) {
	st := newStore(t)
	h := newHarness(t, st, Options{Actions: failingSync{realDesk(st), errors.New("plaid: /item/get answered 500\nrequest id 7f3c9a: retry later")}}, 120, 35)
	h.press("ctrl+r")
	status := h.line("sync failed")
	if !strings.Contains(status, "sync failed: plaid: /item/get answered 500 … L: messages") || strings.Contains(status, "7f3c9a") {
		t.Fatalf("status %q", status)
	}
	h.press("L")
	mustContain(t, boxText(h), "request id 7f3c9a: retry later")
}
