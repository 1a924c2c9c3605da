package sandbox

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Belvo emulator: GET /api/links/ (paged, filtered), GET /api/links/{id}/,
// POST /api/token/, the hosted widget at /widget/?access_token=…, and LINK /
// ACCOUNTS webhooks with the configured Authorization value (BELVO.md).

// BelvoOptions configures a Belvo emulator. Zero values get defaults.
type BelvoOptions struct {
	SecretID       string // accepted key id; default "belvo-sandbox-id"
	SecretPassword string // accepted key password; default "belvo-sandbox-password"
	// WebhookURL receives the webhooks; "" sends none.
	WebhookURL string
	// WebhookAuthorization is sent as the Authorization header of every
	// webhook; default "Bearer " + a random token.
	WebhookAuthorization string
	DefaultPageSize      int          // page_size when a request names none; default 100
	Client               *http.Client // delivers webhooks; default 10 s timeout
	Now                  func() time.Time
}

// Belvo is a stateful Belvo API emulator on loopback.
type Belvo struct {
	// Faults injects failures into the API (not the widget page).
	Faults *Faults

	opts  BelvoOptions
	srv   *Server
	owner string // created_by of every link
	reqs  atomic.Int64

	mu         sync.Mutex
	webhookURL string
	links      map[string]*belvoLink
	order      []*belvoLink // by (created_at, id) once sorted
	unsorted   bool
	filtered   map[string][]*belvoLink // cache of filtered listings; reset on change
	tokens     map[string]*belvoToken  // widget access tokens
}

type belvoLink struct {
	id, institution, externalID string
	status, lastError           string
	createdAt                   time.Time
	lastAccessed                *time.Time
	fail                        *belvoErrorItem // injected error of calls about this link
	raw                         []byte          // the link's JSON, rendered on every change
}

type belvoToken struct {
	linkID  string
	expires time.Time
	// the request's widget.callback_urls: where the hosted widget sends
	// the user once done (success) or gone (exit); "" for none
	success, exit string
}

// belvoErrorItem is one element of a Belvo error array (BELVO.md §5.1).
type belvoErrorItem struct {
	status    int
	Code      string `json:"code"`
	Message   string `json:"message"`
	RequestID string `json:"request_id"`
	Field     string `json:"field,omitempty"`
	// 428 token_required session data
	Session             string         `json:"session,omitempty"`
	Expiry              int            `json:"expiry,omitempty"`
	Link                string         `json:"link,omitempty"`
	TokenGenerationData map[string]any `json:"token_generation_data,omitempty"`
}

// belvoLinkJSON is the Link object of BELVO.md §4.1.
type belvoLinkJSON struct {
	ID                 string   `json:"id"`
	Institution        string   `json:"institution"`
	AccessMode         string   `json:"access_mode"`
	Status             string   `json:"status"`
	RefreshRate        string   `json:"refresh_rate"`
	CreatedBy          string   `json:"created_by"`
	LastAccessedAt     *string  `json:"last_accessed_at"`
	CreatedAt          string   `json:"created_at"`
	ExternalID         *string  `json:"external_id"`
	InstitutionUserID  string   `json:"institution_user_id"`
	CredentialsStorage string   `json:"credentials_storage"`
	StaleIn            string   `json:"stale_in"`
	FetchResources     []string `json:"fetch_resources"`
}

const (
	belvoMaxPageSize = 1000
	belvoTokenTTL    = 10 * time.Minute
	belvoTimeLayout  = "2006-01-02T15:04:05.000000Z"
	belvoMsgLogin    = "Invalid credentials provided to login to the institution"
	belvoMsgToken    = "A MFA token is required by the institution to login"
)

