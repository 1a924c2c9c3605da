package sandbox

// The Plaid emulator: /item/get, /link/token/create, /link/token/get and
// /webhook_verification_key/get with the JSON shapes, status codes and auth
// checks of shared/providers/PLAID.md; Items in any error state; ES256-signed
// webhooks (PLAID.md §6) sent asynchronously; a hosted update-mode page.
// Every identifier of this file starts with "plaid" (or is a method), so the
// other emulators of the package can grow beside it.

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"html/template"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// PlaidOptions configures NewPlaid.
type PlaidOptions struct {
	ClientID, Secret string // the keys the emulator accepts; generated when empty
	WebhookURL       string // where webhooks go; "" drops them until SetWebhookURL
	// PerItemPerMinute limits /item/get per Item (429 ITEM_GET_LIMIT beyond
	// it): 0 means the Plaid Sandbox limit of 100, a negative value none.
	PerItemPerMinute int
	Now              func() time.Time // the clock; nil means time.Now
}

// PlaidDefaultPerItemPerMinute is Plaid Sandbox's /item/get limit per Item.
const PlaidDefaultPerItemPerMinute = 100

// PlaidWebhookStats counts webhooks: Delivered got a 2xx, Failed gave up
// after retries (or was abandoned at Close), Dropped had no URL to go to,
// Pending are still queued or being sent.
type PlaidWebhookStats struct {
	Delivered, Failed, Dropped, Pending int
}

// Plaid is a running Plaid emulator. It is safe for concurrent use.
type Plaid struct {
	// Faults injects failures into the API routes (not the hosted page).
	Faults *Faults

	clientID, secret string
	perItem          int
	now              func() time.Time
	srv              *Server
	page             *template.Template

	mu         sync.Mutex // guards items, tokens, links, webhookURL
	items      map[string]*plaidItem
	tokens     map[string]*plaidItem // by access_token
	links      map[string]*plaidLink
	linkSweep  int
	webhookURL string

	keyMu sync.RWMutex // guards keys and kid
	keys  map[string]*plaidKey
	kid   string

	hooks plaidHooks
}

type plaidItem struct {
	id, token, userRef, institution, institutionID string
	code, reason, errType, display                 string // the error state; code "" is healthy
	consent                                        *time.Time
	created, lastOK, lastFailed                    time.Time
	lastHook                                       string
	lastHookAt                                     time.Time
	window                                         time.Time // start of the current rate-limit minute
	calls                                          int
}

type plaidLink struct {
	token, itemID, clientName, language string
	countryCodes                        []string
	hosted                              bool
	created, expires                    time.Time
	sessionID                           string
	finished                            time.Time
}

type plaidKey struct {
	priv      *ecdsa.PrivateKey
	signer    jose.Signer
	created   time.Time
	expiredAt *time.Time
}

