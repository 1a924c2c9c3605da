package sandbox

// The Plaid emulator: /item/get, /link/token/create, /link/token/get and
// /webhook_verification_key/get with the JSON shapes, status codes and auth
// checks of shared/providers/PLAID.md; Items in any error state; ES256-signed
// webhooks (PLAID.md §6) sent asynchronously; a hosted update-mode page.
// Every identifier of the plaid*.go files starts with "plaid" (or is a
// method), so the other emulators of the package can grow beside it.

import (
	"crypto/ecdsa"
	"errors"
	"fmt"
	"hash/fnv"
	"net/http"
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
	webhook                             string // the request's webhook; "" in update mode, where it has no effect
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
	p.hostedPage().mount(root, "/hosted/{token}")
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