// NewBelvo starts a Belvo emulator on a random loopback port.
func NewBelvo(opts BelvoOptions) (*Belvo, error) {
	if opts.SecretID == "" {
		opts.SecretID = "belvo-sandbox-id"
	}
	if opts.SecretPassword == "" {
		opts.SecretPassword = "belvo-sandbox-password"
	}
	if opts.WebhookAuthorization == "" {
		opts.WebhookAuthorization = "Bearer " + belvoHex(16)
	}
	if opts.DefaultPageSize <= 0 {
		opts.DefaultPageSize = 100
	}
	if opts.Client == nil {
		opts.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	b := &Belvo{Faults: &Faults{}, opts: opts, webhookURL: opts.WebhookURL, owner: belvoUUID(), links: map[string]*belvoLink{},
		filtered: map[string][]*belvoLink{}, tokens: map[string]*belvoToken{}}

	api := http.NewServeMux()
	api.HandleFunc("GET /api/links/{$}", b.handleList)
	api.HandleFunc("GET /api/links/{id}/{$}", b.handleLink)
	api.HandleFunc("POST /api/token/{$}", b.handleToken)
	api.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		belvoWriteErrors(w, belvoErrorItem{status: http.StatusNotFound, Code: "not_found", Message: "Not found"})
	})
	body429, _ := json.Marshal([]belvoErrorItem{{Code: "too_many_requests",
		Message: "Request was throttled.", RequestID: belvoHex(16)}})
	body500, _ := json.Marshal([]belvoErrorItem{{Code: "unexpected_error",
		Message:   "Belvo is unable to process the request due to an internal system issue or to an unsupported response from an institution",
		RequestID: belvoHex(16)}})
	root := http.NewServeMux()
	faulty := b.Faults.Wrap(api, body429, body500)
	root.Handle("/api/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.reqs.Add(1)
		faulty.ServeHTTP(w, r)
	}))
	b.widgetPage().mount(root, "/widget/{$}")

	srv, err := Listen(root)
	if err != nil {
		return nil, fmt.Errorf("starting the belvo emulator: %w", err)
	}
	b.srv = srv
	return b, nil
}

// URL is the API base URL (belvo.base_url).
func (b *Belvo) URL() string { return b.srv.URL }

// WidgetURL is the hosted widget's base (belvo.widget_url); the client adds
// ?access_token=….
func (b *Belvo) WidgetURL() string { return b.srv.URL + "/widget/" }

// Credentials are the secret key id and password the emulator accepts.
func (b *Belvo) Credentials() (id, password string) {
	return b.opts.SecretID, b.opts.SecretPassword
}

// WebhookAuthorization is the Authorization value sent with webhooks
// (belvo.webhook_authorization).
func (b *Belvo) WebhookAuthorization() string { return b.opts.WebhookAuthorization }

// Close stops the emulator.
func (b *Belvo) Close() error { return b.srv.Close() }

// Requests counts the API requests answered so far (faults included).
func (b *Belvo) Requests() int64 { return b.reqs.Load() }

// SetWebhookURL points the webhooks at url ("" sends none).
func (b *Belvo) SetWebhookURL(url string) {
	b.mu.Lock()
	b.webhookURL = url
	b.mu.Unlock()
}

