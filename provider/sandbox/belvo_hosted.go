package sandbox

import "net/http"

// The hosted widget in update mode (a hostedPage at /widget/): GET shows
// what the link needs, the button POSTs back and completes the update.

func (b *Belvo) widgetPage() *hostedPage {
	return &hostedPage{title: "Belvo widget (sandbox)", heading: "Belvo · update your connection",
		token: formToken("access_token"), open: b.openWidget, submit: b.submitWidget}
}

// widgetLink resolves a widget access token to its link.
func (b *Belvo) widgetLink(token string) (*belvoLink, string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	t, ok := b.tokens[token]
	switch {
	case token == "" || !ok:
		return nil, "This access token is not valid. Ask for a new link."
	case b.opts.Now().After(t.expires):
		delete(b.tokens, token)
		return nil, "This access token has expired (tokens last 10 minutes). Ask for a new link."
	case t.linkID == "":
		return nil, "The sandbox only emulates update mode: this token names no link."
	}
	l, ok := b.links[t.linkID]
	if !ok {
		return nil, "This link no longer exists."
	}
	cp := *l
	return &cp, ""
}

func (b *Belvo) openWidget(token string) hostedView {
	l, problem := b.widgetLink(token)
	if l == nil {
		return hostedView{status: http.StatusUnauthorized, Alert: problem}
	}
	field := hostedField{Label: "Password", Name: "password", Type: "password", Autocomplete: "current-password"}
	need := "Your bank no longer accepts the stored password. Enter your current one."
	switch l.status {
	case "token_required":
		field = hostedField{Label: "Token", Name: "token", Autocomplete: "one-time-code"}
		need = "Your bank asks for a new security token to keep this connection working."
	case "valid":
		need = "This connection works. You may confirm your credentials anyway."
	}
	return hostedView{Label: "Institution", Subject: l.institution, Need: need,
		Form: &hostedForm{TokenName: "access_token", Token: token, Fields: []hostedField{field}, Button: "Update connection"},
		Note: "Sandbox: any value is accepted."}
}

func (b *Belvo) submitWidget(token string) hostedView {
	l, problem := b.widgetLink(token)
	if l == nil {
		return hostedView{status: http.StatusUnauthorized, Alert: problem}
	}
	if err := b.Repair(l.id); err != nil {
		// The link is valid again; only the webhook is missing.
		return hostedView{status: http.StatusBadGateway,
			Alert: "Connected, but the sandbox could not deliver the webhook: " + err.Error()}
	}
	return hostedView{Done: "Connected. Your " + l.institution + " link is valid again; you can close this window."}
}