// NewPlaid starts a Plaid emulator on a random loopback port.
func NewPlaid(opts PlaidOptions) (*Plaid, error) {
	p := &Plaid{
		Faults:     &Faults{},
		clientID:   opts.ClientID,
		secret:     opts.Secret,
		perItem:    opts.PerItemPerMinute,
		now:        opts.Now,
		items:      map[string]*plaidItem{},
		tokens:     map[string]*plaidItem{},
		links:      map[string]*plaidLink{},
		linkSweep:  1024,
		webhookURL: opts.WebhookURL,
		keys:       map[string]*plaidKey{},
		page:       template.Must(template.New("hosted").Parse(plaidHostedPage)),
	}
	if p.now == nil {
		p.now = time.Now
	}
	if p.perItem == 0 {
		p.perItem = PlaidDefaultPerItemPerMinute
	}
	if p.clientID == "" {
		p.clientID = plaidRandomID(24)
	}
	if p.secret == "" {
		p.secret = plaidRandomID(30)
	}
	if _, err := p.RotateKey(); err != nil {
		return nil, err
	}
	api := http.NewServeMux()
	api.HandleFunc("POST /item/get", p.handleItemGet)
	api.HandleFunc("POST /link/token/create", p.handleLinkTokenCreate)
	api.HandleFunc("POST /link/token/get", p.handleLinkTokenGet)
	api.HandleFunc("POST /webhook_verification_key/get", p.handleVerificationKey)
	api.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		p.fail(w, http.StatusNotFound, "INVALID_REQUEST", "NOT_FOUND", "the requested path was not found: "+r.URL.Path)
	})
	root := http.NewServeMux()
	root.HandleFunc("GET /hosted/{token}", p.handleHostedGet)
	root.HandleFunc("POST /hosted/{token}", p.handleHostedPost)
	root.Handle("/", plaidReadBody(p.Faults.Wrap(api,
		plaidErrorJSON("RATE_LIMIT_EXCEEDED", "RATE_LIMIT", "rate limit exceeded for attempts to access this client. please try again later"),
		plaidErrorJSON("API_ERROR", "INTERNAL_SERVER_ERROR", "an unexpected error occurred"))))
	p.startHooks()
	srv, err := Listen(root)
	if err != nil {
		p.stopHooks()
		return nil, err
	}
	p.srv = srv
	return p, nil
}

// URL is the emulator's base URL, to use as plaid.base_url.
func (p *Plaid) URL() string { return p.srv.URL }

// Credentials returns the client_id and secret the emulator accepts.
func (p *Plaid) Credentials() (clientID, secret string) { return p.clientID, p.secret }

// Close stops the server and the webhook senders; queued webhooks count as failed.
func (p *Plaid) Close() error {
	err := p.srv.Close()
	p.stopHooks()
	return err
}

// SetWebhookURL points every Item's webhooks at url ("" drops them).
func (p *Plaid) SetWebhookURL(url string) {
	p.mu.Lock()
	p.webhookURL = url
	p.mu.Unlock()
}

