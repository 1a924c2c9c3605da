package sandbox

import (
	"bytes"
	"html/template"
	"net/http"
)

// The hosted Link page in update mode: GET shows what is missing, the button
// POSTs back and completes the update.

var cobaltLinkPage = template.Must(template.New("link").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Cobalt Link (sandbox)</title>
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem}
button{font-size:1rem;padding:.6rem 1.2rem}</style></head><body>
<h1>Cobalt Link · reconnect your EHR</h1>
{{if .Error}}<p role="alert">{{.Error}}</p>{{else if .Done}}<p>Reconnected. You can close this window.</p>
{{else}}<p>EHR: <strong>{{.Domain}}</strong></p>
<p>{{.Need}}</p>
<form method="post" action="/link">
<input type="hidden" name="token" value="{{.Token}}">
<label>Password <input type="password" name="password" autocomplete="current-password"></label>
<label>One-time code <input name="otp" autocomplete="one-time-code"></label>
<p><button type="submit">Reconnect</button></p>
</form>
<p><small>Sandbox: any value is accepted.</small></p>{{end}}
</body></html>
`))

type cobaltLinkView struct {
	status                     int
	Error, Domain, Need, Token string
	Done                       bool
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

func (c *Cobalt) handleLinkPage(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("token")
	cc, problem := c.linkConn(token)
	v := cobaltLinkView{Error: problem, Token: token}
	if cc == nil {
		v.status = http.StatusUnauthorized
	} else {
		v.Domain, v.Need = cc.domain, "Your EHR connection is working."
		switch {
		case cc.broken && cc.message != "":
			v.Need = cc.message
		case cc.broken:
			v.Need = "Your EHR no longer accepts the stored login. Enter your current password."
		case cc.warned:
			v.Need = "Your EHR asks you to change your password soon. Enter the new one once changed."
		}
	}
	cobaltRenderLink(w, v)
}

func (c *Cobalt) handleLinkSubmit(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 1<<16)
	if err := r.ParseForm(); err != nil {
		cobaltRenderLink(w, cobaltLinkView{status: http.StatusBadRequest, Error: "The form could not be read."})
		return
	}
	token := r.PostForm.Get("token")
	cc, problem := c.linkConn(token)
	if cc == nil {
		cobaltRenderLink(w, cobaltLinkView{status: http.StatusUnauthorized, Error: problem})
		return
	}
	v := cobaltLinkView{Domain: cc.domain, Done: true}
	if err := c.Repair(cc.ref); err != nil {
		// The connection works again; only the callback is missing.
		v = cobaltLinkView{status: http.StatusBadGateway,
			Error: "Reconnected, but the sandbox could not reach the callback: " + err.Error()}
	}
	cobaltRenderLink(w, v)
}

func cobaltRenderLink(w http.ResponseWriter, v cobaltLinkView) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if v.status != 0 {
		w.WriteHeader(v.status)
	}
	var buf bytes.Buffer
	if err := cobaltLinkPage.Execute(&buf, v); err != nil {
		return
	}
	w.Write(buf.Bytes())
}
