package sandbox

import (
	"bytes"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"
)

// ---- API handlers ----

// plaidAuth is the body form of the credentials; headers work too.
type plaidAuth struct {
	ClientID string `json:"client_id"`
	Secret   string `json:"secret"`
}

func (a *plaidAuth) creds() *plaidAuth { return a }

// decode checks the headers, reads the JSON body into dst (unknown fields
// refused, like Plaid) and checks the credentials. On failure it has
// answered and returns false.
func (p *Plaid) decode(w http.ResponseWriter, r *http.Request, dst interface{ creds() *plaidAuth }) bool {
	if v := r.Header.Get("Plaid-Version"); v != "" && v != "2020-09-14" {
		p.fail(w, 400, "INVALID_REQUEST", "INCOMPATIBLE_API_VERSION", "the Plaid-Version header "+v+" is not supported")
		return false
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		p.fail(w, 400, "INVALID_REQUEST", "INVALID_HEADERS", "Content-Type must be application/json")
		return false
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		p.fail(w, 400, "INVALID_REQUEST", "INVALID_BODY", "the request body could not be read")
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			p.fail(w, 400, "INVALID_REQUEST", "UNKNOWN_FIELDS", "the following fields are not recognized by this endpoint: "+strings.Trim(f, `"`))
		} else {
			p.fail(w, 400, "INVALID_REQUEST", "INVALID_BODY", "body could not be parsed as JSON")
		}
		return false
	}
	a := dst.creds()
	id, secret := r.Header.Get("PLAID-CLIENT-ID"), r.Header.Get("PLAID-SECRET")
	if id == "" {
		id = a.ClientID
	}
	if secret == "" {
		secret = a.Secret
	}
	var missing []string
	if id == "" {
		missing = append(missing, "client_id")
	}
	if secret == "" {
		missing = append(missing, "secret")
	}
	if len(missing) > 0 {
		p.missing(w, missing...)
		return false
	}
	if subtle.ConstantTimeCompare([]byte(id), []byte(p.clientID)) != 1 ||
		subtle.ConstantTimeCompare([]byte(secret), []byte(p.secret)) != 1 {
		p.fail(w, 400, "INVALID_INPUT", "INVALID_API_KEYS", "invalid client_id or secret provided")
		return false
	}
	return true
}

func (p *Plaid) handleItemGet(w http.ResponseWriter, r *http.Request) {
	var req struct {
		plaidAuth
		AccessToken string          `json:"access_token"`
		Options     json.RawMessage `json:"options"`
	}
	if !p.decode(w, r, &req) {
		return
	}
	if req.AccessToken == "" {
		p.missing(w, "access_token")
		return
	}
	now := p.now()
	p.mu.Lock()
	it, ok := p.tokens[req.AccessToken]
	var snap plaidItem
	limited := false
	if ok {
		if now.Sub(it.window) >= time.Minute {
			it.window, it.calls = now, 0
		}
		it.calls++
		limited = p.perItem > 0 && it.calls > p.perItem
		snap = *it
	}
	webhook := p.webhookURL
	p.mu.Unlock()
	switch {
	case !ok:
		p.fail(w, 400, "INVALID_INPUT", "INVALID_ACCESS_TOKEN", "could not find matching access token")
		return
	case limited:
		p.fail(w, 429, "RATE_LIMIT_EXCEEDED", "ITEM_GET_LIMIT", "rate limit exceeded for attempts to access this item. please try again later")
		return
	}
	var itemErr *plaidErrorBody
	if snap.code != "" {
		status := plaidStatus(snap.errType, snap.code)
		if _, _, asCall := plaidCodeInfo(snap.code); asCall {
			p.writeJSON(w, status, p.errorBody(snap.errType, snap.code, snap.reason, snap.display, plaidRandomID(15), nil))
			return
		}
		itemErr = p.errorBody(snap.errType, snap.code, snap.reason, snap.display, plaidRandomID(15), nil)
	}
	p.writeJSON(w, 200, map[string]any{
		"item":       snap.json(itemErr, webhook),
		"status":     snap.statusJSON(),
		"request_id": plaidRandomID(15),
	})
}