// AddConnection registers an Item. ID and AccessToken are generated when
// empty; Code/Reason/Type set an error state (Type defaults from the code);
// Message is the display_message. It returns the stored connection.
func (p *Plaid) AddConnection(c Connection) (Connection, error) {
	if c.ID == "" {
		c.ID = plaidRandomID(37)
	}
	if c.AccessToken == "" {
		c.AccessToken = "access-sandbox-" + plaidUUID()
	}
	if c.CreatedAt.IsZero() {
		c.CreatedAt = p.now().UTC().Truncate(time.Second)
	}
	it := &plaidItem{id: c.ID, token: c.AccessToken, userRef: c.UserRef, institution: c.Institution,
		created: c.CreatedAt, lastOK: c.CreatedAt}
	if c.Institution != "" {
		h := fnv.New32a()
		h.Write([]byte(c.Institution))
		it.institutionID = fmt.Sprintf("ins_%d", h.Sum32()%1000000)
	}
	if c.ConsentExpiration != nil {
		t := *c.ConsentExpiration
		it.consent = &t
	}
	if c.Code != "" {
		it.setError(c.Code, c.Reason, c.Type, c.Message, c.CreatedAt)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, dup := p.items[c.ID]; dup {
		return Connection{}, fmt.Errorf("sandbox plaid: item %s already exists", c.ID)
	}
	if _, dup := p.tokens[c.AccessToken]; dup {
		return Connection{}, fmt.Errorf("sandbox plaid: access token of item %s is already in use", c.ID)
	}
	p.items[c.ID], p.tokens[c.AccessToken] = it, it
	return c, nil
}

// Connection returns the current state of an Item.
func (p *Plaid) Connection(itemID string) (Connection, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	it, ok := p.items[itemID]
	if !ok {
		return Connection{}, false
	}
	c := Connection{ID: it.id, AccessToken: it.token, UserRef: it.userRef, Institution: it.institution,
		Code: it.code, Reason: it.reason, Type: it.errType, Message: it.display, CreatedAt: it.created}
	if it.consent != nil {
		t := *it.consent
		c.ConsentExpiration = &t
	}
	return c, true
}

func (it *plaidItem) setError(code, reason, errType, display string, at time.Time) {
	it.code, it.reason, it.display = code, reason, display
	it.errType = errType
	if it.errType == "" {
		it.errType, _, _ = plaidCodeInfo(code)
	}
	it.lastFailed = at
}

// Break puts an Item into the error state code (error_code_reason reason,
// may be empty). An Item state (ITEM_LOGIN_REQUIRED and the other
// ITEM_ERRORs that are not product-level) is kept in item.error and fires
// ITEM/ERROR (ITEM/USER_PERMISSION_REVOKED for that code); any other code
// makes /item/get fail with it and fires nothing, as Plaid sends no webhook
// for an institution outage, a rate limit or its own failure.
func (p *Plaid) Break(itemID, code, reason string) error {
	if code == "" {
		return errors.New("sandbox plaid: Break needs an error code")
	}
	now := p.now()
	p.mu.Lock()
	it, ok := p.items[itemID]
	if !ok {
		p.mu.Unlock()
		return fmt.Errorf("sandbox plaid: no item %q", itemID)
	}
	it.setError(code, reason, "", "", now)
	hookCode := "ERROR"
	if code == "USER_PERMISSION_REVOKED" {
		hookCode = code
	}
	status := plaidStatus(it.errType, code)
	body := map[string]any{"error": p.errorBody(it.errType, code, reason, it.display, "", &status)}
	p.mu.Unlock()
	if _, _, asCall := plaidCodeInfo(code); !asCall {
		p.fire(itemID, "ITEM", hookCode, body)
	}
	return nil
}

// Repair clears an Item's error and fires ITEM/LOGIN_REPAIRED.
func (p *Plaid) Repair(itemID string) error {
	if !p.repair(itemID) {
		return fmt.Errorf("sandbox plaid: no item %q", itemID)
	}
	p.fire(itemID, "ITEM", "LOGIN_REPAIRED", nil)
	return nil
}

// repair clears the error; it reports whether the Item exists.
func (p *Plaid) repair(itemID string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	it, ok := p.items[itemID]
	if ok {
		it.code, it.reason, it.errType, it.display = "", "", "", ""
		it.lastOK = p.now()
	}
	return ok
}

// SetConsentExpiration sets an Item's consent_expiration_time and fires
// ITEM/PENDING_EXPIRATION (what Plaid sends about 7 days ahead, EU/UK).
func (p *Plaid) SetConsentExpiration(itemID string, at time.Time) error {
	p.mu.Lock()
	it, ok := p.items[itemID]
	if ok {
		t := at
		it.consent = &t
	}
	p.mu.Unlock()
	if !ok {
		return fmt.Errorf("sandbox plaid: no item %q", itemID)
	}
	p.fire(itemID, "ITEM", "PENDING_EXPIRATION", map[string]any{"consent_expiration_time": plaidTime(at)})
	return nil
}

// SetPendingDisconnect fires ITEM/PENDING_DISCONNECT with reason
// (INSTITUTION_MIGRATION or INSTITUTION_TOKEN_EXPIRATION) and disconnect_time at.
func (p *Plaid) SetPendingDisconnect(itemID, reason string, at time.Time) error {
	if !p.exists(itemID) {
		return fmt.Errorf("sandbox plaid: no item %q", itemID)
	}
	p.fire(itemID, "ITEM", "PENDING_DISCONNECT", map[string]any{"reason": reason, "disconnect_time": plaidTime(at)})
	return nil
}

// FireWebhook sends one of the informational ITEM webhooks:
// NEW_ACCOUNTS_AVAILABLE, USER_ACCOUNT_REVOKED or WEBHOOK_UPDATE_ACKNOWLEDGED.
// (Break, Repair, SetConsentExpiration and SetPendingDisconnect send the others.)
func (p *Plaid) FireWebhook(itemID, code string) error {
	if !p.exists(itemID) {
		return fmt.Errorf("sandbox plaid: no item %q", itemID)
	}
	var extra map[string]any
	switch code {
	case "NEW_ACCOUNTS_AVAILABLE":
		extra = map[string]any{"error": nil}
	case "USER_ACCOUNT_REVOKED":
		extra = map[string]any{"account_id": plaidRandomID(37)}
	case "WEBHOOK_UPDATE_ACKNOWLEDGED":
		p.mu.Lock()
		extra = map[string]any{"new_webhook_url": p.webhookURL, "error": nil}
		p.mu.Unlock()
	default:
		return fmt.Errorf("sandbox plaid: FireWebhook does not send %q; use Break, Repair, SetConsentExpiration or SetPendingDisconnect", code)
	}
	p.fire(itemID, "ITEM", code, extra)
	return nil
}

func (p *Plaid) exists(itemID string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.items[itemID]
	return ok
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

// ---- keys and signatures ----

// RotateKey makes a new webhook signing key the current one and returns its
// kid. Older keys stay valid (expired_at null) until ExpireKey.
func (p *Plaid) RotateKey() (string, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", fmt.Errorf("sandbox plaid: generating a signing key: %w", err)
	}
	kid := plaidUUID()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: priv, KeyID: kid}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return "", fmt.Errorf("sandbox plaid: making a signer: %w", err)
	}
	p.keyMu.Lock()
	p.keys[kid] = &plaidKey{priv: priv, signer: signer, created: p.now()}
	p.kid = kid
	p.keyMu.Unlock()
	return kid, nil
}

