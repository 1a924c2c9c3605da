package ui

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"rsc.io/qr"

	"github.com/relink/relink/store"
)

// readQR reads a drawn code back, quiet zone included: true for a dark
// module. On a dark background the ink is the light modules.
func readQR(lines []string, darkBackground bool) [][]bool {
	var out [][]bool
	for _, l := range lines {
		var top, bottom []bool
		for _, r := range ansi.Strip(l) {
			t, b := r == '█' || r == '▀', r == '█' || r == '▄'
			top, bottom = append(top, t != darkBackground), append(bottom, b != darkBackground)
		}
		out = append(out, top, bottom)
	}
	return out
}

// TestQRDrawingIsTheCode reads the half blocks back, module by module, and
// compares them with the encoder's bitmap and a light quiet zone, on both
// backgrounds, with and without colours.
func TestQRDrawingIsTheCode(t *testing.T) {
	for _, url := range []string{
		"http://127.0.0.1:40123/hosted/link-sandbox-3eea47bf-6a7f-4558-b96b-7e17c62238bb",
		"https://relink.example.com/r/eyJpZCI6IjAxSjhQ" + strings.Repeat("x", 120),
	} {
		code, err := qr.Encode(url, qr.L)
		if err != nil {
			t.Fatal(err)
		}
		n := code.Size + 2*qrQuiet
		for _, dark := range []bool{true, false} {
			for _, colour := range []bool{true, false} {
				name := fmt.Sprintf("%d chars, dark %v, colour %v", len(url), dark, colour)
				img := renderQR(url, dark, colour)
				if img.err != nil || img.w != n || img.h != (n+1)/2 || len(img.lines) != img.h {
					t.Fatalf("%s: %dx%d, %d lines, %v", name, img.w, img.h, len(img.lines), img.err)
				}
				for i, l := range img.lines {
					if w := ansi.StringWidth(l); w != n {
						t.Fatalf("%s: line %d is %d wide, want %d", name, i, w, n)
					}
				}
				if colour != strings.Contains(img.lines[0], "\x1b[") {
					t.Fatalf("%s: colours %q", name, img.lines[0])
				}
				got := readQR(img.lines, dark)
				for y := 0; y < n; y++ {
					for x := 0; x < n; x++ {
						qx, qy := x-qrQuiet, y-qrQuiet
						want := qx >= 0 && qy >= 0 && qx < code.Size && qy < code.Size && code.Black(qx, qy)
						if got[y][x] != want {
							t.Fatalf("%s: module (%d,%d) is dark=%v, want %v", name, x, y, got[y][x], want)
						}
					}
				}
			}
		}
	}
}

// linkFixture is the test store with a valid durable link on the selected
// connection, as the CLI or another agent would have minted it.
func linkFixture(t *testing.T, opts Options, w, h int) (*harness, string) {
	t.Helper()
	st := newStore(t)
	opts.Actions, opts.Operator = realDesk(st), "dana"
	hs := newHarness(t, st, opts, w, h)
	c, ok := hs.m.selected()
	if !ok {
		t.Fatal("nothing selected")
	}
	// A durable link: the store keeps a direct link's origin only (never its
	// token), so only a durable one can be drawn again from the store.
	url := "http://127.0.0.1:40123/r/tk-3eea47bf6a7f4558b96b7e17c62238bb.v1.9f2c0a7d1e4b6c8a5f3d"
	exp := epoch.Add(29 * time.Minute)
	if _, err := st.AddLink(context.Background(), store.Link{ConnectionID: c.ID, Kind: store.LinkDurable, URL: url, Ticket: "tk-3eea47bf",
		ExpiresAt: &exp, Operator: "dana", CreatedAt: epoch.Add(-time.Minute)}); err != nil {
		t.Fatal(err)
	}
	return hs, url
}

func TestQRKeyShowsTheLinkAsAQRCodeInThePane(t *testing.T) {
	h, url := linkFixture(t, Options{}, 120, 35)
	h.press("Q") // opens the pane too
	if !h.m.detailOpen || !h.m.showQR {
		t.Fatalf("Q: pane %v, QR %v", h.m.detailOpen, h.m.showQR)
	}
	screen := h.screen()
	mustContain(t, screen, "durable · 29m left", "scan to open · Q hides")
	if !strings.Contains(strings.ReplaceAll(paneText(screen), "\n", ""), url) {
		t.Fatalf("the URL is not shown as text beside the QR code:\n%s", screen)
	}
	// Every line of the code is on screen, uncut, one under the other.
	img := renderQR(url, true, false)
	lines := strings.Split(screen, "\n")
	at := -1
	for i, l := range lines {
		if strings.Contains(l, img.lines[0]) {
			at = i
			break
		}
	}
	if at < 0 || at+img.h > len(lines) {
		t.Fatalf("no QR code on screen:\n%s", screen)
	}
	for i, ql := range img.lines {
		if !strings.Contains(lines[at+i], ql) {
			t.Fatalf("QR line %d is not on screen line %d:\n%s", i, at+i, screen)
		}
	}
	if out := h.m.render(); !strings.Contains(out, "\x1b[38;2;255;255;255;48;2;0;0;0m") && !strings.Contains(out, "\x1b[97;40m") {
		t.Fatalf("the code is not drawn white on black on a dark background:\n%q", out)
	}

	h.press("Q")
	if h.m.showQR || !h.m.detailOpen || strings.Contains(h.screen(), img.lines[0]) {
		t.Fatal("Q again hides the code and keeps the pane")
	}
	h.press("Q", "esc")
	if h.m.showQR || h.m.detailOpen {
		t.Fatal("esc closes the pane and the code")
	}
	h.press("enter")
	if h.m.showQR {
		t.Fatal("the pane reopens without the code")
	}
}