// json is the Item object of /item/get (PLAID.md §4.1).
func (it *plaidItem) json(itemErr *plaidErrorBody, webhook string) map[string]any {
	products := []string{"identity", "transactions"}
	return map[string]any{
		"item_id":                 it.id,
		"institution_id":          plaidNullable(it.institutionID),
		"institution_name":        plaidNullable(it.institution),
		"webhook":                 plaidNullable(webhook),
		"auth_method":             nil,
		"error":                   itemErr,
		"available_products":      []string{"balance", "auth"},
		"billed_products":         products,
		"products":                products,
		"consented_products":      products,
		"consented_data_scopes":   []string{"account_balance_info", "transactions"},
		"consented_use_cases":     []string{"Track and manage your finances"},
		"consent_expiration_time": plaidTimePtr(it.consent),
		"update_type":             "background",
		"created_at":              plaidTime(it.created),
	}
}

func (it *plaidItem) statusJSON() map[string]any {
	tx := map[string]any{"last_successful_update": plaidTime(it.lastOK), "last_failed_update": nil}
	if !it.lastFailed.IsZero() {
		tx["last_failed_update"] = plaidTime(it.lastFailed)
	}
	var hook any
	if it.lastHook != "" {
		hook = map[string]any{"sent_at": plaidTime(it.lastHookAt), "code_sent": it.lastHook}
	}
	return map[string]any{
		"transactions": tx,
		"investments":  map[string]any{"last_successful_update": nil, "last_failed_update": nil},
		"last_webhook": hook,
	}
}

func (p *Plaid) handleLinkTokenCreate(w http.ResponseWriter, r *http.Request) {
	var req struct {
		plaidAuth
		ClientName   string   `json:"client_name"`
		Language     string   `json:"language"`
		CountryCodes []string `json:"country_codes"`
		User         *struct {
			ClientUserID string `json:"client_user_id"`
			PhoneNumber  string `json:"phone_number"`
			EmailAddress string `json:"email_address"`
		} `json:"user"`
		UserID      string   `json:"user_id"`
		AccessToken string   `json:"access_token"`
		Products    []string `json:"products"`
		Update      *struct {
			AccountSelectionEnabled bool `json:"account_selection_enabled"`
		} `json:"update"`
		HostedLink *struct {
			URLLifetimeSeconds    *int   `json:"url_lifetime_seconds"`
			CompletionRedirectURI string `json:"completion_redirect_uri"`
			DeliveryMethod        string `json:"delivery_method"`
		} `json:"hosted_link"`
		RedirectURI           string `json:"redirect_uri"`
		Webhook               string `json:"webhook"`
		LinkCustomizationName string `json:"link_customization_name"`
	}
	if !p.decode(w, r, &req) {
		return
	}
	var missing []string
	if req.ClientName == "" {
		missing = append(missing, "client_name")
	}
	if req.Language == "" {
		missing = append(missing, "language")
	}
	if len(req.CountryCodes) == 0 {
		missing = append(missing, "country_codes")
	}
	if req.UserID == "" && (req.User == nil || req.User.ClientUserID == "") {
		missing = append(missing, "user.client_user_id")
	}
	if req.AccessToken == "" && len(req.Products) == 0 {
		missing = append(missing, "products")
	}
	if len(missing) > 0 {
		p.missing(w, missing...)
		return
	}
	if !slices.Contains(plaidLanguages(), req.Language) {
		p.fail(w, 400, "INVALID_REQUEST", "INVALID_FIELD", "language must be one of "+strings.Join(plaidLanguages(), ", "))
		return
	}
	for _, cc := range req.CountryCodes {
		if !slices.Contains(plaidCountries(), cc) {
			p.fail(w, 400, "INVALID_REQUEST", "INVALID_FIELD", "country_codes contains an unsupported country: "+cc)
			return
		}
	}
	now := p.now()
	life := 4 * time.Hour // a new Item
	if req.AccessToken != "" {
		life = 30 * time.Minute // update mode
	}
	if req.HostedLink != nil {
		life = 30 * time.Minute
		if s := req.HostedLink.URLLifetimeSeconds; s != nil {
			if *s <= 0 || *s > 21*24*3600 {
				p.fail(w, 400, "INVALID_REQUEST", "INVALID_FIELD", "hosted_link.url_lifetime_seconds must be between 1 and 1814400 (21 days)")
				return
			}
			life = time.Duration(*s) * time.Second
		}
	}
	l := &plaidLink{token: "link-sandbox-" + plaidUUID(), clientName: req.ClientName, language: req.Language,
		countryCodes: req.CountryCodes, hosted: req.HostedLink != nil, created: now, expires: now.Add(life)}
	if req.AccessToken == "" { // "In update mode, this field will not have an effect" (2020-09-14.yml)
		l.webhook = req.Webhook
	}
	p.mu.Lock()
	if req.AccessToken != "" {
		it, ok := p.tokens[req.AccessToken]
		if !ok {
			p.mu.Unlock()
			p.fail(w, 400, "INVALID_INPUT", "INVALID_ACCESS_TOKEN", "could not find matching access token")
			return
		}
		// A user who revoked access cannot be taken through update mode
		// (PLAID.md §4.2): the fix is a new Item.
		if it.code == "USER_PERMISSION_REVOKED" || it.reason == "OAUTH_USER_REVOKED" {
			p.mu.Unlock()
			p.fail(w, 400, "ITEM_ERROR", "USER_PERMISSION_REVOKED", "the user revoked access to this item; update mode is not available, create a new item")
			return
		}
		l.itemID = it.id
	}
	p.addLink(l, now)
	p.mu.Unlock()
	resp := map[string]any{"link_token": l.token, "expiration": plaidTime(l.expires), "request_id": plaidRandomID(15)}
	if l.hosted {
		resp["hosted_link_url"] = p.URL() + "/hosted/" + l.token
	}
	p.writeJSON(w, 200, resp)
}