// ExpireKey sets a key's expired_at.
func (p *Plaid) ExpireKey(kid string, at time.Time) error {
	p.keyMu.Lock()
	defer p.keyMu.Unlock()
	k, ok := p.keys[kid]
	if !ok {
		return fmt.Errorf("sandbox plaid: no key %q", kid)
	}
	t := at
	k.expiredAt = &t
	return nil
}

// SignWebhook returns the Plaid-Verification header for body, signed now
// with the current key: an ES256 JWT {iat, request_body_sha256} with the kid
// in its header. It sends nothing.
func (p *Plaid) SignWebhook(body []byte) (string, error) {
	p.keyMu.RLock()
	k := p.keys[p.kid]
	p.keyMu.RUnlock()
	sum := sha256.Sum256(body)
	claims, err := json.Marshal(map[string]any{"iat": p.now().Unix(), "request_body_sha256": hex.EncodeToString(sum[:])})
	if err != nil {
		return "", fmt.Errorf("sandbox plaid: encoding claims: %w", err)
	}
	jws, err := k.signer.Sign(claims)
	if err != nil {
		return "", fmt.Errorf("sandbox plaid: signing a webhook: %w", err)
	}
	return jws.CompactSerialize()
}

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

// ---- webhooks ----

type plaidDelivery struct {
	url  string
	body []byte
}

// plaidHooks sends webhooks from a few goroutines; each Item's webhooks go
// through one of them, so they arrive in order.
type plaidHooks struct {
	client *http.Client
	ctx    context.Context
	cancel context.CancelFunc
	shards []chan plaidDelivery
	wg     sync.WaitGroup

	mu    sync.Mutex
	stats PlaidWebhookStats
	idle  chan struct{} // closed while nothing is pending
}

const (
	plaidHookShards   = 4
	plaidHookAttempts = 4
)

func (p *Plaid) startHooks() {
	h := &p.hooks
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = plaidHookShards
	h.client = &http.Client{Transport: tr, Timeout: 10 * time.Second} // Plaid waits 10 s for an answer
	h.ctx, h.cancel = context.WithCancel(context.Background())
	h.idle = make(chan struct{})
	close(h.idle)
	for range plaidHookShards {
		ch := make(chan plaidDelivery, 1024)
		h.shards = append(h.shards, ch)
		h.wg.Go(func() {
			for {
				select {
				case <-h.ctx.Done():
					return
				case d := <-ch:
					ok := p.deliver(d)
					h.finish(ok)
				}
			}
		})
	}
}

