package backend_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/relink/relink/backend"
	"github.com/relink/relink/health"
	"github.com/relink/relink/provider"
	"github.com/relink/relink/provider/plaid"
	"github.com/relink/relink/provider/sandbox"
	"github.com/relink/relink/store"
	"github.com/relink/relink/ticket"
	"github.com/relink/relink/vault"
)

type linkWorld struct {
	desk  *backend.Backend
	st    *store.Store
	emu   *sandbox.Plaid
	clock *time.Time
	mints *atomic.Int64 // /link/token/create calls that reached the emulator
	path  string        // the database
	key   *vault.Key
}

// countMints puts a proxy in front of a Plaid emulator that counts the
// update-mode tokens asked of it, and returns its URL.
func countMints(t *testing.T, emu *sandbox.Plaid, n *atomic.Int64) string {
	t.Helper()
	target, err := url.Parse(emu.URL())
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/link/token/create" {
			n.Add(1)
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func newLinkWorld(t *testing.T) *linkWorld {
	t.Helper()
	ctx := context.Background()
	emu, err := sandbox.NewPlaid(sandbox.PlaidOptions{PerItemPerMinute: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	now := time.Now().UTC()
	w := &linkWorld{emu: emu, clock: &now, mints: &atomic.Int64{}}
	clock := func() time.Time { return *w.clock }
	key, _, _ := vault.Generate()
	dir := t.TempDir()
	w.path, w.key = filepath.Join(dir, "r.db"), key
	w.st, err = store.Open(ctx, w.path, store.Options{Sealer: key, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.st.Close() })
	for _, c := range []sandbox.Connection{
		{ID: "item-broken", AccessToken: "access-sandbox-BROKEN-SECRET", Code: "ITEM_LOGIN_REQUIRED", Institution: "Tartan Bank"},
		{ID: "item-fine", AccessToken: "access-sandbox-FINE-SECRET", Institution: "Tartan Bank"},
	} {
		if _, err := emu.AddConnection(c); err != nil {
			t.Fatal(err)
		}
	}
	im, _ := w.st.BeginImport(ctx, "t")
	im.Add(ctx, store.Registration{Provider: "plaid", ProviderID: "item-broken", AccessToken: "access-sandbox-BROKEN-SECRET", UserRef: "u1"})
	im.Add(ctx, store.Registration{Provider: "plaid", ProviderID: "item-fine", AccessToken: "access-sandbox-FINE-SECRET", UserRef: "u2"})
	if err := im.Commit(ctx, "t"); err != nil {
		t.Fatal(err)
	}
	id, secret := emu.Credentials()
	pc, err := plaid.New(plaid.Config{BaseURL: countMints(t, emu, w.mints), ClientID: id, Secret: secret, ClientName: "t", Language: "en",
		CountryCodes: []string{"US"}, HostedLink: true, PerClientPerMinute: 600000, PerItemPerMinute: 6000})
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ticket.LoadOrCreate(filepath.Join(dir, "r.db.linkkey"))
	if err != nil {
		t.Fatal(err)
	}
	w.desk = &backend.Backend{Store: w.st, Providers: map[string]provider.Provider{"plaid": pc}, Operator: "dana", Now: clock,
		Tickets: signer, PublicURL: "https://relink.example.com/", LinkTTL: 48 * time.Hour, Clicks: backend.NewClickGuard()}
	if _, err := w.desk.Sync(ctx, nil, nil); err != nil {
		t.Fatal(err)
	}
	return w
}

func ticketOf(t *testing.T, link string) string {
	u, err := url.Parse(link)
	if err != nil || !strings.HasPrefix(u.Path, "/r/") {
		t.Fatalf("durable link %q", link)
	}
	return strings.TrimPrefix(u.Path, "/r/")
}

func TestDurableLinkRedirectsToAFreshProviderPage(t *testing.T) {
	w := newLinkWorld(t)
	ctx := context.Background()
	l, err := w.desk.DurableLink(ctx, "plaid:item-broken")
	if err != nil {
		t.Fatal(err)
	}
	if l.Kind != "durable" || !strings.HasPrefix(l.URL, "https://relink.example.com/r/") || !l.ExpiresAt.Equal(w.clock.Add(48*time.Hour).Truncate(time.Second)) {
		t.Fatalf("link %+v", l)
	}
	r, err := w.desk.Redeem(ctx, ticketOf(t, l.URL))
	if err != nil || r.Outcome != backend.Redirect || !strings.HasPrefix(r.URL, w.emu.URL()) || r.Reused {
		t.Fatalf("redeem %+v %v", r, err)
	}
	// A second click while that token lives goes to the same page: no
	// second token is minted.
	r2, _ := w.desk.Redeem(ctx, ticketOf(t, l.URL))
	if r2.Outcome != backend.Redirect || r2.URL != r.URL || !r2.Reused || w.mints.Load() != 1 {
		t.Fatalf("second click %+v, %d tokens minted", r2, w.mints.Load())
	}
	// Once the token is near its end, the link (good for days) mints a new one.
	*w.clock = w.clock.Add(time.Hour)
	r3, _ := w.desk.Redeem(ctx, ticketOf(t, l.URL))
	if r3.Outcome != backend.Redirect || r3.URL == r.URL || r3.Reused || w.mints.Load() != 2 {
		t.Fatalf("click an hour later %+v, %d tokens minted", r3, w.mints.Load())
	}
	*w.clock = w.clock.Add(-time.Hour)
	conn, _ := w.st.Connection(ctx, "plaid", "item-broken")
	links, _ := w.st.Links(ctx, conn.ID, 10)
	durable, minted := 0, 0
	for _, l := range links {
		switch {
		case l.Kind == "durable" && l.Clicks == 3:
			durable++
		case l.Kind == "direct" && l.Operator == "end user, via a durable link":
			minted++ // recorded so Plaid's session webhook finds the connection
		}
	}
	if durable != 1 || minted != 2 || len(links) != 3 {
		t.Fatalf("links after three clicks: %+v", links)
	}
	hist, _ := w.st.History(ctx, conn.ID, 20)
	var kinds []string
	for _, h := range hist {
		kinds = append(kinds, h.Kind)
		if strings.Contains(h.Summary, "SECRET") || strings.Contains(h.Summary, "link-sandbox") {
			t.Fatalf("history holds a token: %q", h.Summary)
		}
	}
	if strings.Count(strings.Join(kinds, ","), "click") != 3 {
		t.Fatalf("history kinds %v", kinds)
	}
	var audit []string
	w.st.AuditSince(ctx, time.Time{}, func(e store.AuditEntry) error {
		audit = append(audit, e.Action+" "+e.Target+" "+e.Detail)
		return nil
	})
	joined := strings.Join(audit, "\n")
	if !strings.Contains(joined, "link plaid:item-broken durable") || !strings.Contains(joined, "click plaid:item-broken") ||
		strings.Contains(joined, "SECRET") || strings.Contains(joined, "/r/") {
		t.Fatalf("audit:\n%s", joined)
	}
}

func TestDurableLinkRefusals(t *testing.T) {
	w := newLinkWorld(t)
	ctx := context.Background()
	l, _ := w.desk.DurableLink(ctx, "plaid:item-broken")
	tk := ticketOf(t, l.URL)

	fine, _ := w.desk.DurableLink(ctx, "plaid:item-fine")
	if r, _ := w.desk.Redeem(ctx, ticketOf(t, fine.URL)); r.Outcome != backend.NothingToDo {
		t.Fatalf("healthy connection: %+v", r)
	}
	if r, _ := w.desk.Redeem(ctx, flipChar(tk, len(tk)/3)); r.Outcome != backend.InvalidTicket {
		t.Fatalf("tampered: %+v", r)
	}
	if r, _ := w.desk.Redeem(ctx, "garbage"); r.Outcome != backend.InvalidTicket {
		t.Fatalf("garbage: %+v", r)
	}
	*w.clock = w.clock.Add(49 * time.Hour)
	if r, _ := w.desk.Redeem(ctx, tk); r.Outcome != backend.ExpiredTicket {
		t.Fatalf("expired: %+v", r)
	}
	*w.clock = w.clock.Add(-49 * time.Hour)
	if n, err := w.desk.RevokeLinks(ctx, "plaid:item-broken"); err != nil || n != 1 {
		t.Fatalf("revoke %d %v", n, err)
	}
	if r, _ := w.desk.Redeem(ctx, tk); r.Outcome != backend.RevokedTicket {
		t.Fatalf("revoked: %+v", r)
	}
}

func TestDirectLinkAndRefusalInUsersTerms(t *testing.T) {
	w := newLinkWorld(t)
	ctx := context.Background()
	l, err := w.desk.DirectLink(ctx, "plaid:item-broken")
	if err != nil || l.Kind != "direct" || !strings.HasPrefix(l.URL, w.emu.URL()+"/hosted/") || l.ExpiresAt.Before(*w.clock) {
		t.Fatalf("direct link %+v %v", l, err)
	}
	if err := w.emu.Break("item-fine", "ITEM_LOGIN_REQUIRED", "OAUTH_USER_REVOKED"); err != nil {
		t.Fatal(err)
	}
	w.desk.Check(ctx, "plaid:item-fine")
	c, _ := w.st.Connection(ctx, "plaid", "item-fine")
	if c.Health.Category != health.PermissionRevoked {
		t.Fatalf("category %s", c.Health.Category)
	}
	_, err = w.desk.DirectLink(ctx, "plaid:item-fine")
	if err == nil || !strings.Contains(err.Error(), "needs a new connection") || strings.Contains(err.Error(), "SECRET") {
		t.Fatalf("revoked item: %v", err)
	}
}

// flipChar changes the character at i to another base64url character.
func flipChar(s string, i int) string {
	c := byte('A')
	if s[i] == 'A' {
		c = 'B'
	}
	return s[:i] + string(c) + s[i+1:]
}

// A revocation by a session's person (As) stops the link at once: its
// click is refused and recorded, and the history and the audit log name
// that person, not the hub's operator; the dashboards are told.
func TestRevokeLinksAsAPerson(t *testing.T) {
	w := newLinkWorld(t)
	ctx := context.Background()
	l, err := w.desk.DurableLink(ctx, "plaid:item-broken")
	if err != nil {
		t.Fatal(err)
	}
	changes := 0
	w.desk.OnChange = func() { changes++ }
	lee := w.desk.As("lee")
	if n, err := lee.RevokeLinks(ctx, "plaid:item-broken"); err != nil || n != 1 || changes != 1 {
		t.Fatalf("revoke: %d %v, %d changes", n, err, changes)
	}
	r, err := w.desk.Redeem(ctx, ticketOf(t, l.URL))
	if err != nil || r.Outcome != backend.RevokedTicket || !strings.Contains(r.Reason, "withdrawn") {
		t.Fatalf("a click on a revoked link: %+v %v", r, err)
	}
	if w.mints.Load() != 0 {
		t.Fatalf("a revoked link minted %d provider tokens", w.mints.Load())
	}
	conn, _ := w.st.Connection(ctx, "plaid", "item-broken")
	hist, _ := w.st.History(ctx, conn.ID, 10)
	var summaries []string
	for _, h := range hist {
		summaries = append(summaries, h.Summary)
	}
	if joined := strings.Join(summaries, "\n"); !strings.Contains(joined, "1 durable link(s) revoked by lee") ||
		!strings.Contains(joined, "refused, revoked") {
		t.Fatalf("history:\n%s", joined)
	}
	var revokes []string
	w.st.AuditSince(ctx, time.Time{}, func(e store.AuditEntry) error {
		if e.Action == "revoke" {
			revokes = append(revokes, e.Operator+" "+e.Target+" "+e.Detail)
		}
		return nil
	})
	if len(revokes) != 1 || revokes[0] != "lee plaid:item-broken 1 durable link(s)" {
		t.Fatalf("audit revokes: %q", revokes)
	}

	// Again: nothing left to revoke, nothing written, nobody told.
	if n, err := lee.RevokeLinks(ctx, "plaid:item-broken"); err != nil || n != 0 || changes != 1 {
		t.Fatalf("second revoke: %d %v, %d changes", n, err, changes)
	}
	if _, err := lee.RevokeLinks(ctx, "plaid:item-nobody"); err == nil || !strings.Contains(err.Error(), "not in the cache") {
		t.Fatalf("an unknown connection: %v", err)
	}
}
