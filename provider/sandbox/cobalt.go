package sandbox

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Cobalt emulator: POST /v1/link/token/create, GET and POST /v1/settings,
// GET /v1/webhook-events, the hosted Link page at /link?token=…, and
// HMAC-signed webhooks (COBALT.md). Every event is also kept in the event
// history, whether or not it was delivered.

// CobaltOptions configures a Cobalt emulator. Zero values get defaults.
type CobaltOptions struct {
	ClientID     string // accepted client_id; default "ci_test_sandbox"
	ClientSecret string // accepted client_secret; default "cs_test_sandbox"
	// WebhookURL receives the events; "" records them as pending only.
	WebhookURL string
	// WebhookSecret signs events (Cobalt-Verification); default random.
	WebhookSecret string
	// OnRepairedURL, when set, is POSTed {"access_token_reference_id": …}
	// (JSON, signed like a webhook) when the Link page completes an update,
	// standing in for our own page's onSuccess callback: Cobalt has no
	// "repaired" event.
	OnRepairedURL string
	// LegacyEvents makes /v1/webhook-events answer in the older field names
	// (event_id, event_type, created_at, delivery_status, …).
	LegacyEvents bool
	Client       *http.Client // delivers webhooks; default 10 s timeout
	Now          func() time.Time
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
	seq                     int
}

type cobaltConn struct {
	ref, token, domain, userRef string
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

type cobaltEvent struct {
	seq         int
	id, ref     string
	created     time.Time
	typ, jobID  string
	data        map[string]any
	status      string // pending | success | failed
	attempts    int
	lastAttempt *time.Time
	respStatus  int
}

const (
	cobaltTokenTTL     = 30 * time.Minute
	cobaltTimeLayout   = "2006-01-02T15:04:05.000Z07:00"
	cobaltMsgLogin     = "Account link expired. Please go through the integration setup again."
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
	c := &Cobalt{Faults: &Faults{}, opts: opts, webhookURL: opts.WebhookURL, repairedURL: opts.OnRepairedURL, byToken: map[string]*cobaltConn{}, byRef: map[string]*cobaltConn{},
		links: map[string]*cobaltLinkToken{}}

	api := http.NewServeMux()
	api.HandleFunc("POST /v1/link/token/create", c.handleLinkToken)
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
	root.HandleFunc("GET /link", c.handleLinkPage)
	root.HandleFunc("POST /link", c.handleLinkSubmit)

	srv, err := Listen(root)
	if err != nil {
		return nil, fmt.Errorf("starting the cobalt emulator: %w", err)
	}
	c.srv = srv
	return c, nil
}

// URL is the API base URL (cobalt.base_url); paths start with /v1.
func (c *Cobalt) URL() string { return c.srv.URL }

// LinkURL is the hosted Link page as a cobalt.link_url template.
func (c *Cobalt) LinkURL() string { return c.srv.URL + "/link?token={{.Token}}" }

// Credentials are the client_id and client_secret the emulator accepts.
func (c *Cobalt) Credentials() (clientID, clientSecret string) {
	return c.opts.ClientID, c.opts.ClientSecret
}

// WebhookSecret is the key events are signed with (cobalt.webhook_secret).
func (c *Cobalt) WebhookSecret() string { return c.opts.WebhookSecret }

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

// SignWebhook returns the Cobalt-Verification header for body: the
// lowercase hex HMAC-SHA256 of body keyed with the webhook secret. It sends
// nothing and never fails.
func (c *Cobalt) SignWebhook(body []byte) (string, error) {
	m := hmac.New(sha256.New, []byte(c.opts.WebhookSecret))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil)), nil
}

// signedHeader is the header set of a delivery of body.
func (c *Cobalt) signedHeader(body []byte) http.Header {
	sig, _ := c.SignWebhook(body)
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("Cobalt-Verification", sig)
	return h
}

