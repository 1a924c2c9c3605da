package sandbox

import (
	"net/http"
	"net/url"
)

// The hosted widget in update mode (a hostedPage at /widget/): GET shows
// what the link needs, the button POSTs back and completes the update.

func (b *Belvo) widgetPage() *hostedPage {
	return &hostedPage{title: "Belvo widget (sandbox)", heading: "Belvo · update your connection",
		token: formToken("access_token"), open: b.openWidget, submit: b.submitWidget}
}

// widgetLink resolves a widget access token to its link and the token's
// callback URLs.
func (b *Belvo) widgetLink(token string) (*belvoLink, belvoToken, string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	t, ok := b.tokens[token]
	switch {
	case token == "" || !ok:
		return nil, belvoToken{}, "This access token is not valid. Ask for a new link."
	case b.opts.Now().After(t.expires):
		delete(b.tokens, token)
		return nil, belvoToken{}, "This access token has expired (tokens last 10 minutes). Ask for a new link."
	case t.linkID == "":
		return nil, belvoToken{}, "The sandbox only emulates update mode: this token names no link."
	}
	l, ok := b.links[t.linkID]
	if !ok {
		return nil, belvoToken{}, "This link no longer exists."
	}
	cp := *l
	return &cp, *t, ""
}

// belvoCallback is a callback URL with the widget's query parameters added
// to those it has (the success redirect carries link and institution, as
// Belvo's hosted-widget guides show: "host == success ...
// getQueryParameter("link") ... getQueryParameter("institution")",
// developers.belvo.com, "Android (Kotlin)").
func belvoCallback(base string, params url.Values) string {
	u, err := url.Parse(base)
	if err != nil {
		return base
	}
	q := u.Query()
	for k, vs := range params {
		q[k] = vs
	}
	u.RawQuery = q.Encode()
	return u.String()
}

func (b *Belvo) openWidget(token string, _ url.Values) hostedView {
	l, t, problem := b.widgetLink(token)
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
	v := hostedView{Label: "Institution", Subject: l.institution, Need: need,
		Form: &hostedForm{TokenName: "access_token", Token: token, Fields: []hostedField{field}, Button: "Update connection"},
		Note: "Sandbox: any value is accepted."}
	if t.exit != "" {
		v.Exit = t.exit
	}
	return v
}

func (b *Belvo) submitWidget(token string, _ url.Values) hostedView {
	l, t, problem := b.widgetLink(token)
	if l == nil {
		return hostedView{status: http.StatusUnauthorized, Alert: problem}
	}
	if err := b.Repair(l.id); err != nil {
		// The link is valid again; only the webhook is missing.
		return hostedView{status: http.StatusBadGateway,
			Alert: "Connected, but the sandbox could not deliver the webhook: " + err.Error()}
	}
	if t.success != "" {
		return hostedView{Redirect: belvoCallback(t.success, url.Values{"link": {l.id}, "institution": {l.institution}})}
	}
	return hostedView{Done: "Connected. Your " + l.institution + " link is valid again; you can close this window."}
}
