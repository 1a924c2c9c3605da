package sandbox

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// Cobalt emulator: POST /v1/link/token/create, GET /v1/link/token/exchange,
// GET and POST /v1/settings, GET /v1/webhook-events, the hosted Link page at
// /link?token=… (which, given a callback_url, redirects there with
// ?token=<public_token> once done), and HMAC-signed webhooks (COBALT.md). Every event is also kept in the event
// history, whether or not it was delivered. It answers as Cobalt's published
// reference says where our notes differ: GET /v1/settings returns the
// Cobalt-side settings, 200, whether or not the EHR login works; event
// times can carry Cobalt's unpadded offsets; a history can hold an event
// that is not what the reference documents (SendRawEvent); and a link token
// names our organization (org_id), which must be one Cobalt knows.

// CobaltOptions configures a Cobalt emulator. Zero values get defaults.
type CobaltOptions struct {
	ClientID     string // accepted client_id; default "ci_test_sandbox"
	ClientSecret string // accepted client_secret; default "cs_test_sandbox"
	// WebhookURL receives the events; "" records them as pending only.
	WebhookURL string
	// WebhookSecret signs events (Cobalt-Verification); default random.
	WebhookSecret string
	// OnRepairedURL, when set, is POSTed {"access_token_reference_id": …,
	// "completed_at": RFC 3339}
	// (JSON, signed like a webhook) when the Link page completes an update,
	// standing in for our own page's onSuccess callback: Cobalt has no
	// "repaired" event.
	OnRepairedURL string
	// LegacyEvents makes /v1/webhook-events answer in the older field names
	// (event_id, event_type, created_at, delivery_status, …).
	LegacyEvents bool
	// Zone, when set, writes event times (created, webhook-timestamp) in
	// that zone with its UTC offset instead of "Z"; UnpaddedOffset then
	// writes the offset's hour without a leading zero, as Cobalt's own event
	// example does ("2024-04-05T08:00:00.000-7:00",
	// https://docs.usecobalt.com/docs/webhooks/events).
	Zone           *time.Location
	UnpaddedOffset bool
	// OrgID is the organization (Cobalt's org_id: ours, e.g. the clinic)
	// AddConnection puts a connection in; default "org_sandbox".
	OrgID  string
	Client *http.Client // delivers webhooks; default 10 s timeout
	Now    func() time.Time
}

// Cobalt is a stateful Cobalt API emulator on loopback.
type Cobalt struct {
	// Faults injects failures into the API (not the Link page).
	Faults *Faults

	opts CobaltOptions
	srv  *Server

	mu                      sync.Mutex
	webhookURL, repairedURL string
	byToken                 map[string]*cobaltConn
	byRef                   map[string]*cobaltConn
	links                   map[string]*cobaltLinkToken
	publics                 map[string]*cobaltPublicToken // by public token
	orgs                    map[string]bool               // organizations Cobalt knows
	lastUser, lastOrg       string                        // of the last link token minted
	seq                     int
}

type cobaltConn struct {
	ref, token, domain, userRef string
	org                         string // the org_id it was linked under
	broken                      bool
	errorType, message          string
	warned                      bool
	events                      []*cobaltEvent // in creation order
}

type cobaltLinkToken struct {
	ref     string // "" outside update mode
	expires time.Time
	used    bool
}

// cobaltPublicToken is what a completed Link session hands the caller's
// callback URL, for GET /v1/link/token/exchange: single use, and (the
// reference gives no lifetime) valid for cobaltTokenTTL.
type cobaltPublicToken struct {
	ref     string
	expires time.Time
	used    bool
}

type cobaltEvent struct {
	seq         int
	id, ref     string
	created     time.Time
	typ, jobID  string
	data        map[string]any
	raw         []byte // SendRawEvent: the event exactly as given
	status      string // pending | success | failed
	attempts    int
	lastAttempt *time.Time
	respStatus  int
}