func (p *Plaid) stopHooks() {
	h := &p.hooks
	h.cancel()
	h.wg.Wait()
	h.mu.Lock()
	h.stats.Failed += h.stats.Pending
	h.stats.Pending = 0
	h.markIdle()
	h.mu.Unlock()
}

// fire queues an ITEM or LINK webhook; extra holds the code's own fields.
func (p *Plaid) fire(itemID, typ, code string, extra map[string]any) {
	body := map[string]any{"webhook_type": typ, "webhook_code": code, "environment": "sandbox"}
	if typ != "LINK" {
		body["item_id"] = itemID
	}
	for k, v := range extra {
		body[k] = v
	}
	raw, err := json.Marshal(body)
	p.mu.Lock()
	url := p.webhookURL
	if it := p.items[itemID]; it != nil && typ == "ITEM" {
		it.lastHook, it.lastHookAt = code, p.now()
	}
	p.mu.Unlock()
	h := &p.hooks
	h.mu.Lock()
	if url == "" || err != nil || h.ctx.Err() != nil {
		h.stats.Dropped++
		h.mu.Unlock()
		return
	}
	if h.stats.Pending == 0 {
		h.idle = make(chan struct{})
	}
	h.stats.Pending++
	h.mu.Unlock()
	f := fnv.New32a()
	f.Write([]byte(itemID))
	select {
	case h.shards[f.Sum32()%plaidHookShards] <- plaidDelivery{url: url, body: raw}:
	case <-h.ctx.Done():
		h.finish(false)
	}
}

// deliver POSTs one webhook, signed afresh at each attempt, retrying
// non-2xx answers and transport failures a few times with a short backoff
// (Plaid's own schedule of 30 s ×4 for 24 h is compressed for loopback).
func (p *Plaid) deliver(d plaidDelivery) bool {
	h := &p.hooks
	delay := 25 * time.Millisecond
	for attempt := range plaidHookAttempts {
		if attempt > 0 {
			select {
			case <-h.ctx.Done():
				return false
			case <-time.After(delay):
			}
			delay *= 4
		}
		header, err := p.SignWebhook(d.body)
		if err != nil {
			return false
		}
		req, err := http.NewRequestWithContext(h.ctx, http.MethodPost, d.url, bytes.NewReader(d.body))
		if err != nil {
			return false
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Plaid-Verification", header)
		resp, err := h.client.Do(req)
		if err != nil {
			continue
		}
		io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
		resp.Body.Close()
		if resp.StatusCode >= 200 && resp.StatusCode < 300 {
			return true
		}
	}
	return false
}

func (h *plaidHooks) finish(ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stats.Pending == 0 {
		return // already written off by Close
	}
	h.stats.Pending--
	if ok {
		h.stats.Delivered++
	} else {
		h.stats.Failed++
	}
	if h.stats.Pending == 0 {
		h.markIdle()
	}
}

// markIdle closes idle once; h.mu is held.
func (h *plaidHooks) markIdle() {
	select {
	case <-h.idle:
	default:
		close(h.idle)
	}
}

// WebhookStats counts the webhooks sent so far.
func (p *Plaid) WebhookStats() PlaidWebhookStats {
	p.hooks.mu.Lock()
	defer p.hooks.mu.Unlock()
	return p.hooks.stats
}

// WaitWebhooks blocks until no webhook is pending (all delivered or given
// up) or ctx ends.
func (p *Plaid) WaitWebhooks(ctx context.Context) error {
	p.hooks.mu.Lock()
	idle := p.hooks.idle
	p.hooks.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("sandbox plaid: waiting for webhooks: %w", ctx.Err())
	}
}

// ---- Plaid error bodies ----