// AddConnection adds a recurrent link. c.ID is the link id (a UUID is made up
// when empty), c.Code its status ("" or "valid", "invalid",
// "token_required", "unconfirmed"), c.Message its last login error,
// c.UserRef its external_id. No webhook is sent. It returns the stored
// connection.
func (b *Belvo) AddConnection(c Connection) (Connection, error) {
	if c.ID == "" {
		c.ID = belvoUUID()
	}
	if c.Code == "" {
		c.Code = "valid"
	}
	if !belvoKnownStatus(c.Code) {
		return c, fmt.Errorf("sandbox: belvo link %s: unknown status %q", c.ID, c.Code)
	}
	if c.Institution == "" {
		c.Institution = "erebor_mx_retail"
	}
	now := b.opts.Now().UTC()
	if c.CreatedAt.IsZero() {
		c.CreatedAt = now
	}
	l := &belvoLink{id: c.ID, institution: c.Institution, externalID: c.UserRef, status: c.Code,
		lastError: c.Message, createdAt: c.CreatedAt.UTC()}
	if c.Code != "unconfirmed" {
		at := l.createdAt
		l.lastAccessed = &at
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, dup := b.links[c.ID]; dup {
		return c, fmt.Errorf("sandbox: belvo link %s already exists", c.ID)
	}
	b.renderLocked(l)
	b.links[l.id] = l
	if n := len(b.order); n > 0 && belvoLess(l, b.order[n-1]) {
		b.unsorted = true
	}
	b.order = append(b.order, l)
	clear(b.filtered)
	return c, nil
}

// Break sets a link's status and, for "invalid" and "token_required", sends
// the LINK webhook (invalid_credentials with error_code login_error, or
// token_required) carrying message (a default when empty). "unconfirmed"
// sends none: Belvo documents no webhook for it. A delivery failure is
// returned after the state has changed.
func (b *Belvo) Break(id, status, message string) error {
	if status == "valid" || !belvoKnownStatus(status) {
		return fmt.Errorf("sandbox: breaking belvo link %s: status must be invalid, token_required or unconfirmed, not %q", id, status)
	}
	b.mu.Lock()
	l, ok := b.links[id]
	if !ok {
		b.mu.Unlock()
		return fmt.Errorf("sandbox: breaking belvo link %s: no such link", id)
	}
	l.status, l.lastError = status, message
	b.renderLocked(l)
	clear(b.filtered)
	ext := l.externalID
	b.mu.Unlock()

	var code, errCode string
	var httpStatus int
	switch status {
	case "invalid":
		code, errCode, httpStatus = "invalid_credentials", "login_error", 400
		if message == "" {
			message = belvoMsgLogin
		}
	case "token_required":
		code, errCode, httpStatus = "token_required", "token_required", 428
		if message == "" {
			message = belvoMsgToken
		}
	default:
		return nil
	}
	err := b.sendWebhook("LINK", "recurrent_update", code, id, ext, map[string]any{
		"error_code": errCode, "error_message": message, "status": httpStatus})
	if err != nil {
		return fmt.Errorf("sandbox: belvo link %s broken, but the webhook failed: %w", id, err)
	}
	return nil
}

// Repair makes a link valid again, as a completed widget update does: it
// clears any injected error, invalidates the link's widget tokens and sends
// the ACCOUNTS historical_update webhook of the refresh that follows.
func (b *Belvo) Repair(id string) error {
	b.mu.Lock()
	l, ok := b.links[id]
	if !ok {
		b.mu.Unlock()
		return fmt.Errorf("sandbox: repairing belvo link %s: no such link", id)
	}
	now := b.opts.Now().UTC()
	l.status, l.lastError, l.fail, l.lastAccessed = "valid", "", nil, &now
	b.renderLocked(l)
	clear(b.filtered)
	for tok, t := range b.tokens {
		if t.linkID == id {
			delete(b.tokens, tok)
		}
	}
	ext := l.externalID
	b.mu.Unlock()

	err := b.sendWebhook("ACCOUNTS", "historical_update", "historical_update", id, ext,
		map[string]any{"total_accounts": 2})
	if err != nil {
		return fmt.Errorf("sandbox: belvo link %s repaired, but the webhook failed: %w", id, err)
	}
	return nil
}

// InjectError makes every call about link id (GET /api/links/{id}/ and POST
// /api/token/ with its link_id) answer this Belvo error, as Belvo's data
// endpoints would; a 428 token_required carries session data. An empty code
// (or Repair) clears it.
func (b *Belvo) InjectError(id string, httpStatus int, code, message string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	l, ok := b.links[id]
	if !ok {
		return fmt.Errorf("sandbox: injecting an error into belvo link %s: no such link", id)
	}
	if code == "" {
		l.fail = nil
		return nil
	}
	e := &belvoErrorItem{status: httpStatus, Code: code, Message: message}
	if code == "token_required" {
		e.Session, e.Expiry, e.Link = belvoHex(16), 9600, id
		e.TokenGenerationData = map[string]any{"instructions": "Use this code to generate the token",
			"type": "numeric", "value": "12345", "expects_user_input": true}
	}
	l.fail = e
	return nil
}

// Connection returns a link's current state: Code is its status ("" when
// valid), Message its last login error.
func (b *Belvo) Connection(id string) (Connection, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	l, ok := b.links[id]
	if !ok {
		return Connection{}, false
	}
	c := Connection{ID: l.id, UserRef: l.externalID, Institution: l.institution, Code: l.status,
		Message: l.lastError, CreatedAt: l.createdAt}
	if c.Code == "valid" {
		c.Code = ""
	}
	return c, true
}

func belvoKnownStatus(s string) bool {
	switch s {
	case "valid", "invalid", "token_required", "unconfirmed":
		return true
	}
	return false
}

func belvoLess(a, b *belvoLink) bool {
	if !a.createdAt.Equal(b.createdAt) {
		return a.createdAt.Before(b.createdAt)
	}
	return a.id < b.id
}

// renderLocked caches l's JSON so pages are a concatenation of bytes.
func (b *Belvo) renderLocked(l *belvoLink) {
	sum := sha256.Sum256([]byte(l.institution + "/" + l.id))
	j := belvoLinkJSON{ID: l.id, Institution: l.institution, AccessMode: "recurrent", Status: l.status,
		RefreshRate: "24h", CreatedBy: b.owner, CreatedAt: l.createdAt.Format(belvoTimeLayout),
		InstitutionUserID: base64.URLEncoding.EncodeToString(sum[:]), CredentialsStorage: "store",
		StaleIn: "365d", FetchResources: []string{"ACCOUNTS", "TRANSACTIONS", "OWNERS"}}
	if l.lastAccessed != nil {
		s := l.lastAccessed.Format(belvoTimeLayout)
		j.LastAccessedAt = &s
	}
	if l.externalID != "" {
		e := l.externalID
		j.ExternalID = &e
	}
	l.raw, _ = json.Marshal(j)
}