// addLink stores l, pruning expired tokens when the map has doubled. p.mu is held.
func (p *Plaid) addLink(l *plaidLink, now time.Time) {
	if len(p.links) >= p.linkSweep {
		for k, old := range p.links {
			if !now.Before(old.expires) {
				delete(p.links, k)
			}
		}
		p.linkSweep = max(1024, 2*len(p.links))
	}
	p.links[l.token] = l
}

func (p *Plaid) handleLinkTokenGet(w http.ResponseWriter, r *http.Request) {
	var req struct {
		plaidAuth
		LinkToken string `json:"link_token"`
	}
	if !p.decode(w, r, &req) {
		return
	}
	if req.LinkToken == "" {
		p.missing(w, "link_token")
		return
	}
	p.mu.Lock()
	l, ok := p.links[req.LinkToken]
	var snap plaidLink
	if ok {
		snap = *l
	}
	webhook := p.webhookURL
	p.mu.Unlock()
	if !ok {
		p.fail(w, 400, "INVALID_INPUT", "INVALID_LINK_TOKEN", "provided link token is in an invalid format or does not exist")
		return
	}
	sessions := []map[string]any{}
	if snap.sessionID != "" {
		sessions = append(sessions, map[string]any{"link_session_id": snap.sessionID,
			"started_at": plaidTime(snap.finished), "finished_at": plaidTime(snap.finished)})
	}
	p.writeJSON(w, 200, map[string]any{
		"link_token": snap.token,
		"created_at": plaidTime(snap.created),
		"expiration": plaidTime(snap.expires),
		"metadata": map[string]any{"initial_products": []string{}, "webhook": plaidNullable(webhook),
			"country_codes": snap.countryCodes, "language": snap.language, "client_name": snap.clientName,
			"redirect_uri": nil},
		"link_sessions": sessions,
		"request_id":    plaidRandomID(15),
	})
}

func (p *Plaid) handleVerificationKey(w http.ResponseWriter, r *http.Request) {
	var req struct {
		plaidAuth
		KeyID string `json:"key_id"`
	}
	if !p.decode(w, r, &req) {
		return
	}
	if req.KeyID == "" {
		p.missing(w, "key_id")
		return
	}
	p.keyMu.RLock()
	k, ok := p.keys[req.KeyID]
	var created time.Time
	var expired *time.Time
	var pub []byte
	if ok {
		created, expired = k.created, k.expiredAt
		pub, _ = k.priv.PublicKey.Bytes() // 0x04 || X || Y
	}
	p.keyMu.RUnlock()
	if !ok || len(pub) != 65 {
		p.fail(w, 400, "INVALID_INPUT", "INVALID_WEBHOOK_VERIFICATION_KEY_ID", "invalid key_id provided")
		return
	}
	var exp any
	if expired != nil {
		exp = expired.Unix()
	}
	p.writeJSON(w, 200, map[string]any{
		"key": map[string]any{"alg": "ES256", "crv": "P-256", "kty": "EC", "use": "sig", "kid": req.KeyID,
			"x": base64.RawURLEncoding.EncodeToString(pub[1:33]), "y": base64.RawURLEncoding.EncodeToString(pub[33:]),
			"created_at": created.Unix(), "expired_at": exp},
		"request_id": plaidRandomID(15),
	})
}

// plaidReadBody reads the request body before next runs. Until a body is
// read to its end, net/http does not notice a client that hung up, so a
// hanging fault would outlive the client's timeout and hold up Close.
func plaidReadBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, "reading the request body", http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		next.ServeHTTP(w, r)
	})
}