// plaidErrorBody is a Plaid error object (PLAID.md §5.1). Status is set only
// in webhooks, RequestID only in API answers.
type plaidErrorBody struct {
	ErrorType        string  `json:"error_type"`
	ErrorCode        string  `json:"error_code"`
	ErrorCodeReason  *string `json:"error_code_reason"`
	ErrorMessage     string  `json:"error_message"`
	DisplayMessage   *string `json:"display_message"`
	RequestID        string  `json:"request_id,omitempty"`
	Causes           []any   `json:"causes"`
	Status           *int    `json:"status,omitempty"`
	DocumentationURL string  `json:"documentation_url"`
	SuggestedAction  *string `json:"suggested_action"`
}

func (p *Plaid) errorBody(errType, code, reason, display, requestID string, status *int) *plaidErrorBody {
	if errType == "" {
		errType, _, _ = plaidCodeInfo(code)
	}
	_, msg, _ := plaidCodeInfo(code)
	e := &plaidErrorBody{ErrorType: errType, ErrorCode: code, ErrorMessage: msg, RequestID: requestID,
		Causes: []any{}, Status: status, DocumentationURL: "https://plaid.com/docs/errors/"}
	if reason != "" {
		e.ErrorCodeReason = &reason
	}
	if display != "" {
		e.DisplayMessage = &display
	}
	return e
}

func (p *Plaid) fail(w http.ResponseWriter, status int, errType, code, msg string) {
	e := p.errorBody(errType, code, "", "", plaidRandomID(15), nil)
	e.ErrorMessage = msg
	p.writeJSON(w, status, e)
}

func (p *Plaid) missing(w http.ResponseWriter, fields ...string) {
	p.fail(w, 400, "INVALID_REQUEST", "MISSING_FIELDS", "the following required fields are missing: "+strings.Join(fields, ", "))
}

func (p *Plaid) writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "encoding the answer: "+err.Error(), 500)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}

func plaidErrorJSON(errType, code, msg string) []byte {
	b, _ := json.Marshal(map[string]any{"error_type": errType, "error_code": code, "error_code_reason": nil,
		"error_message": msg, "display_message": nil, "request_id": plaidRandomID(15), "causes": []any{},
		"documentation_url": "https://plaid.com/docs/errors/", "suggested_action": nil})
	return b
}

