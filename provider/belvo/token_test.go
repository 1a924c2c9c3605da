package belvo_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/relink/relink/health"
	"github.com/relink/relink/provider"
	"github.com/relink/relink/provider/belvo"
	"github.com/relink/relink/provider/sandbox"
)

func TestUpdateLinkURL(t *testing.T) {
	e := newEnv(t, func(c *belvo.Config) { c.WidgetURL += "?locale=es" })
	id := e.add(t, sandbox.Connection{Code: "invalid"})
	before := time.Now()
	tok, err := e.client.UpdateLink(t.Context(), provider.Conn{ProviderID: id})
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(tok.URL)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tok.URL, e.emu.WidgetURL()+"?") || u.Query().Get("access_token") == "" ||
		u.Query().Get("locale") != "es" {
		t.Errorf("widget URL %s", tok.URL)
	}
	if tok.ExpiresAt.Before(before.Add(belvo.TokenLifetime)) || tok.ExpiresAt.After(time.Now().Add(belvo.TokenLifetime)) {
		t.Errorf("expires at %v, want 10 minutes from now", tok.ExpiresAt)
	}
	if _, err := e.client.UpdateLink(t.Context(), provider.Conn{}); err == nil {
		t.Error("UpdateLink without a link id succeeded")
	}
}

func TestUpdateLinkErrors(t *testing.T) {
	const secret = "An0ther-Belvo-Secret"
	e := newEnv(t, func(c *belvo.Config) { c.SecretPassword = secret })
	id := e.add(t, sandbox.Connection{})
	_, err := e.client.UpdateLink(t.Context(), provider.Conn{ProviderID: id})
	pe := providerError(t, err, secret)
	if pe.Status != 401 || pe.Code != "authentication_failed" || !strings.Contains(pe.Hint, "BELVO_SECRET_PASSWORD") {
		t.Errorf("wrong keys: %+v", pe)
	}
	wantSignal(t, pe.Signal, health.IntegrationError)

	e = newEnv(t, nil)
	_, err = e.client.UpdateLink(t.Context(), provider.Conn{ProviderID: "deleted-link"})
	pe = providerError(t, err)
	if pe.Status != 400 || pe.Code != "does_not_exist" || !strings.Contains(pe.Hint, "no longer knows this link") {
		t.Errorf("unknown link: %+v", pe)
	}
	wantSignal(t, pe.Signal, health.IntegrationError)

	id = e.add(t, sandbox.Connection{})
	e.emu.InjectError(id, 428, "token_required", "A MFA token is required")
	_, err = e.client.UpdateLink(t.Context(), provider.Conn{ProviderID: id})
	wantSignal(t, providerError(t, err).Signal, health.MFARequired)

	e.emu.Faults.Malformed(1)
	_, err = e.client.UpdateLink(t.Context(), provider.Conn{ProviderID: e.add(t, sandbox.Connection{})})
	if providerError(t, err); !strings.Contains(err.Error(), "malformed response") {
		t.Errorf("malformed: %v", err)
	}
}

// The whole loop: a link breaks (LINK webhook), support mints an update
// link, the user completes the widget, the link is valid again and the
// historical_update webhook asks for a recheck.
func TestHostedWidgetEndToEnd(t *testing.T) {
	e := newEnv(t, nil)
	id := e.add(t, sandbox.Connection{UserRef: "user-7", Institution: "banamex_mx_retail"})

	if err := e.emu.Break(id, "invalid", "Your account is locked"); err != nil {
		t.Fatal(err)
	}
	hook := <-e.hooks
	if hook.ProviderID != id || hook.Signal.Category != health.AccountLocked || hook.EventID == "" {
		t.Errorf("break webhook %+v", hook)
	}
	if obs, _ := e.client.Check(t.Context(), provider.Conn{ProviderID: id}); obs.Signal.Category != health.LoginRequired {
		t.Errorf("after break: %s", obs.Signal.Category)
	}

	tok, err := e.client.UpdateLink(t.Context(), provider.Conn{ProviderID: id})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(tok.URL)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), "banamex_mx_retail") || !strings.Contains(string(page), "<button") {
		t.Fatalf("widget page: %d %s", resp.StatusCode, page)
	}
	u, _ := url.Parse(tok.URL)
	resp, err = http.PostForm(tok.URL, url.Values{"access_token": {u.Query().Get("access_token")}, "password": {"new"}})
	if err != nil {
		t.Fatal(err)
	}
	done, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(done), "Connected") {
		t.Fatalf("widget submit: %d %s", resp.StatusCode, done)
	}

	hook = <-e.hooks
	if hook.ProviderID != id || !hook.Recheck || hook.Signal.Effect != health.NoChange {
		t.Errorf("repair webhook %+v", hook)
	}
	obs, err := e.client.Check(t.Context(), provider.Conn{ProviderID: id})
	if err != nil || obs.Signal.Category != health.Healthy {
		t.Errorf("after the widget: %+v %v", obs.Signal, err)
	}
}

// TestUpdateLinkCallbackURLs: with return URLs, the token request carries
// widget.callback_urls {success, exit}, and the emulator's hosted widget,
// as Belvo's does, sends the user who finishes to the success URL with the
// link and institution, and offers the exit URL. Without them none are
// asked for and the widget ends on its own page.
func TestUpdateLinkCallbackURLs(t *testing.T) {
	e := newEnv(t, nil)
	id := e.add(t, sandbox.Connection{Code: "invalid", Institution: "erebor_mx_retail"})
	ret := provider.ReturnURLs{Done: "https://relink.example/belvo/done/TICKET", Exit: "https://relink.example/belvo/exit/TICKET"}
	tok, err := e.client.UpdateLink(t.Context(), provider.Conn{ProviderID: id, Return: ret})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(tok.URL)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(page), `href="`+ret.Exit+`"`) {
		t.Errorf("the widget does not offer the exit URL:\n%s", page)
	}
	u, _ := url.Parse(tok.URL)
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err = noFollow.PostForm(tok.URL, url.Values{"access_token": {u.Query().Get("access_token")}, "password": {"new"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusSeeOther || loc.Scheme+"://"+loc.Host+loc.Path != ret.Done || loc.Query().Get("link") != id {
		t.Errorf("after the widget: %d to %q, want %s?link=%s&…", resp.StatusCode, loc, ret.Done, id)
	}

	plain, err := e.client.UpdateLink(t.Context(), provider.Conn{ProviderID: e.add(t, sandbox.Connection{Code: "invalid"})})
	if err != nil {
		t.Fatal(err)
	}
	resp, err = http.Get(plain.URL)
	if err != nil {
		t.Fatal(err)
	}
	page, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.Contains(string(page), `id="exit"`) {
		t.Errorf("a token minted without return URLs offers an exit:\n%s", page)
	}
}
