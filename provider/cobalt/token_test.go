package cobalt_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/relink/relink/health"
	"github.com/relink/relink/provider"
	"github.com/relink/relink/provider/cobalt"
	"github.com/relink/relink/provider/sandbox"
)

func TestUpdateLink(t *testing.T) {
	e := newEnv(t, false, nil)
	conn := e.add(t, sandbox.Connection{ID: "clinic_1", UserRef: "user_1"})
	before := time.Now()
	tok, err := e.client.UpdateLink(t.Context(), conn)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(tok.URL)
	if !strings.HasPrefix(tok.URL, e.emu.URL()+"/link?token=lt_") || !strings.HasPrefix(u.Query().Get("token"), "lt_") {
		t.Errorf("link URL %s", tok.URL)
	}
	if tok.ExpiresAt.Before(before.Add(cobalt.TokenLifetime)) || tok.ExpiresAt.After(time.Now().Add(cobalt.TokenLifetime)) {
		t.Errorf("expires at %v, want 30 minutes from now", tok.ExpiresAt)
	}

	_, err = e.client.UpdateLink(t.Context(), provider.Conn{ProviderID: "x", AccessToken: "unknown-token", OrgID: e.emu.OrgID()})
	pe := providerError(t, err, "unknown-token")
	if pe.Status != 403 {
		t.Errorf("unknown token: %+v", pe)
	}
	wantSignal(t, pe.Signal, health.IntegrationError)
	if _, err := e.client.UpdateLink(t.Context(), provider.Conn{ProviderID: "x"}); err == nil {
		t.Error("UpdateLink without an access token succeeded")
	}
}