func TestQRCodeIsHiddenWhenThePaneIsTooSmall(t *testing.T) {
	h, _ := linkFixture(t, Options{}, 80, 24)
	h.press("Q")
	s := h.screen()
	mustContain(t, paneWords(s), "QR code hidden: it needs 41×21 cells", "widen the terminal to 120 columns")
	if strings.Contains(s, "▀▀▀") {
		t.Fatalf("a cut code is drawn:\n%s", s)
	}
	h.send(teaSize(120, 26))
	mustContain(t, paneWords(h.screen()), "QR code hidden", "make the terminal taller")
	h.send(teaSize(120, 35))
	if s := h.screen(); strings.Contains(s, "QR code hidden") || !strings.Contains(s, "scan to open") {
		t.Fatalf("at 120x35 the code fits:\n%s", s)
	}
}

func TestQRWithoutALinkSaysHowToMakeOne(t *testing.T) {
	st := newStore(t)
	h := newHarness(t, st, Options{Actions: realDesk(st)}, 120, 35)
	h.press("Q")
	mustContain(t, paneWords(h.screen()), "no valid link to show as a QR code; c makes one")
	ro := newHarness(t, st, Options{Actions: realDesk(st), ReadOnly: true}, 120, 35)
	ro.press("Q")
	s := paneWords(ro.screen())
	mustContain(t, s, "no valid link to show as a QR code")
	if strings.Contains(s, "makes one") {
		t.Fatal("read-only mode cannot make a link")
	}
	ro.press("?")
	mustContain(t, ro.screen(), "Q", "show QR code")
}

func TestQRInASCIIModeSaysWhyNot(t *testing.T) {
	h, _ := linkFixture(t, Options{ASCII: true}, 120, 35)
	h.press("Q")
	s := h.screen()
	mustContain(t, paneWords(s), "a QR code needs block characters, which ASCII mode turns off")
	for i, r := range s {
		if r > 127 {
			t.Fatalf("non-ASCII %q at %d:\n%s", r, i, s)
		}
	}
}

// TestGoldenQR is the pane with the code, as drawn (cat the file in a terminal
// with a dark background and scan it).
func TestGoldenQR(t *testing.T) {
	for _, variant := range []string{"dark", "light"} {
		t.Run(variant, func(t *testing.T) {
			h, _ := linkFixture(t, Options{}, 120, 35)
			h.themed(variant)
			h.press("Q")
			conn, _ := h.m.selected()
			golden(t, renderDetail(&h.m.c, h.m.detailData(conn, true), 48, 31))
		})
	}
}

func teaSize(w, h int) tea.WindowSizeMsg { return tea.WindowSizeMsg{Width: w, Height: h} }

// paneWords is the text of the details pane with its lines joined, as it
// reads once wrapping is undone.
func paneWords(screen string) string { return strings.Join(strings.Fields(paneText(screen)), " ") }

// A direct link minted elsewhere (the CLI, another agent) is stored with
// its page's origin only: the pane tells of it, but nothing offers to copy,
// open or draw it, since its token is not kept.
func TestADirectLinkMintedElsewhereIsToldOfNotOffered(t *testing.T) {
	st := newStore(t)
	h := newHarness(t, st, Options{Actions: realDesk(st), Operator: "dana"}, 120, 35)
	c, ok := h.m.selected()
	if !ok {
		t.Fatal("nothing selected")
	}
	exp := epoch.Add(29 * time.Minute)
	if _, err := st.AddLink(context.Background(), store.Link{ConnectionID: c.ID, Kind: store.LinkDirect,
		URL: "https://hosted.plaid.com/link/lt-secret-token", ExpiresAt: &exp, Operator: "sam", CreatedAt: epoch.Add(-time.Minute)}); err != nil {
		t.Fatal(err)
	}
	h.press("enter")
	screen := h.screen()
	mustContain(t, screen, "link      direct", "29m left · hosted.plaid.com", "its token is not kept: c mints a new one")
	if strings.Contains(screen, "lt-secret-token") {
		t.Fatalf("the pane shows a token:\n%s", screen)
	}
	if _, have := h.m.currentLink(c); have {
		t.Fatal("a direct link from the store is offered to copy, open or draw")
	}
}
