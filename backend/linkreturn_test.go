package backend_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/relink/relink/backend"
	"github.com/relink/relink/health"
	"github.com/relink/relink/provider"
	"github.com/relink/relink/provider/cobalt"
	"github.com/relink/relink/provider/sandbox"
	"github.com/relink/relink/store"
	"github.com/relink/relink/ticket"
	"github.com/relink/relink/vault"
)

// TestCobaltReturnKeepsANewAccessToken: whether update mode gives the
// connection a new access token Cobalt's reference does not say. When the
// exchange of Link's public token answers another one, it replaces the
// registry's (sealed, with an audit line), and the session is recorded.
func TestCobaltReturnKeepsANewAccessToken(t *testing.T) {
	ctx := context.Background()
	emu, err := sandbox.NewCobalt(sandbox.CobaltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	cc, err := emu.AddConnection(sandbox.Connection{ID: "clinic-new", Code: "login_required"})
	if err != nil {
		t.Fatal(err)
	}
	// A Cobalt whose exchange answers a new token.
	target, _ := url.Parse(emu.URL())
	proxy := httputil.NewSingleHostReverseProxy(target)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/link/token/exchange" {
			rec := httptest.NewRecorder()
			proxy.ServeHTTP(rec, r)
			b, _ := io.ReadAll(rec.Body)
			w.WriteHeader(rec.Code)
			io.WriteString(w, strings.ReplaceAll(string(b), cc.AccessToken, "cobalt-ROTATED-TOKEN"))
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	id, secret := emu.Credentials()
	client, err := cobalt.New(cobalt.Config{BaseURL: front.URL, ClientID: id, ClientSecret: secret, LinkURL: emu.LinkURL(), OrgID: emu.OrgID()})
	if err != nil {
		t.Fatal(err)
	}
	key, _, _ := vault.Generate()
	path := filepath.Join(t.TempDir(), "r.db")
	st, err := store.Open(ctx, path, store.Options{Sealer: key})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	im, _ := st.BeginImport(ctx, "test")
	if err := im.Add(ctx, store.Registration{Provider: "cobalt", ProviderID: cc.ID, AccessToken: cc.AccessToken, UserRef: "u1"}); err != nil {
		t.Fatal(err)
	}
	im.Commit(ctx, "test")
	signer, err := ticket.LoadOrCreate(ticket.KeyPath(path))
	if err != nil {
		t.Fatal(err)
	}
	desk := &backend.Backend{Store: st, Providers: map[string]provider.Provider{provider.Cobalt: client}, Operator: "dana",
		Tickets: signer, PublicURL: "https://relink.example", Clicks: backend.NewClickGuard()}
	if err := desk.Check(ctx, "cobalt:"+cc.ID); err != nil {
		t.Fatal(err)
	}

	l, err := desk.DirectLink(ctx, "cobalt:"+cc.ID)
	if err != nil {
		t.Fatal(err)
	}
	lu, _ := url.Parse(l.URL)
	cb := lu.Query().Get("callback_url")
	if !strings.HasPrefix(cb, "https://relink.example/cobalt/done/") {
		t.Fatalf("direct link %s has no return page", l.URL)
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.PostForm(emu.URL()+"/link?"+url.Values{"callback_url": {cb}}.Encode(), url.Values{"token": {lu.Query().Get("token")}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	back, _ := url.Parse(resp.Header.Get("Location"))
	res, err := desk.LinkReturn(ctx, provider.Cobalt, backend.ReturnDone, strings.TrimPrefix(back.Path, "/cobalt/done/"), back.Query().Get("token"))
	if err != nil || res.Outcome != backend.Finished || res.Connection != "cobalt:"+cc.ID {
		t.Fatalf("LinkReturn = %+v, %v", res, err)
	}
	if got, _ := st.AccessToken(ctx, "cobalt", cc.ID); got != "cobalt-ROTATED-TOKEN" {
		t.Errorf("stored access token not replaced")
	}
	if c, _ := st.Connection(ctx, "cobalt", cc.ID); c.Health.Category != health.Healthy {
		t.Errorf("after the return: %s", c.Health.Category)
	}
	found := false
	st.AuditSince(ctx, time.Time{}, func(a store.AuditEntry) error {
		found = found || (a.Action == "token" && a.Target == "cobalt:"+cc.ID && !strings.Contains(a.Detail, "ROTATED"))
		return nil
	})
	if !found {
		t.Error("no audit line for the new token")
	}
}
