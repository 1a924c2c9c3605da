package sandbox

import (
	"net/http"
	"net/url"
	"strings"
)

// The hosted Link page in update mode (a hostedPage at /link): GET shows
// what is missing, the button POSTs back and completes the update. With a
// callback_url in the page's address, completing it redirects there with
// the public token: "Once the user completes the flow they will be
// redirected back to your callback_url along with the public_token (eg.
// https://{YOUR_CALLBACK_URL}?token={public_token})"
// (https://docs.usecobalt.com/docs/link/setup). Where Cobalt takes the
// callback_url from the reference does not say; the emulator takes it as a
// query parameter of that name.

func (c *Cobalt) linkPage() *hostedPage {
	return &hostedPage{title: "Cobalt Link (sandbox)", heading: "Cobalt Link · reconnect your EHR",
		token: formToken("token"), open: c.openLink, submit: c.submitLink}
}

// linkConn resolves a link token to a copy of its connection.
func (c *Cobalt) linkConn(token string) (*cobaltConn, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.links[token]
	switch {
	case token == "" || !ok:
		return nil, "This link is not valid. Ask for a new one."
	case t.used:
		return nil, "This link was already used (links work once). Ask for a new one."
	case c.opts.Now().After(t.expires):
		return nil, "This link has expired (links last 30 minutes). Ask for a new one."
	case t.ref == "":
		return nil, "The sandbox only emulates update mode: this link names no connection."
	}
	cc, ok := c.byRef[t.ref]
	if !ok {
		return nil, "This connection no longer exists."
	}
	cp := *cc
	cp.events = nil
	return &cp, ""
}

// linkCallback reads the page's callback_url: "" for none, ok false when
// it is not an absolute http(s) URL.
func linkCallback(q url.Values) (string, bool) {
	cb := q.Get("callback_url")
	if cb == "" {
		return "", true
	}
	u, err := url.Parse(cb)
	return cb, err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}

func (c *Cobalt) openLink(token string, q url.Values) hostedView {
	cc, problem := c.linkConn(token)
	if cc == nil {
		return hostedView{status: http.StatusUnauthorized, Alert: problem}
	}
	cb, ok := linkCallback(q)
	if !ok {
		return hostedView{status: http.StatusBadRequest, Alert: "The callback_url of this link is not a URL."}
	}
	action := "/link"
	if cb != "" {
		action += "?" + url.Values{"callback_url": {cb}}.Encode()
	}
	need := "Your EHR connection is working."
	switch {
	case cc.broken && cc.message != "":
		need = cc.message
	case cc.broken:
		need = "Your EHR no longer accepts the stored login. Enter your current password."
	case cc.warned:
		need = "Your EHR asks you to change your password soon. Enter the new one once changed."
	}
	return hostedView{Label: "EHR", Subject: cc.domain, Need: need,
		Form: &hostedForm{Action: action, TokenName: "token", Token: token, Button: "Reconnect", Fields: []hostedField{
			{Label: "Password", Name: "password", Type: "password", Autocomplete: "current-password"},
			{Label: "One-time code", Name: "otp", Autocomplete: "one-time-code"},
		}},
		Note: "Sandbox: any value is accepted."}
}

func (c *Cobalt) submitLink(token string, q url.Values) hostedView {
	cc, problem := c.linkConn(token)
	if cc == nil {
		return hostedView{status: http.StatusUnauthorized, Alert: problem}
	}
	cb, ok := linkCallback(q)
	if !ok {
		return hostedView{status: http.StatusBadRequest, Alert: "The callback_url of this link is not a URL."}
	}
	err := c.Repair(cc.ref)
	if cb != "" {
		// Link's own redirect, whatever became of our page's callback.
		sep := "?"
		if strings.Contains(cb, "?") {
			sep = "&"
		}
		return hostedView{Redirect: cb + sep + url.Values{"token": {c.newPublicToken(cc.ref)}}.Encode()}
	}
	if err != nil {
		// The connection works again; only the callback is missing.
		return hostedView{status: http.StatusBadGateway,
			Alert: "Reconnected, but the sandbox could not reach the callback: " + err.Error()}
	}
	return hostedView{Done: "Reconnected. You can close this window."}
}

// newPublicToken mints the public token of a completed session of ref.
func (c *Cobalt) newPublicToken(ref string) string {
	pt := "pt_" + belvoHex(16)
	now := c.opts.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, old := range c.publics {
		if old.used || now.After(old.expires) {
			delete(c.publics, k)
		}
	}
	c.publics[pt] = &cobaltPublicToken{ref: ref, expires: now.Add(cobaltTokenTTL)}
	return pt
}
