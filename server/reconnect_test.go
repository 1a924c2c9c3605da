package server

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/relink/relink/backend"
	"github.com/relink/relink/provider"
	"github.com/relink/relink/provider/plaid"
	"github.com/relink/relink/provider/sandbox"
	"github.com/relink/relink/store"
	"github.com/relink/relink/ticket"
	"github.com/relink/relink/vault"
)

// linkEnv serves GET /r/{ticket} for a store holding one broken Plaid
// Item, whose provider calls go through a proxy that counts the
// update-mode tokens minted.
type linkEnv struct {
	t      *testing.T
	path   string
	st     *store.Store
	desk   *backend.Backend
	emu    *sandbox.Plaid
	mints  atomic.Int64
	base   string
	client *http.Client // does not follow redirects
	logs   *syncBuffer
}

const brokenItemToken = "access-sandbox-BROKEN-SECRET"

func newLinkEnv(t *testing.T) *linkEnv {
	t.Helper()
	ctx := context.Background()
	e := &linkEnv{t: t, logs: &syncBuffer{}, path: filepath.Join(t.TempDir(), "relink.db")}
	var err error
	e.emu, err = sandbox.NewPlaid(sandbox.PlaidOptions{PerItemPerMinute: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.emu.Close() })
	if _, err := e.emu.AddConnection(sandbox.Connection{ID: "item-broken", AccessToken: brokenItemToken,
		Code: "ITEM_LOGIN_REQUIRED", Institution: "Tartan Bank"}); err != nil {
		t.Fatal(err)
	}
	target, _ := url.Parse(e.emu.URL())
	proxy := httputil.NewSingleHostReverseProxy(target)
	counting := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/link/token/create" {
			e.mints.Add(1)
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(counting.Close)
	key, _, _ := vault.Generate()
	e.st, err = store.Open(ctx, e.path, store.Options{Sealer: key})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.st.Close() })
	im, _ := e.st.BeginImport(ctx, "test")
	if err := im.Add(ctx, store.Registration{Provider: "plaid", ProviderID: "item-broken", AccessToken: brokenItemToken, UserRef: "u1"}); err != nil {
		t.Fatal(err)
	}
	if err := im.Commit(ctx, "test"); err != nil {
		t.Fatal(err)
	}
	id, secret := e.emu.Credentials()
	pc, err := plaid.New(plaid.Config{BaseURL: counting.URL, ClientID: id, Secret: secret, ClientName: "Acme", Language: "en",
		CountryCodes: []string{"US"}, HostedLink: true, PerItemPerMinute: 6000, PerClientPerMinute: 600000})
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ticket.LoadOrCreate(e.path + ".linkkey")
	if err != nil {
		t.Fatal(err)
	}
	e.desk = &backend.Backend{Store: e.st, Providers: map[string]provider.Provider{"plaid": pc}, Operator: "dana",
		Tickets: signer, PublicURL: "https://relink.example.com", Clicks: backend.NewClickGuard()}
	if _, err := e.desk.Sync(ctx, nil, nil); err != nil {
		t.Fatal(err)
	}
	e.serve(e.desk)
	return e
}