// AddConnection adds an access token. c.ID is its access_token_reference_id
// (made up when empty), c.AccessToken the token (made up when empty),
// c.Institution the emr_instance_domain, c.Code "login_required" for a broken
// one (c.Reason its error_type, c.Message its message). A broken connection
// gets its login_required event in the history, undelivered. It returns the
// stored connection.
func (c *Cobalt) AddConnection(conn Connection) (Connection, error) {
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
	cc := &cobaltConn{ref: conn.ID, token: conn.AccessToken, domain: conn.Institution, userRef: conn.UserRef}
	c.byRef[cc.ref], c.byToken[cc.token] = cc, cc
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
	body, _ := json.Marshal(map[string]string{"access_token_reference_id": id})
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

// recordLocked adds an event to cc's history, pending delivery.
func (c *Cobalt) recordLocked(cc *cobaltConn, typ string, data map[string]any) *cobaltEvent {
	c.seq++
	ev := &cobaltEvent{seq: c.seq, id: belvoUUID(), ref: cc.ref, created: c.opts.Now().UTC(), typ: typ,
		data: data, status: "pending"}
	if !strings.HasPrefix(typ, "access_token.") {
		ev.jobID = strconv.Itoa(100000 + c.seq)
	}
	cc.events = append(cc.events, ev)
	return ev
}

// payload is the webhook body of ev (COBALT.md §6.1).
func (ev *cobaltEvent) payload() map[string]any {
	m := map[string]any{"id": ev.id, "access_token_reference_id": ev.ref, "object": "event",
		"created": ev.created.Format(cobaltTimeLayout), "type": ev.typ, "data": ev.data}
	if ev.jobID != "" {
		m["job_id"] = ev.jobID
	}
	return m
}

// deliver POSTs ev to the webhook URL and records the outcome.
func (c *Cobalt) deliver(ev *cobaltEvent) error {
	c.mu.Lock()
	target := c.webhookURL
	c.mu.Unlock()
	if target == "" {
		return nil
	}
	body, err := json.Marshal(ev.payload())
	if err != nil {
		return fmt.Errorf("encoding the event: %w", err)
	}
	h := c.signedHeader(body)
	h.Set("webhook-id", ev.id)
	h.Set("webhook-timestamp", ev.created.Format(cobaltTimeLayout))
	attempts, status, err := hookDeliver(c.opts.Client, target, body, h)
	now := c.opts.Now().UTC()
	c.mu.Lock()
	ev.attempts, ev.respStatus, ev.lastAttempt = attempts, status, &now
	ev.status = "success"
	if err != nil {
		ev.status = "failed"
	}
	c.mu.Unlock()
	return err
}

func cobaltWriteError(w http.ResponseWriter, status int, code, message string) {
	cobaltWriteJSON(w, status, map[string]any{"success": false, "error": code, "message": message})
}

func cobaltWriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// client checks the client_id / client_secret headers.
func (c *Cobalt) client(w http.ResponseWriter, r *http.Request) bool {
	if !belvoEqual(r.Header.Get("client_id"), c.opts.ClientID) ||
		!belvoEqual(r.Header.Get("client_secret"), c.opts.ClientSecret) {
		cobaltWriteError(w, http.StatusUnauthorized, "unauthorized", "Invalid client credentials")
		return false
	}
	return true
}

// user checks the client headers and resolves the access_token header.
func (c *Cobalt) user(w http.ResponseWriter, r *http.Request) (*cobaltConn, bool) {
	if !c.client(w, r) {
		return nil, false
	}
	tok := r.Header.Get("access_token")
	if tok == "" {
		cobaltWriteError(w, http.StatusBadRequest, "validation_error", "access_token header is required")
		return nil, false
	}
	c.mu.Lock()
	cc, ok := c.byToken[tok]
	c.mu.Unlock()
	if !ok {
		cobaltWriteError(w, http.StatusForbidden, "invalid_access_token", "Invalid access token")
		return nil, false
	}
	return cc, true
}

func (c *Cobalt) handleLinkToken(w http.ResponseWriter, r *http.Request) {
	if !c.client(w, r) {
		return
	}
	var req struct {
		UserID      string `json:"user_id"`
		OrgID       string `json:"org_id"`
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil {
		cobaltWriteError(w, http.StatusBadRequest, "validation_error", "Request body must be JSON")
		return
	}
	if req.UserID == "" || req.OrgID == "" {
		cobaltWriteError(w, http.StatusBadRequest, "validation_error", "user_id and org_id are required")
		return
	}
	t := &cobaltLinkToken{expires: c.opts.Now().Add(cobaltTokenTTL)}
	tok := "lt_" + belvoHex(16)
	c.mu.Lock()
	if req.AccessToken != "" {
		cc, ok := c.byToken[req.AccessToken]
		if !ok {
			c.mu.Unlock()
			cobaltWriteError(w, http.StatusForbidden, "invalid_access_token", "Invalid access token")
			return
		}
		t.ref = cc.ref
	}
	now := c.opts.Now()
	for k, old := range c.links {
		if old.used || now.After(old.expires) {
			delete(c.links, k)
		}
	}
	c.links[tok] = t
	c.mu.Unlock()
	cobaltWriteJSON(w, http.StatusOK, map[string]any{"success": true, "token": tok})
}

func (c *Cobalt) handleSettings(w http.ResponseWriter, r *http.Request) {
	cc, ok := c.user(w, r)
	if !ok {
		return
	}
	c.mu.Lock()
	broken, ref := cc.broken, cc.ref
	c.mu.Unlock()
	if broken {
		cobaltWriteError(w, http.StatusForbidden, "login_required", cobaltMsgLogin)
		return
	}
	cobaltWriteJSON(w, http.StatusOK, map[string]any{"success": true, "data": map[string]any{
		"access_token_reference_id": ref,
		"visit_types":               []map[string]string{{"code": "FU", "description": "Follow-up"}},
		"visit_statuses":            []map[string]string{{"code": "CONF", "description": "Confirmed"}},
		"required_patient_fields":   []string{"first_name", "last_name", "dob", "sex"},
		"timezone":                  "America/New_York",
	}})
}

func (c *Cobalt) handleSettingsUpdate(w http.ResponseWriter, r *http.Request) {
	cc, ok := c.user(w, r)
	if !ok {
		return
	}
	var req map[string]any
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil {
		cobaltWriteError(w, http.StatusBadRequest, "validation_error", "Request body must be JSON")
		return
	}
	ref, _ := req["access_token_reference_id"].(string)
	if len(req) != 1 || ref == "" {
		cobaltWriteError(w, http.StatusBadRequest, "validation_error",
			"access_token_reference_id is the only accepted field")
		return
	}
	c.mu.Lock()
	if other, taken := c.byRef[ref]; taken && other != cc {
		c.mu.Unlock()
		cobaltWriteError(w, http.StatusConflict, "conflict", "access_token_reference_id is in use")
		return
	}
	delete(c.byRef, cc.ref)
	cc.ref = ref
	c.byRef[ref] = cc
	c.mu.Unlock()
	cobaltWriteJSON(w, http.StatusOK, map[string]any{"success": true,
		"data": map[string]any{"access_token_reference_id": ref}})
}

func (c *Cobalt) handleEvents(w http.ResponseWriter, r *http.Request) {
	cc, ok := c.user(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	size := 50
	if v, err := strconv.Atoi(q.Get("page_size")); err == nil && v > 0 {
		size = min(v, 100)
	}
	page := 1
	if v, err := strconv.Atoi(q.Get("page")); err == nil && v > 0 {
		page = v
	}
	var from, to time.Time
	for _, d := range []struct {
		name string
		t    *time.Time
	}{{"start_date", &from}, {"end_date", &to}} {
		if v := q.Get(d.name); v != "" {
			t, err := time.Parse("2006-01-02", v)
			if err != nil {
				cobaltWriteError(w, http.StatusBadRequest, "validation_error", d.name+" must be YYYY-MM-DD")
				return
			}
			*d.t = t
		}
	}
	sortKey := q.Get("sort")
	if sortKey != "" && sortKey != "created_at" && sortKey != "-created_at" {
		cobaltWriteError(w, http.StatusBadRequest, "validation_error", "sort must be created_at or -created_at")
		return
	}
	typ, delivery, job := q.Get("event_type"), q.Get("delivery_status"), q.Get("job_id")
	if delivery == "" {
		delivery = q.Get("status")
	}

	c.mu.Lock()
	var match []*cobaltEvent
	for _, ev := range cc.events {
		day := ev.created.Truncate(24 * time.Hour)
		if (typ != "" && ev.typ != typ) || (delivery != "" && ev.status != delivery) ||
			(job != "" && ev.jobID != job) || (!from.IsZero() && day.Before(from)) ||
			(!to.IsZero() && day.After(to)) {
			continue
		}
		match = append(match, ev)
	}
	if sortKey != "created_at" { // newest first by default
		sort.SliceStable(match, func(i, j int) bool { return match[i].seq > match[j].seq })
	}
	total := len(match)
	pages := max((total+size-1)/size, 1)
	start := min((page-1)*size, total)
	end := min(start+size, total)
	out := make([]map[string]any, 0, end-start)
	for _, ev := range match[start:end] {
		out = append(out, c.historyJSON(ev))
	}
	c.mu.Unlock()
	cobaltWriteJSON(w, http.StatusOK, map[string]any{"success": true, "webhook_events": out,
		"pagination": map[string]any{"current_page": page, "total_pages": pages, "total_count": total,
			"page_size": size}})
}

// historyJSON renders one event of /v1/webhook-events, in the current or the
// older shape (COBALT.md §4.5). Callers hold c.mu.
func (c *Cobalt) historyJSON(ev *cobaltEvent) map[string]any {
	var job, last any
	if ev.jobID != "" {
		job = ev.jobID
	}
	if ev.lastAttempt != nil {
		last = ev.lastAttempt.Format(cobaltTimeLayout)
	}
	created := ev.created.Format(cobaltTimeLayout)
	if c.opts.LegacyEvents {
		return map[string]any{"event_id": ev.id, "event_type": ev.typ, "webhook_url": c.webhookURL,
			"delivery_status": ev.status, "data": ev.data, "created_at": created, "job_id": job,
			"access_token_reference_id": ev.ref}
	}
	return map[string]any{"id": ev.id, "access_token_reference_id": ev.ref, "object": "event",
		"created": created, "type": ev.typ, "job_id": job, "status": ev.status,
		"delivered": ev.status == "success", "delivery_attempts": ev.attempts,
		"last_delivery_attempt": last, "response_status_code": ev.respStatus, "data": ev.data}
}

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
