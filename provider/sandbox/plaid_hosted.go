package sandbox

import (
	"net/http"
	"net/url"
)

// ---- the hosted update-mode page (a hostedPage at /hosted/{token}) ----

func (p *Plaid) hostedPage() *hostedPage {
	return &hostedPage{token: pathToken("token"), open: p.openHosted, submit: p.submitHosted}
}

// plaidView is a page of Plaid's Hosted Link: its title is its heading.
func plaidView(status int, title string, v hostedView) hostedView {
	v.status, v.Title, v.Heading = status, title, title
	v.Note = "relink sandbox: emulated Plaid Hosted Link"
	return v
}

var plaidConnected = plaidView(http.StatusOK, "Connected", hostedView{Done: "Connected. You can close this window."})

// hostedLink finds an open link token; when there is none, the page says
// why.
func (p *Plaid) hostedLink(token string) (plaidLink, string, *hostedView) {
	p.mu.Lock()
	l, ok := p.links[token]
	var snap plaidLink
	inst := ""
	if ok {
		snap = *l
		if it := p.items[l.itemID]; it != nil {
			inst = it.institution
		}
	}
	p.mu.Unlock()
	var refused hostedView
	switch {
	case !ok || !snap.hosted:
		refused = plaidView(http.StatusNotFound, "Link not found", hostedView{Alert: "This link is not valid. Ask for a new one."})
	case !snap.finished.IsZero():
		refused = plaidConnected
	case !p.now().Before(snap.expires):
		refused = plaidView(http.StatusGone, "Link expired", hostedView{Alert: "This link has expired. Ask for a new one."})
	default:
		if inst == "" {
			inst = "your bank"
		}
		return snap, inst, nil
	}
	return snap, "", &refused
}

func (p *Plaid) openHosted(token string, _ url.Values) hostedView {
	_, inst, refused := p.hostedLink(token)
	if refused != nil {
		return *refused
	}
	return plaidView(http.StatusOK, "Reconnect "+inst, hostedView{
		Need: "Sign in to " + inst + " again so your account keeps updating.",
		Form: &hostedForm{Button: "Continue"}})
}

// submitHosted completes the session. In update mode the Item is repaired
// and no webhook is sent, as Plaid's spec says: the link token's webhook
// "will not have an effect" in update mode (2020-09-14.yml,
// LinkTokenCreateRequest.webhook), so LINK/SESSION_FINISHED has nowhere to
// go, and ITEM/LOGIN_REPAIRED is "fired when an Item has exited the
// ITEM_LOGIN_REQUIRED state without the user having gone through the
// update mode flow in your app" (Repair sends that one). Only /item/get
// tells the repair. A session for a new Item sends LINK/SESSION_FINISHED
// to the webhook its link token named, if any.
func (p *Plaid) submitHosted(token string, _ url.Values) hostedView {
	l, _, refused := p.hostedLink(token)
	if refused != nil {
		return *refused
	}
	now := p.now()
	session := plaidUUID()
	p.mu.Lock()
	if cur := p.links[l.token]; cur != nil {
		cur.sessionID, cur.finished = session, now
	}
	p.mu.Unlock()
	if l.itemID != "" {
		p.repair(l.itemID)
		return plaidConnected
	}
	if l.webhook != "" {
		p.fireTo(l.webhook, "", "LINK", "SESSION_FINISHED", map[string]any{
			"status": "SUCCESS", "link_session_id": session, "link_token": l.token,
			"public_tokens": []string{"public-sandbox-" + plaidUUID()},
		})
	}
	return plaidConnected
}
