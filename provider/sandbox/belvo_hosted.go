package sandbox

import (
	"html/template"
	"net/http"
)

// The hosted widget in update mode: GET shows what the link needs, the
// button POSTs back and completes the update.

var belvoWidgetPage = template.Must(template.New("widget").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Belvo widget (sandbox)</title>
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem}
button{font-size:1rem;padding:.6rem 1.2rem}</style></head><body>
<h1>Belvo · update your connection</h1>
{{if .Error}}<p role="alert">{{.Error}}</p>{{else if .Done}}<p>Connected. Your {{.Institution}} link is valid again; you can close this window.</p>
{{else}}<p>Institution: <strong>{{.Institution}}</strong></p>
<p>{{.Need}}</p>
<form method="post" action="">
<input type="hidden" name="access_token" value="{{.Token}}">
{{if .MFA}}<label>Token <input name="token" autocomplete="one-time-code"></label>{{else}}<label>Password <input type="password" name="password" autocomplete="current-password"></label>{{end}}
<p><button type="submit">Update connection</button></p>
</form>
<p><small>Sandbox: any value is accepted.</small></p>{{end}}
</body></html>
`))

type belvoWidgetView struct {
	status                          int
	Error, Institution, Need, Token string
	MFA, Done                       bool
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

func (b *Belvo) handleWidget(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("access_token")
	l, problem := b.widgetLink(token)
	v := belvoWidgetView{Error: problem, Token: token}
	if l == nil {
		v.status = http.StatusUnauthorized
	} else {
		v.Institution = l.institution
		switch l.status {
		case "token_required":
			v.MFA, v.Need = true, "Your bank asks for a new security token to keep this connection working."
		case "valid":
			v.Need = "This connection works. You may confirm your credentials anyway."
		default:
			v.Need = "Your bank no longer accepts the stored password. Enter your current one."
		}
	}
	belvoRenderWidget(w, v)
}

func (b *Belvo) handleWidgetSubmit(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 1<<16)
	if err := r.ParseForm(); err != nil {
		belvoRenderWidget(w, belvoWidgetView{status: http.StatusBadRequest, Error: "The form could not be read."})
		return
	}
	token := r.PostForm.Get("access_token")
	l, problem := b.widgetLink(token)
	if l == nil {
		belvoRenderWidget(w, belvoWidgetView{status: http.StatusUnauthorized, Error: problem})
		return
	}
	v := belvoWidgetView{Institution: l.institution, Done: true}
	if err := b.Repair(l.id); err != nil {
		// The link is valid again; only the webhook is missing.
		v = belvoWidgetView{status: http.StatusBadGateway,
			Error: "Connected, but the sandbox could not deliver the webhook: " + err.Error()}
	}
	belvoRenderWidget(w, v)
}

func belvoRenderWidget(w http.ResponseWriter, v belvoWidgetView) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if v.status != 0 {
		w.WriteHeader(v.status)
	}
	_ = belvoWidgetPage.Execute(w, v) // the browser went away; nothing to do
}