// plaidCodeInfo says how the emulator treats an error code: its error_type,
// its error_message, and whether /item/get fails with it (asCall) instead of
// returning the Item with item.error set. Which codes persist in item.error
// is not documented (PLAID.md §9); the emulator keeps login-type ITEM_ERRORs
// as state and answers product-level, institution, rate-limit, platform and
// integration codes as a failed call.
func plaidCodeInfo(code string) (errType, msg string, asCall bool) {
	switch code {
	case "ITEM_LOGIN_REQUIRED":
		return "ITEM_ERROR", "the login details of this item have changed (credentials, MFA, or required user action) and a user login is required to update this information. use Link's update mode to restore the item to a good state", false
	case "PASSWORD_RESET_REQUIRED", "ITEM_LOCKED", "USER_SETUP_REQUIRED", "INVALID_CREDENTIALS", "INVALID_UPDATED_USERNAME",
		"INVALID_MFA", "INVALID_OTP", "INVALID_SEND_METHOD", "INVALID_PHONE_NUMBER", "USER_INPUT_TIMEOUT",
		"INSUFFICIENT_CREDENTIALS", "ACCESS_NOT_GRANTED", "NO_ACCOUNTS", "USER_PERMISSION_REVOKED",
		"ITEM_NOT_SUPPORTED", "MFA_NOT_SUPPORTED":
		return "ITEM_ERROR", "the item is in the error state " + code, false
	case "ITEM_NOT_FOUND", "ITEM_CONCURRENTLY_DELETED", "ITEM_NO_ERROR", "NO_AUTH_ACCOUNTS", "no-depository-accounts",
		"NO_INVESTMENT_ACCOUNTS", "NO_INVESTMENT_AUTH_ACCOUNTS", "NO_LIABILITY_ACCOUNTS", "PRODUCTS_NOT_SUPPORTED",
		"PRODUCT_NOT_ENABLED", "PRODUCT_NOT_READY", "INSTANT_MATCH_FAILED":
		return "ITEM_ERROR", "the request failed for this item: " + code, true
	case "INSTITUTION_DOWN", "INSTITUTION_NOT_RESPONDING", "INSTITUTION_NOT_AVAILABLE", "INSTITUTION_NO_LONGER_SUPPORTED",
		"INSTITUTION_NOT_ENABLED_IN_ENVIRONMENT", "INSTITUTION_NOT_FOUND", "INSTITUTION_REGISTRATION_REQUIRED",
		"UNAUTHORIZED_INSTITUTION", "UNSUPPORTED_RESPONSE":
		return "INSTITUTION_ERROR", "the institution failed: " + code, true
	case "ACCOUNTS_LIMIT", "ACCOUNTS_BALANCE_GET_LIMIT", "AUTH_LIMIT", "BALANCE_LIMIT", "CREDITS_EXHAUSTED",
		"IDENTITY_LIMIT", "INSTITUTIONS_GET_LIMIT", "INSTITUTIONS_GET_BY_ID_LIMIT", "INSTITUTION_RATE_LIMIT",
		"INVESTMENT_HOLDINGS_GET_LIMIT", "INVESTMENT_TRANSACTIONS_LIMIT", "ITEM_GET_LIMIT", "RATE_LIMIT",
		"TRANSACTIONS_LIMIT", "TRANSACTIONS_SYNC_LIMIT":
		return "RATE_LIMIT_EXCEEDED", "rate limit exceeded for attempts to access this item. please try again later", true
	case "INTERNAL_SERVER_ERROR", "plaid-internal-error", "PLANNED_MAINTENANCE":
		return "API_ERROR", "an unexpected error occurred", true
	case "INVALID_API_KEYS", "INVALID_ACCESS_TOKEN", "INVALID_LINK_TOKEN", "INVALID_PUBLIC_TOKEN",
		"UNAUTHORIZED_ENVIRONMENT", "INVALID_WEBHOOK_VERIFICATION_KEY_ID", "ADDITIONAL_CONSENT_REQUIRED":
		return "INVALID_INPUT", "invalid input: " + code, true
	case "MISSING_FIELDS", "UNKNOWN_FIELDS", "INVALID_FIELD", "INVALID_BODY", "INVALID_HEADERS",
		"INCOMPATIBLE_API_VERSION", "NOT_FOUND":
		return "INVALID_REQUEST", "invalid request: " + code, true
	}
	return "ITEM_ERROR", "the item is in the error state " + code, false
}

// plaidStatus is the HTTP status Plaid answers a code with.
func plaidStatus(errType, code string) int {
	switch {
	case errType == "RATE_LIMIT_EXCEEDED":
		return 429
	case code == "PLANNED_MAINTENANCE":
		return 503
	case errType == "API_ERROR":
		return 500
	}
	return 400
}

// ---- small helpers ----

func plaidLanguages() []string {
	return []string{"da", "de", "en", "es", "et", "fr", "hi", "it", "ja", "lt", "lv", "nl", "no", "pl", "pt", "ro", "sv", "vi", "zh"}
}

func plaidCountries() []string {
	return []string{"US", "CA", "GB", "IE", "FR", "ES", "NL", "DE", "IT", "PL", "BE", "AT", "DK", "FI", "NO", "PT", "SE", "EE", "LT", "LV"}
}

func plaidTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func plaidTimePtr(t *time.Time) any {
	if t == nil {
		return nil
	}
	return plaidTime(*t)
}

func plaidNullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

const plaidAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// plaidRandomID is a random base-62 string, like Plaid's item and request ids.
func plaidRandomID(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	for i := range b {
		b[i] = plaidAlphabet[int(b[i])%len(plaidAlphabet)]
	}
	return string(b)
}

func plaidUUID() string {
	b := make([]byte, 16)
	rand.Read(b)
	b[6], b[8] = b[6]&0x0f|0x40, b[8]&0x3f|0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
