package sandbox

import "net/http"

// The hosted Link page in update mode (a hostedPage at /link): GET shows
// what is missing, the button POSTs back and completes the update.

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

func (c *Cobalt) openLink(token string) hostedView {
	cc, problem := c.linkConn(token)
	if cc == nil {
		return hostedView{status: http.StatusUnauthorized, Alert: problem}
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
		Form: &hostedForm{Action: "/link", TokenName: "token", Token: token, Button: "Reconnect", Fields: []hostedField{
			{Label: "Password", Name: "password", Type: "password", Autocomplete: "current-password"},
			{Label: "One-time code", Name: "otp", Autocomplete: "one-time-code"},
		}},
		Note: "Sandbox: any value is accepted."}
}

func (c *Cobalt) submitLink(token string) hostedView {
	cc, problem := c.linkConn(token)
	if cc == nil {
		return hostedView{status: http.StatusUnauthorized, Alert: problem}
	}
	if err := c.Repair(cc.ref); err != nil {
		// The connection works again; only the callback is missing.
		return hostedView{status: http.StatusBadGateway,
			Alert: "Reconnected, but the sandbox could not reach the callback: " + err.Error()}
	}
	return hostedView{Done: "Reconnected. You can close this window."}
}