// serve starts a server whose reconnect links are redeemed by r.
func (e *linkEnv) serve(r Redeemer) {
	srv, err := New(Config{Store: e.st, Reconnect: r,
		Logger: slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		e.t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	e.t.Cleanup(func() { hs.Close(); srv.Close() })
	e.base = hs.URL
	e.client = &http.Client{Timeout: 20 * time.Second,
		Transport:     &http.Transport{MaxIdleConnsPerHost: 64},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	e.t.Cleanup(e.client.CloseIdleConnections)
}

// link makes a durable link for the broken Item and returns its path.
func (e *linkEnv) link() string {
	e.t.Helper()
	l, err := e.desk.DurableLink(context.Background(), "plaid:item-broken")
	if err != nil {
		e.t.Fatal(err)
	}
	u, _ := url.Parse(l.URL)
	return u.Path
}

type click struct {
	status   int
	location string
	header   http.Header
	body     string
}

func (e *linkEnv) click(method, path string) click {
	req, _ := http.NewRequest(method, e.base+path, nil)
	resp, err := e.client.Do(req)
	if err != nil {
		e.t.Errorf("%s %s: %v", method, path, err)
		return click{}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return click{resp.StatusCode, resp.Header.Get("Location"), resp.Header, string(b)}
}

// 300 clicks on one link at once, then more one after another (a HEAD
// among them, as link-preview bots send), mint one provider token and all
// go to its page; the token is not in the log.
func TestReconnectBurstMintsOneToken(t *testing.T) {
	e := newLinkEnv(t)
	path := e.link()
	const burst = 300
	got := make([]click, burst)
	var wg sync.WaitGroup
	for i := range burst {
		wg.Go(func() { got[i] = e.click(http.MethodGet, path) })
	}
	wg.Wait()
	got = append(got, e.click(http.MethodHead, path))
	for range 20 {
		got = append(got, e.click(http.MethodGet, path))
	}
	for i, c := range got {
		if c.status != http.StatusFound || c.location != got[0].location || !strings.HasPrefix(c.location, e.emu.URL()+"/hosted/") {
			t.Fatalf("click %d: %d to %q; click 0 went to %q", i, c.status, c.location, got[0].location)
		}
	}
	if n := e.mints.Load(); n != 1 {
		t.Fatalf("%d clicks minted %d provider tokens, want 1", len(got), n)
	}
	if logs := e.logs.String(); strings.Contains(logs, "link-sandbox-") || strings.Contains(logs, "/hosted/") {
		t.Error("the log holds the minted token")
	}
	if n := e.logs.lines(`"msg":"reconnect link"`, `"reused":true`); n != len(got)-1 {
		t.Errorf("%d clicks logged as reused, want %d", n, len(got)-1)
	}
}

// Once a connection has minted its budget (3 at once, across its links),
// a link that needs a new token gets a page asking to wait a minute or use
// the latest email's link, and a 429 with Retry-After.
func TestReconnectTooManyMintsPage(t *testing.T) {
	e := newLinkEnv(t)
	var paths []string
	for range 4 {
		paths = append(paths, e.link())
	}
	for i, p := range paths[:3] {
		if c := e.click(http.MethodGet, p); c.status != http.StatusFound {
			t.Fatalf("link %d: %d %s", i, c.status, c.body)
		}
	}
	c := e.click(http.MethodGet, paths[3])
	t.Logf("%d %s", c.status, c.body)
	if c.status != http.StatusTooManyRequests || c.header.Get("Retry-After") != "60" ||
		!strings.HasPrefix(c.header.Get("Content-Type"), "text/html") {
		t.Fatalf("a fourth link at once: %d, Retry-After %q", c.status, c.header.Get("Retry-After"))
	}
	for _, want := range []string{"<h1>Please wait a minute</h1>", "wait a minute and try again", "use the link from the latest email"} {
		if !strings.Contains(c.body, want) {
			t.Errorf("the page does not say %q", want)
		}
	}
	if n := e.mints.Load(); n != 3 {
		t.Errorf("%d tokens minted, want 3", n)
	}
	if c := e.click(http.MethodGet, paths[0]); c.status != http.StatusFound {
		t.Errorf("the first link, whose token lives: %d", c.status)
	}
}

// When relink's secret key does not open the connection's access token,
// the user is told the link cannot be opened now and that support knows
// (not that the provider did not answer); the log names the connection and
// the key, never the token.
func TestReconnectWithTheWrongSecretKey(t *testing.T) {
	e := newLinkEnv(t)
	path := e.link()
	other, _, _ := vault.Generate()
	st, err := store.Open(context.Background(), e.path, store.Options{Sealer: other})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	wrong := *e.desk
	wrong.Store = st
	e.serve(&wrong)
	c := e.click(http.MethodGet, path)
	t.Logf("%d %s", c.status, c.body)
	if c.status != http.StatusServiceUnavailable {
		t.Fatalf("status %d", c.status)
	}
	for _, want := range []string{"cannot be opened right now", "support team has been told"} {
		if !strings.Contains(c.body, want) {
			t.Errorf("the page does not say %q", want)
		}
	}
	if strings.Contains(c.body, "did not answer") {
		t.Error("the page blames the provider")
	}
	logs := e.logs.String()
	t.Log(logs)
	if e.logs.lines(`"level":"ERROR"`, `"connection":"plaid:item-broken"`, "secret key does not open") != 1 {
		t.Error("no log line naming the connection and the secret key")
	}
	if strings.Contains(logs, brokenItemToken) || strings.Contains(logs, `"connection":""`) {
		t.Error("the log holds the access token, or an empty connection")
	}
	if n := e.mints.Load(); n != 0 {
		t.Errorf("%d tokens minted", n)
	}
}
