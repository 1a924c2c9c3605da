package ui

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"

	"github.com/relink/relink/backend"
	"github.com/relink/relink/provider"
	"github.com/relink/relink/provider/plaid"
	"github.com/relink/relink/provider/sandbox"
	"github.com/relink/relink/store"
	"github.com/relink/relink/vault"
)

// plaidWorld is a real cache and a real backend whose Plaid client talks to the
// Plaid emulator over loopback: Ana Ruiz's Item needs her login again, Ben
// Cho's is fine.
type plaidWorld struct {
	st   *store.Store
	desk *backend.Backend
	emu  *sandbox.Plaid
}

func newPlaidWorld(t testing.TB, now func() time.Time) *plaidWorld {
	t.Helper()
	ctx := context.Background()
	emu, err := sandbox.NewPlaid(sandbox.PlaidOptions{PerItemPerMinute: -1, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	key, _, err := vault.Generate()
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "relink.db"), store.Options{Sealer: key, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	im, err := st.BeginImport(ctx, "test")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		id, token, code, name string
	}{
		{"item-ana", "access-sandbox-ANA-SECRET", "ITEM_LOGIN_REQUIRED", "Ana Ruiz"},
		{"item-ben", "access-sandbox-BEN-SECRET", "", "Ben Cho"},
	} {
		if _, err := emu.AddConnection(sandbox.Connection{ID: c.id, AccessToken: c.token, Code: c.code, Institution: "Tartan Bank"}); err != nil {
			t.Fatal(err)
		}
		if err := im.Add(ctx, store.Registration{Provider: "plaid", ProviderID: c.id, AccessToken: c.token, Name: c.name,
			UserRef: "u-" + c.id, Institution: "Tartan Bank"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := im.Commit(ctx, "test"); err != nil {
		t.Fatal(err)
	}
	id, secret := emu.Credentials()
	pc, err := plaid.New(plaid.Config{BaseURL: emu.URL(), ClientID: id, Secret: secret, ClientName: "relink test", Language: "en",
		CountryCodes: []string{"US"}, HostedLink: true})
	if err != nil {
		t.Fatal(err)
	}
	d := &backend.Backend{Store: st, Providers: map[string]provider.Provider{"plaid": pc}, Operator: "dana", Now: now}
	if _, err := d.Sync(ctx, nil, nil); err != nil {
		t.Fatal(err)
	}
	return &plaidWorld{st: st, desk: d, emu: emu}
}

// uses returns the link uses the audit log holds ("copy plaid:item-ana direct link").
func (w *plaidWorld) uses(t testing.TB) []string {
	t.Helper()
	var out []string
	err := w.st.AuditSince(context.Background(), time.Time{}, func(e store.AuditEntry) error {
		if e.Action == "copy" || e.Action == "open" {
			out = append(out, e.Operator+" "+e.Action+" "+e.Target+" "+e.Detail)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// mintedURL checks that url is a Plaid Hosted Link whose token is the one
// the store recorded, by its hash, for item's newest link, and that the
// store kept only the page's origin, not the token. It returns the link.
func (w *plaidWorld) mintedURL(t testing.TB, item, url string) store.Link {
	t.Helper()
	l := w.minted(t, item)
	token, ok := strings.CutPrefix(url, w.emu.URL()+"/hosted/")
	if !ok || token == "" || provider.TokenHash(token) != l.TokenHash {
		t.Fatalf("%q is not the Hosted Link minted and recorded for %s (recorded %+v)", url, item, l)
	}
	if l.URL != w.emu.URL() || strings.Contains(l.URL, "link-sandbox") {
		t.Fatalf("the store kept %q: more than the page's origin", l.URL)
	}
	return l
}

// minted is the newest link the store recorded for item.
func (w *plaidWorld) minted(t testing.TB, item string) store.Link {
	t.Helper()
	ctx := context.Background()
	c, err := w.st.Connection(ctx, "plaid", item)
	if err != nil {
		t.Fatal(err)
	}
	links, err := w.st.Links(ctx, c.ID, 1)
	if err != nil || len(links) == 0 {
		t.Fatalf("no link recorded for %s: %v", item, err)
	}
	return links[0]
}

func TestCopyLinkSaysForWhomAndForHowLongAndRecordsIt(t *testing.T) {
	w := newPlaidWorld(t, func() time.Time { return epoch })
	h := newHarness(t, w.st, Options{Actions: w.desk}, 120, 35)
	if name := h.selectedName(t); name != "Ana Ruiz" {
		t.Fatalf("selected %q", name)
	}
	h.press("c")
	w.mintedURL(t, "item-ana", h.clipboard)
	url := h.clipboard
	mustContain(t, h.line("Copied"), "✓ Copied direct link for Ana Ruiz (expires in 30 min)")
	if got := w.uses(t); strings.Join(got, "|") != "dana copy plaid:item-ana direct link" {
		t.Fatalf("audit uses %q", got)
	}

	// The pane shows the whole URL as text, the copy in the history, and
	// neither the history nor the audit log holds the URL.
	h.press("enter")
	screen := h.screen()
	mustContain(t, strings.Join(strings.Fields(paneText(screen)), " "), "direct link copied by dana", "direct link minted by dana", "30m left")
	if !strings.Contains(strings.ReplaceAll(paneText(screen), "\n", ""), url) {
		t.Fatalf("the pane does not show %s:\n%s", url, screen)
	}
	out := h.m.render()
	if !strings.Contains(out, "\x1b]8;id=") || !strings.Contains(out, ";"+url+"\x07") {
		t.Fatalf("the URL is not an OSC 8 hyperlink:\n%q", out)
	}
	conn, _ := w.st.Connection(context.Background(), "plaid", "item-ana")
	hist, _ := w.st.History(context.Background(), conn.ID, 20)
	for _, e := range hist {
		if strings.Contains(e.Summary, "link-sandbox") || strings.Contains(e.Summary, "hosted") {
			t.Fatalf("history holds the link: %q", e.Summary)
		}
	}
}

func TestOpenLinkOpensTheBrowserAndRecordsIt(t *testing.T) {
	w := newPlaidWorld(t, func() time.Time { return epoch })
	h := newHarness(t, w.st, Options{Actions: w.desk}, 120, 35)
	var opened []string
	h.m.open = func(url string) error { opened = append(opened, url); return nil }

	h.press("o") // no link yet: mint one and open it, without copying
	if len(opened) != 1 || h.clipboard != "" {
		t.Fatalf("opened %q, clipboard %q", opened, h.clipboard)
	}
	l := w.mintedURL(t, "item-ana", opened[0])
	mustContain(t, h.line("Opening"), "Opening direct link for Ana Ruiz (expires in 30 min)")
	h.press("o") // the link is still good: opened again, not minted again
	if len(opened) != 2 || opened[1] != opened[0] || w.minted(t, "item-ana").ID != l.ID {
		t.Fatalf("opened %q", opened)
	}
	if got := w.uses(t); strings.Join(got, "|") != "dana open plaid:item-ana direct link|dana open plaid:item-ana direct link" {
		t.Fatalf("audit uses %q", got)
	}

	h.m.open = func(string) error { return errors.New("xdg-open: not found") }
	h.press("o")
	mustContain(t, h.line("opening the browser"), "✗ opening the browser: xdg-open: not found")
	if n := len(w.uses(t)); n != 2 {
		t.Fatalf("a failed opening was recorded: %d uses", n)
	}
}

// paneText is the text inside the details pane's borders, one line a row.
func paneText(screen string) string {
	var out []string
	for _, l := range strings.Split(screen, "\n") {
		for _, border := range []string{"│", "|"} { // ASCII mode draws |
			i := strings.LastIndex(l, border+" ")
			j := strings.LastIndex(l, " "+border)
			if i >= 0 && j > i {
				out = append(out, strings.TrimSpace(l[i+len(border)+1:j]))
				break
			}
		}
	}
	return strings.Join(out, "\n")
}

// syncBuffer is a terminal's output, written by the program and read by
// the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestCopyWritesOSC52 runs the dashboard in a real Bubble Tea program whose
// terminal is a buffer, presses c on Ana's failing Plaid row, and reads the
// clipboard escape (OSC 52) the program wrote, with the URL that works.
func TestCopyWritesOSC52(t *testing.T) {
	w := newPlaidWorld(t, time.Now)
	m, err := New(Options{Store: w.st, Actions: w.desk, Operator: "dana", Providers: []string{"plaid"}})
	if err != nil {
		t.Fatal(err)
	}
	m.open = func(string) error { t.Error("nothing should open"); return nil }
	out := &syncBuffer{}
	p := tea.NewProgram(m, tea.WithInput(nil), tea.WithOutput(out), tea.WithWindowSize(120, 35),
		tea.WithEnvironment([]string{"TERM=xterm-256color"}), tea.WithColorProfile(colorprofile.TrueColor),
		tea.WithoutSignalHandler())
	done := make(chan error, 1)
	go func() { _, err := p.Run(); done <- err }()
	t.Cleanup(func() {
		p.Quit()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("program: %v", err)
			}
		case <-time.After(10 * time.Second):
			p.Kill()
			t.Error("the program did not quit")
		}
	})
	waitOutput := func(what string, ok func(string) bool) string {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			s := out.String()
			if ok(s) {
				return s
			}
			if time.Now().After(deadline) {
				t.Fatalf("waiting for %s; the terminal got:\n%q", what, s)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	// Words without spaces: the renderer may move over a blank it drew already.
	waitOutput("Ana's row", func(s string) bool { return strings.Contains(s, "Ruiz") })

	p.Send(tea.KeyPressMsg{Code: 'c', Text: "c"})
	s := waitOutput("the clipboard escape", func(s string) bool {
		i := strings.Index(s, "\x1b]52;c;")
		return i >= 0 && strings.ContainsAny(s[i:], "\x07\x1b\\")
	})
	i := strings.Index(s, "\x1b]52;c;") + len("\x1b]52;c;")
	end := strings.IndexAny(s[i:], "\x07\x1b")
	copied, err := base64.StdEncoding.DecodeString(s[i : i+end])
	if err != nil {
		t.Fatalf("the clipboard escape is not base64: %q", s[i:i+end])
	}
	w.mintedURL(t, "item-ana", string(copied)) // the Hosted Link minted for Ana
	l := struct{ URL string }{string(copied)}
	waitOutput("the copy feedback", func(s string) bool { return strings.Contains(s, "Copied") })

	// The details pane shows the URL as a terminal hyperlink (OSC 8).
	p.Send(tea.KeyPressMsg{Code: tea.KeyEnter})
	waitOutput("the URL as a hyperlink", func(s string) bool {
		return strings.Contains(s, "\x1b]8;") && (strings.Contains(s, ";"+l.URL+"\x07") || strings.Contains(s, ";"+l.URL+"\x1b\\"))
	})

	// The URL copied is the emulator's update page for Ana's Item.
	resp, err := http.Get(l.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Contains(body, []byte("<button")) {
		t.Fatalf("GET %s: %d\n%s", l.URL, resp.StatusCode, body)
	}

	// The copy reaches the history and the audit log.
	deadline := time.Now().Add(10 * time.Second)
	for strings.Join(w.uses(t), "|") != "dana copy plaid:item-ana direct link" {
		if time.Now().After(deadline) {
			t.Fatalf("audit uses %q", w.uses(t))
		}
		time.Sleep(10 * time.Millisecond)
	}
}