const (
	cobaltTokenTTL     = 30 * time.Minute
	cobaltTimeLayout   = "2006-01-02T15:04:05.000Z07:00"
	cobaltMsgEventLock = "Your EHR login no longer works. Please reconnect your account to keep syncing."
	cobaltMsgWarning   = "Your EHR will ask you to change your password soon. Please update it and reconnect."
)

// NewCobalt starts a Cobalt emulator on a random loopback port.
func NewCobalt(opts CobaltOptions) (*Cobalt, error) {
	if opts.ClientID == "" {
		opts.ClientID = "ci_test_sandbox"
	}
	if opts.ClientSecret == "" {
		opts.ClientSecret = "cs_test_sandbox"
	}
	if opts.WebhookSecret == "" {
		opts.WebhookSecret = "whsec_" + belvoHex(24)
	}
	if opts.Client == nil {
		opts.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.OrgID == "" {
		opts.OrgID = "org_sandbox"
	}
	c := &Cobalt{Faults: &Faults{}, opts: opts, webhookURL: opts.WebhookURL, repairedURL: opts.OnRepairedURL, byToken: map[string]*cobaltConn{}, byRef: map[string]*cobaltConn{},
		links: map[string]*cobaltLinkToken{}, publics: map[string]*cobaltPublicToken{}, orgs: map[string]bool{opts.OrgID: true}}

	api := http.NewServeMux()
	api.HandleFunc("POST /v1/link/token/create", c.handleLinkToken)
	api.HandleFunc("GET /v1/link/token/exchange", c.handleExchange)
	api.HandleFunc("GET /v1/settings", c.handleSettings)
	api.HandleFunc("POST /v1/settings", c.handleSettingsUpdate)
	api.HandleFunc("GET /v1/webhook-events", c.handleEvents)
	api.HandleFunc("/v1/", func(w http.ResponseWriter, r *http.Request) {
		cobaltWriteError(w, http.StatusNotFound, "not_found", "Not found")
	})
	body429, _ := json.Marshal(map[string]any{"success": false, "error": "rate_limited",
		"message": "Too many requests. Please slow down."})
	body500, _ := json.Marshal(map[string]any{"success": false, "error": "internal_error",
		"message": "Internal server error"})
	root := http.NewServeMux()
	root.Handle("/v1/", c.Faults.Wrap(api, body429, body500))
	c.linkPage().mount(root, "/link")

	srv, err := Listen(root)
	if err != nil {
		return nil, fmt.Errorf("starting the cobalt emulator: %w", err)
	}
	c.srv = srv
	return c, nil
}

// URL is the API base URL (cobalt.base_url); paths start with /v1.
func (c *Cobalt) URL() string { return c.srv.URL }

// LinkURL is the hosted Link page as a cobalt.link_url template: the link
// token, and the callback URL when the caller has one (Link redirects
// there with ?token=<public_token> once the user is done).
func (c *Cobalt) LinkURL() string {
	return c.srv.URL + "/link?token={{.Token}}{{if .CallbackURL}}&callback_url={{.CallbackURL}}{{end}}"
}

// Credentials are the client_id and client_secret the emulator accepts.
func (c *Cobalt) Credentials() (clientID, clientSecret string) {
	return c.opts.ClientID, c.opts.ClientSecret
}

// WebhookSecret is the key events are signed with (cobalt.webhook_secret).
func (c *Cobalt) WebhookSecret() string { return c.opts.WebhookSecret }

// OrgID is the organization AddConnection puts connections in
// (cobalt.org_id for a client of this emulator).
func (c *Cobalt) OrgID() string { return c.opts.OrgID }

// LastLinkRequest is the user_id and org_id of the last link token minted.
func (c *Cobalt) LastLinkRequest() (userID, orgID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lastUser, c.lastOrg
}

// Close stops the emulator.
func (c *Cobalt) Close() error { return c.srv.Close() }

// SetWebhookURL points the events at url ("" records them as pending).
func (c *Cobalt) SetWebhookURL(url string) {
	c.mu.Lock()
	c.webhookURL = url
	c.mu.Unlock()
}

// SetOnRepairedURL points the Link page's completion callback at url
// ("" sends none).
func (c *Cobalt) SetOnRepairedURL(url string) {
	c.mu.Lock()
	c.repairedURL = url
	c.mu.Unlock()
}

// AddConnection adds an access token in the default organization (OrgID).
// c.ID is its access_token_reference_id (made up when empty), c.AccessToken
// the token (made up when empty), c.Institution the emr_instance_domain,
// c.Code "login_required" for a broken one (c.Reason its error_type,
// c.Message its message). A broken connection gets its login_required event
// in the history, undelivered. It returns the stored connection.
func (c *Cobalt) AddConnection(conn Connection) (Connection, error) {
	return c.AddConnectionIn(c.opts.OrgID, conn)
}

// AddConnectionIn is AddConnection for a connection linked under org, which
// Cobalt then knows as an organization.
func (c *Cobalt) AddConnectionIn(org string, conn Connection) (Connection, error) {
	if org == "" {
		return conn, fmt.Errorf("sandbox: cobalt connection %s: no org_id", conn.ID)
	}
	if conn.ID == "" {
		conn.ID = "ref_" + belvoHex(8)
	}
	if conn.AccessToken == "" {
		conn.AccessToken = belvoHex(16)
	}
	if conn.Institution == "" {
		conn.Institution = "https://ehr.example-clinic.com"
	}
	switch conn.Code {
	case "", "login_required":
	default:
		return conn, fmt.Errorf("sandbox: cobalt connection %s: unknown code %q (want \"\" or login_required)", conn.ID, conn.Code)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, dup := c.byRef[conn.ID]; dup {
		return conn, fmt.Errorf("sandbox: cobalt connection %s already exists", conn.ID)
	}
	if _, dup := c.byToken[conn.AccessToken]; dup {
		return conn, fmt.Errorf("sandbox: cobalt connection %s: access token already in use", conn.ID)
	}
	cc := &cobaltConn{ref: conn.ID, token: conn.AccessToken, domain: conn.Institution, userRef: conn.UserRef, org: org}
	c.byRef[cc.ref], c.byToken[cc.token] = cc, cc
	c.orgs[org] = true
	if conn.Code == "login_required" {
		cc.broken, cc.errorType, cc.message = true, conn.Reason, conn.Message
		c.recordLocked(cc, "access_token.login_required", c.accountDataLocked(cc, conn.Message, conn.Reason, cobaltMsgEventLock))
	}
	return conn, nil
}

// Break sends an account event for connection id (its reference id) and
// records it in the history. code "password_change_warning" sends
// access_token.password_change_warning (the connection keeps working); any
// other code sends access_token.login_required and breaks the connection:
// "login_required" without an error_type, anything else as data.error_type
// (e.g. "password_expired", "account_locked"). A delivery failure is returned
// after the state has changed.
func (c *Cobalt) Break(id, code, message string) error {
	c.mu.Lock()
	cc, ok := c.byRef[id]
	if !ok {
		c.mu.Unlock()
		return fmt.Errorf("sandbox: breaking cobalt connection %s: no such connection", id)
	}
	var ev *cobaltEvent
	switch code {
	case "password_change_warning":
		cc.warned = true
		ev = c.recordLocked(cc, "access_token.password_change_warning", c.accountDataLocked(cc, message, "", cobaltMsgWarning))
	default:
		errType := code
		if code == "login_required" || code == "" {
			errType = ""
		}
		cc.broken, cc.errorType, cc.message = true, errType, message
		ev = c.recordLocked(cc, "access_token.login_required", c.accountDataLocked(cc, message, errType, cobaltMsgEventLock))
	}
	c.mu.Unlock()
	if err := c.deliver(ev); err != nil {
		return fmt.Errorf("sandbox: cobalt connection %s broken, but the webhook failed: %w", id, err)
	}
	return nil
}

// Repair makes connection id work again, as a completed Link update does:
// later calls with its access token succeed, its warning ends, its link
// tokens are spent, and OnRepairedURL (if set) is called. Cobalt sends no
// event for it.
func (c *Cobalt) Repair(id string) error {
	c.mu.Lock()
	cc, ok := c.byRef[id]
	if !ok {
		c.mu.Unlock()
		return fmt.Errorf("sandbox: repairing cobalt connection %s: no such connection", id)
	}
	cc.broken, cc.warned, cc.errorType, cc.message = false, false, "", ""
	for _, t := range c.links {
		if t.ref == id {
			t.used = true
		}
	}
	target := c.repairedURL
	c.mu.Unlock()
	if target == "" {
		return nil
	}
	body, _ := json.Marshal(map[string]string{"access_token_reference_id": id,
		"completed_at": c.opts.Now().UTC().Format(time.RFC3339Nano)})
	if _, _, err := hookDeliver(c.opts.Client, target, body, c.signedHeader(body)); err != nil {
		return fmt.Errorf("sandbox: cobalt connection %s repaired, but the callback failed: %w", id, err)
	}
	return nil
}

// SendEvent sends any other event (an operation or sync event such as
// appointment.created or patient.failed) for connection id and records it.
// Operation events carry a job_id.
func (c *Cobalt) SendEvent(id, typ string, data map[string]any) error {
	c.mu.Lock()
	cc, ok := c.byRef[id]
	if !ok {
		c.mu.Unlock()
		return fmt.Errorf("sandbox: cobalt event for %s: no such connection", id)
	}
	ev := c.recordLocked(cc, typ, data)
	c.mu.Unlock()
	if err := c.deliver(ev); err != nil {
		return fmt.Errorf("sandbox: cobalt event %s for %s: %w", typ, id, err)
	}
	return nil
}

// SendRawEvent records body, exactly as given, as the newest event of
// connection id's history and delivers it, signed, to the webhook URL: an
// event that is not what the reference documents (a time in a form nobody
// expects, a missing field, a field of the wrong type), as a real history
// may hold one. body must be JSON (any value), since the history embeds it
// in its answer; for filtering it counts as created now, its type is its
// "type" field if that is a string. A delivery failure is returned after the
// event is recorded.
func (c *Cobalt) SendRawEvent(id string, body []byte) error {
	if !json.Valid(body) {
		return fmt.Errorf("sandbox: raw cobalt event for %s: not JSON", id)
	}
	var probe struct {
		Type any `json:"type"`
	}
	json.Unmarshal(body, &probe)
	typ, _ := probe.Type.(string)
	c.mu.Lock()
	cc, ok := c.byRef[id]
	if !ok {
		c.mu.Unlock()
		return fmt.Errorf("sandbox: raw cobalt event for %s: no such connection", id)
	}
	ev := c.recordLocked(cc, typ, nil)
	ev.raw = append([]byte(nil), body...)
	c.mu.Unlock()
	if err := c.deliver(ev); err != nil {
		return fmt.Errorf("sandbox: raw cobalt event for %s: %w", id, err)
	}
	return nil
}

// Connection returns a connection's current state: Code is
// "login_required" while broken ("" otherwise), Reason its error_type.
func (c *Cobalt) Connection(id string) (Connection, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cc, ok := c.byRef[id]
	if !ok {
		return Connection{}, false
	}
	conn := Connection{ID: cc.ref, AccessToken: cc.token, UserRef: cc.userRef, Institution: cc.domain}
	if cc.broken {
		conn.Code, conn.Reason, conn.Message = "login_required", cc.errorType, cc.message
	}
	return conn, true
}

func (c *Cobalt) accountDataLocked(cc *cobaltConn, message, errType, def string) map[string]any {
	if message == "" {
		message = def
	}
	d := map[string]any{"access_token_reference_id": cc.ref, "emr_instance_domain": cc.domain, "message": message}
	if errType != "" {
		d["error_type"] = errType
	}
	return d
}
