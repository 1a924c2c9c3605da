package sandbox

import (
	"bytes"
	"net/http"
)

// ---- the hosted update-mode page ----

const plaidHostedPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}}</title></head>
<body style="font-family: sans-serif; max-width: 32em; margin: 4em auto">
<h1>{{.Title}}</h1>
<p>{{.Text}}</p>
{{if .Form}}<form method="post"><button type="submit">Continue</button></form>{{end}}
<p style="color: #888">relink sandbox: emulated Plaid Hosted Link</p>
</body></html>
`

type plaidPage struct {
	Title, Text string
	Form        bool
}

// hostedLink finds an open link token; on failure it has answered.
func (p *Plaid) hostedLink(w http.ResponseWriter, r *http.Request) (plaidLink, string, bool) {
	p.mu.Lock()
	l, ok := p.links[r.PathValue("token")]
	var snap plaidLink
	inst := ""
	if ok {
		snap = *l
		if it := p.items[l.itemID]; it != nil {
			inst = it.institution
		}
	}
	p.mu.Unlock()
	switch {
	case !ok || !snap.hosted:
		p.render(w, 404, plaidPage{Title: "Link not found", Text: "This link is not valid. Ask for a new one."})
		return snap, "", false
	case !snap.finished.IsZero():
		p.render(w, 200, plaidPage{Title: "Connected", Text: "Connected. You can close this window."})
		return snap, "", false
	case !p.now().Before(snap.expires):
		p.render(w, 410, plaidPage{Title: "Link expired", Text: "This link has expired. Ask for a new one."})
		return snap, "", false
	}
	if inst == "" {
		inst = "your bank"
	}
	return snap, inst, true
}

func (p *Plaid) handleHostedGet(w http.ResponseWriter, r *http.Request) {
	if _, inst, ok := p.hostedLink(w, r); ok {
		p.render(w, 200, plaidPage{Title: "Reconnect " + inst,
			Text: "Sign in to " + inst + " again so your account keeps updating.", Form: true})
	}
}

// handleHostedPost completes the session: the Item is repaired and
// ITEM/LOGIN_REPAIRED (when it was failing) and LINK/SESSION_FINISHED fire.
func (p *Plaid) handleHostedPost(w http.ResponseWriter, r *http.Request) {
	l, _, ok := p.hostedLink(w, r)
	if !ok {
		return
	}
	now := p.now()
	session := plaidUUID()
	p.mu.Lock()
	if cur := p.links[l.token]; cur != nil {
		cur.sessionID, cur.finished = session, now
	}
	wasFailing := false
	if it := p.items[l.itemID]; it != nil {
		wasFailing = it.code != ""
	}
	p.mu.Unlock()
	if l.itemID != "" && wasFailing && p.repair(l.itemID) {
		p.fire(l.itemID, "ITEM", "LOGIN_REPAIRED", nil)
	}
	p.fire(l.itemID, "LINK", "SESSION_FINISHED", map[string]any{
		"status": "SUCCESS", "link_session_id": session, "link_token": l.token,
		"public_tokens": []string{"public-sandbox-" + plaidUUID()},
	})
	p.render(w, 200, plaidPage{Title: "Connected", Text: "Connected. You can close this window."})
}

func (p *Plaid) render(w http.ResponseWriter, status int, page plaidPage) {
	var b bytes.Buffer
	if err := p.page.Execute(&b, page); err != nil {
		http.Error(w, "rendering the page: "+err.Error(), 500)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(b.Bytes())
}