// When Cobalt states the token's expiry, it wins over the 30-minute default.
func TestUpdateLinkExpiryFromAPI(t *testing.T) {
	exp := time.Now().Add(12 * time.Minute).UTC().Truncate(time.Second)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"success":true,"token":"lt_1","expiration":"`+exp.Format(time.RFC3339)+`"}`)
	}))
	defer srv.Close()
	c, err := cobalt.New(cobalt.Config{BaseURL: srv.URL, ClientID: "ci", ClientSecret: "cs"})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := c.UpdateLink(t.Context(), provider.Conn{ProviderID: "p", AccessToken: "a", OrgID: "org_1"})
	if err != nil || !tok.ExpiresAt.Equal(exp) || tok.URL != "https://link.usecobalt.com?token=lt_1" {
		t.Errorf("%+v %v", tok, err)
	}
}

// The whole loop: the EHR login breaks (signed event), support mints an
// update link, the user completes the Link page, the signed callback clears
// the connection and the next call with the token succeeds.
func TestLinkPageEndToEnd(t *testing.T) {
	e := newEnv(t, false, nil)
	conn := e.add(t, sandbox.Connection{ID: "clinic_5", Institution: "https://ehr.acme.test"})
	if err := e.emu.Break("clinic_5", "password_change_warning", ""); err != nil {
		t.Fatal(err)
	}
	if obs := <-e.hooks; obs.Signal.Warning != health.PasswordChangeWarning {
		t.Errorf("warning webhook %+v", obs)
	}
	if err := e.emu.Break("clinic_5", "password_expired", "Your password expired; reset it in the EHR."); err != nil {
		t.Fatal(err)
	}
	hook := <-e.hooks
	if hook.ProviderID != "clinic_5" || hook.Signal.Category != health.PasswordExpired ||
		hook.Institution != "https://ehr.acme.test" || hook.Kind != "webhook" {
		t.Errorf("break webhook %+v", hook)
	}

	tok, err := e.client.UpdateLink(t.Context(), conn)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(tok.URL)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), "<button") {
		t.Fatalf("link page: %d %s", resp.StatusCode, page)
	}
	u, _ := url.Parse(tok.URL)
	resp, err = http.PostForm(e.emu.URL()+"/link", url.Values{"token": {u.Query().Get("token")}, "password": {"x"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("link submit: %d", resp.StatusCode)
	}
	done := <-e.repaired
	if done.ProviderID != "clinic_5" || done.Kind != "link_result" || done.Signal.Category != health.Healthy ||
		done.Signal.Source != health.SourceLinkResult || !done.Signal.ClearWarning {
		t.Errorf("repaired callback %+v", done)
	}
	// The history still holds the login_required from before the session:
	// Check reports it, and over the recorded completed session it changes
	// nothing; a later clean read only refreshes the healthy state.
	h := health.Health{Category: health.Unknown}
	for _, s := range []health.Signal{hook.Signal, done.Signal} {
		h, _ = health.Apply(h, s)
	}
	obs, err := e.client.Check(t.Context(), conn)
	if err != nil || obs.EventID != hook.EventID {
		t.Fatalf("after Link: %+v %v", obs, err)
	}
	if h, _ = health.Apply(h, obs.Signal); h.Category != health.Healthy || h.Warning != "" {
		t.Errorf("after Link and a check: %+v", h)
	}
	all, _ := e.sync(t, "", conn)
	for _, o := range all {
		h, _ = health.Apply(h, o.Signal)
	}
	if h.Category != health.Healthy || h.Source != health.SourceHistory {
		t.Errorf("after Link and a sync: %+v", h)
	}
}

// Issue 14, point 2: org_id is our organization (the clinic), from the
// registry row or cobalt.org_id, never the connection's
// access_token_reference_id; user_id stays the user. The emulator knows the
// organizations connections were linked under and refuses any other, as
// today's code sent the reference id.
func TestUpdateLinkNamesTheOrganization(t *testing.T) {
	e := newEnv(t, false, func(c *cobalt.Config) { c.OrgID = "" })
	east, err := e.emu.AddConnectionIn("org_east_clinic", sandbox.Connection{ID: "clinic_e1", UserRef: "dr_ada"})
	if err != nil {
		t.Fatal(err)
	}
	row := provider.Conn{ProviderID: east.ID, AccessToken: east.AccessToken, UserRef: "dr_ada", OrgID: "org_east_clinic"}
	if _, err := e.client.UpdateLink(t.Context(), row); err != nil {
		t.Fatalf("a row with its org_id: %v", err)
	}
	if user, org := e.emu.LastLinkRequest(); user != "dr_ada" || org != "org_east_clinic" {
		t.Errorf("user_id %q org_id %q, want dr_ada org_east_clinic", user, org)
	}

	// A row without org_id takes cobalt.org_id.
	def := e.add(t, sandbox.Connection{ID: "clinic_d1", UserRef: "dr_bo"})
	def.OrgID = ""
	withDefault := e.withConfig(t, func(c *cobalt.Config) { c.OrgID = e.emu.OrgID() })
	if _, err := withDefault.UpdateLink(t.Context(), def); err != nil {
		t.Fatalf("a row without org_id, cobalt.org_id set: %v", err)
	}
	if user, org := e.emu.LastLinkRequest(); user != "dr_bo" || org != e.emu.OrgID() {
		t.Errorf("user_id %q org_id %q, want dr_bo %s", user, org, e.emu.OrgID())
	}
	// The row's own org_id wins over the default.
	if _, err := withDefault.UpdateLink(t.Context(), row); err != nil {
		t.Fatal(err)
	}
	if _, org := e.emu.LastLinkRequest(); org != "org_east_clinic" {
		t.Errorf("org_id %q, want the row's", org)
	}

	// Neither: a clear error, and nothing is sent.
	_, err = e.client.UpdateLink(t.Context(), def)
	if err == nil || !strings.Contains(err.Error(), "cobalt.org_id") || !strings.Contains(err.Error(), "org_id column") {
		t.Errorf("no org_id anywhere: %v", err)
	}
	if _, org := e.emu.LastLinkRequest(); org != "org_east_clinic" {
		t.Errorf("a request went out without an org_id: %s", org)
	}
}

// TestHostedLinkReturnsWithAPublicToken: with a return URL, the link opens
// Cobalt's hosted Link with it as the session's callback; completing Link
// redirects there with ?token=<public_token> (docs.usecobalt.com/docs/link/setup),
// and FinishLink exchanges that token once: a link_result observation that
// clears login_required, and the connection's access token. A spent or
// made-up public token is refused and records nothing. The default
// cobalt.link_url passes the callback the same way.
func TestHostedLinkReturnsWithAPublicToken(t *testing.T) {
	e := newEnvWith(t, func(o *sandbox.CobaltOptions) { o.OnRepairedURL = "" }, nil)
	conn := e.add(t, sandbox.Connection{ID: "clinic_7", Code: "login_required"})
	conn.Return = provider.ReturnURLs{Done: "https://relink.example/cobalt/done/TICKET"}
	tok, err := e.client.UpdateLink(t.Context(), conn)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(tok.URL)
	if u.Query().Get("callback_url") != conn.Return.Done {
		t.Fatalf("link URL %s does not carry the callback", tok.URL)
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.PostForm(e.emu.URL()+"/link?"+url.Values{"callback_url": {conn.Return.Done}}.Encode(),
		url.Values{"token": {u.Query().Get("token")}, "password": {"new"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	back, _ := url.Parse(resp.Header.Get("Location"))
	pt := back.Query().Get("token")
	if resp.StatusCode != http.StatusSeeOther || back.Path != "/cobalt/done/TICKET" || pt == "" {
		t.Fatalf("after Link: %d to %q", resp.StatusCode, back)
	}

	obs, access, err := e.client.FinishLink(t.Context(), conn, pt)
	if err != nil {
		t.Fatal(err)
	}
	if obs.ProviderID != "clinic_7" || obs.Kind != "link_result" || obs.EventID == "" || obs.Signal.Category != health.Healthy ||
		obs.Signal.Source != health.SourceLinkResult || !obs.Signal.ClearWarning || access != conn.AccessToken {
		t.Errorf("FinishLink = %+v, token equal %v", obs, access == conn.AccessToken)
	}
	if strings.Contains(string(obs.Raw), pt) || strings.Contains(string(obs.Raw), conn.AccessToken) || strings.Contains(obs.EventID, pt) {
		t.Errorf("the observation keeps a token: %s %s", obs.EventID, obs.Raw)
	}
	_, _, err = e.client.FinishLink(t.Context(), conn, pt)
	if pe := providerError(t, err, pt); pe.Status != 400 || pe.Code != "invalid_public_token" {
		t.Errorf("spent public token: %+v", pe)
	}

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"success":true,"token":"lt_1"}`)
	}))
	defer srv.Close()
	def, err := cobalt.New(cobalt.Config{BaseURL: srv.URL, ClientID: "ci", ClientSecret: "cs"})
	if err != nil {
		t.Fatal(err)
	}
	tok, err = def.UpdateLink(t.Context(), provider.Conn{ProviderID: "p", AccessToken: "a", OrgID: "org_1", Return: conn.Return})
	if want := "https://link.usecobalt.com?token=lt_1&callback_url=" + url.QueryEscape(conn.Return.Done); err != nil || tok.URL != want {
		t.Errorf("default link URL %s (%v), want %s", tok.URL, err, want)
	}
}
