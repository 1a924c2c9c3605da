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

	_, err = e.client.UpdateLink(t.Context(), provider.Conn{ProviderID: "x", AccessToken: "unknown-token"})
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
	tok, err := c.UpdateLink(t.Context(), provider.Conn{ProviderID: "p", AccessToken: "a"})
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
	obs, err := e.client.Check(t.Context(), conn)
	if err != nil || obs.Signal.Category != health.Healthy {
		t.Errorf("after Link: %+v %v", obs, err)
	}
}
