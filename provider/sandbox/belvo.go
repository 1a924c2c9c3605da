package sandbox

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
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
	root.HandleFunc("GET /widget/{$}", b.handleWidget)
	root.HandleFunc("POST /widget/{$}", b.handleWidgetSubmit)

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

// SignWebhook returns the Authorization header Belvo sends with a webhook
// body: Belvo signs nothing, it repeats the configured value. It sends
// nothing and never fails.
func (b *Belvo) SignWebhook(body []byte) (string, error) {
	return b.opts.WebhookAuthorization, nil
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

func (b *Belvo) authorized(r *http.Request) bool {
	id, pw, ok := r.BasicAuth()
	return ok && belvoEqual(id, b.opts.SecretID) && belvoEqual(pw, b.opts.SecretPassword)
}

func belvoEqual(a, b string) bool {
	ha, hb := sha256.Sum256([]byte(a)), sha256.Sum256([]byte(b))
	return subtle.ConstantTimeCompare(ha[:], hb[:]) == 1
}

// belvoAuthFailed is Belvo's answer to wrong keys.
func belvoAuthFailed() belvoErrorItem {
	return belvoErrorItem{status: http.StatusUnauthorized, Code: "authentication_failed", Message: "Invalid Secret Keys"}
}

// belvoFilters are the list filters the emulator applies; others are ignored.
func belvoFilters() []string {
	return []string{"status", "status__in", "id", "id__in", "institution", "institution__in",
		"external_id", "external_id__in", "access_mode"}
}

func (b *Belvo) handleList(w http.ResponseWriter, r *http.Request) {
	if !b.authorized(r) {
		belvoWriteErrors(w, belvoAuthFailed())
		return
	}
	q := r.URL.Query()
	size := b.opts.DefaultPageSize
	if v, err := strconv.Atoi(q.Get("page_size")); err == nil && v > 0 {
		size = min(v, belvoMaxPageSize)
	}
	page := 1
	if v := q.Get("page"); v != "" {
		p, err := strconv.Atoi(v)
		if err != nil || p < 1 {
			belvoWriteErrors(w, belvoErrorItem{status: http.StatusNotFound, Code: "not_found", Message: "Invalid page."})
			return
		}
		page = p
	}

	b.mu.Lock()
	links := b.listLocked(q)
	count := len(links)
	start := (page - 1) * size
	if page > 1 && start >= count {
		b.mu.Unlock()
		belvoWriteErrors(w, belvoErrorItem{status: http.StatusNotFound, Code: "not_found", Message: "Invalid page."})
		return
	}
	end := min(start+size, count)
	var buf bytes.Buffer
	buf.Grow((end - start) * 520)
	fmt.Fprintf(&buf, `{"count":%d,"next":%s,"previous":%s,"results":[`, count,
		belvoPageURL(r, q, page+1, end < count), belvoPageURL(r, q, page-1, page > 1))
	for i, l := range links[start:end] {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.Write(l.raw)
	}
	buf.WriteString("]}")
	b.mu.Unlock()

	w.Header().Set("Content-Type", "application/json")
	w.Write(buf.Bytes())
}

// listLocked returns the links in (created_at, id) order that match the
// request's filters; filtered results are cached until the next change.
func (b *Belvo) listLocked(q url.Values) []*belvoLink {
	if b.unsorted {
		slices.SortStableFunc(b.order, func(x, y *belvoLink) int {
			if belvoLess(x, y) {
				return -1
			}
			if belvoLess(y, x) {
				return 1
			}
			return 0
		})
		b.unsorted = false
		clear(b.filtered)
	}
	var key strings.Builder
	for _, f := range belvoFilters() {
		if v := q.Get(f); v != "" {
			fmt.Fprintf(&key, "%s=%s&", f, v)
		}
	}
	if key.Len() == 0 {
		return b.order
	}
	if cached, ok := b.filtered[key.String()]; ok {
		return cached
	}
	set := func(name string) map[string]bool {
		v := q.Get(name)
		if v == "" {
			return nil
		}
		m := map[string]bool{}
		for _, s := range strings.Split(v, ",") {
			m[strings.TrimSpace(s)] = true
		}
		return m
	}
	one := func(name string) map[string]bool {
		if v := q.Get(name); v != "" {
			return map[string]bool{v: true}
		}
		return nil
	}
	sets := [][]map[string]bool{
		{one("status"), set("status__in")},
		{one("id"), set("id__in")},
		{one("institution"), set("institution__in")},
		{one("external_id"), set("external_id__in")},
		{one("access_mode")},
	}
	field := func(l *belvoLink, i int) string {
		return [...]string{l.status, l.id, l.institution, l.externalID, "recurrent"}[i]
	}
	out := []*belvoLink{}
	for _, l := range b.order {
		keep := true
		for i, group := range sets {
			for _, s := range group {
				if s != nil && !s[field(l, i)] {
					keep = false
				}
			}
		}
		if keep {
			out = append(out, l)
		}
	}
	b.filtered[key.String()] = out
	return out
}

// belvoPageURL is the absolute URL of page p as a JSON string, or null.
func belvoPageURL(r *http.Request, q url.Values, p int, ok bool) string {
	if !ok {
		return "null"
	}
	v := url.Values{}
	for k, vs := range q {
		v[k] = vs
	}
	v.Set("page", strconv.Itoa(p))
	u := url.URL{Scheme: "http", Host: r.Host, Path: r.URL.Path, RawQuery: v.Encode()}
	s, _ := json.Marshal(u.String())
	return string(s)
}

func (b *Belvo) handleLink(w http.ResponseWriter, r *http.Request) {
	if !b.authorized(r) {
		belvoWriteErrors(w, belvoAuthFailed())
		return
	}
	b.mu.Lock()
	l, ok := b.links[r.PathValue("id")]
	var raw []byte
	var fail *belvoErrorItem
	if ok {
		raw, fail = l.raw, l.fail
	}
	b.mu.Unlock()
	switch {
	case !ok:
		belvoWriteErrors(w, belvoErrorItem{status: http.StatusNotFound, Code: "not_found", Message: "Not found"})
	case fail != nil:
		belvoWriteErrors(w, *fail)
	default:
		w.Header().Set("Content-Type", "application/json")
		w.Write(raw)
	}
}

func (b *Belvo) handleToken(w http.ResponseWriter, r *http.Request) {
	var req struct {
		ID       *string `json:"id"`
		Password *string `json:"password"`
		LinkID   *string `json:"link_id"`
		Scopes   string  `json:"scopes"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil {
		belvoWriteErrors(w, belvoErrorItem{status: http.StatusBadRequest, Code: "parse_error",
			Message: "JSON parse error"})
		return
	}
	for _, f := range []struct {
		name string
		v    *string
	}{{"id", req.ID}, {"password", req.Password}} {
		switch {
		case f.v == nil:
			belvoWriteErrors(w, belvoErrorItem{status: http.StatusBadRequest, Code: "required",
				Message: "This field is required.", Field: f.name})
			return
		case *f.v == "":
			belvoWriteErrors(w, belvoErrorItem{status: http.StatusBadRequest, Code: "blank",
				Message: "This field may not be blank.", Field: f.name})
			return
		}
	}
	if !belvoEqual(*req.ID, b.opts.SecretID) || !belvoEqual(*req.Password, b.opts.SecretPassword) {
		belvoWriteErrors(w, belvoAuthFailed())
		return
	}
	linkID := ""
	if req.LinkID != nil {
		linkID = *req.LinkID
	}
	access, refresh := belvoHex(24), belvoHex(24)
	b.mu.Lock()
	if linkID != "" {
		l, ok := b.links[linkID]
		if !ok {
			b.mu.Unlock()
			belvoWriteErrors(w, belvoErrorItem{status: http.StatusBadRequest, Code: "does_not_exist",
				Message: "Object with id=" + linkID + " does not exist.", Field: "link_id"})
			return
		}
		if l.fail != nil {
			fail := *l.fail
			b.mu.Unlock()
			belvoWriteErrors(w, fail)
			return
		}
	}
	now := b.opts.Now()
	for tok, t := range b.tokens {
		if now.After(t.expires) {
			delete(b.tokens, tok)
		}
	}
	b.tokens[access] = &belvoToken{linkID: linkID, expires: now.Add(belvoTokenTTL)}
	b.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	json.NewEncoder(w).Encode(map[string]string{"access": access, "refresh": refresh})
}

// belvoWriteErrors answers with a Belvo error array.
func belvoWriteErrors(w http.ResponseWriter, e belvoErrorItem) {
	if e.RequestID == "" {
		e.RequestID = belvoHex(16)
	}
	if e.status == 0 {
		e.status = http.StatusBadRequest
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.status)
	json.NewEncoder(w).Encode([]belvoErrorItem{e})
}

// sendWebhook POSTs one webhook (BELVO.md §6.2) and retries once on a 5xx
// or a transport failure.
func (b *Belvo) sendWebhook(typ, process, code, linkID, externalID string, data map[string]any) error {
	b.mu.Lock()
	target := b.webhookURL
	b.mu.Unlock()
	if target == "" {
		return nil
	}
	var ext any
	if externalID != "" {
		ext = externalID
	}
	body, err := json.Marshal(map[string]any{"webhook_id": belvoHex(16), "webhook_type": typ,
		"process_type": process, "webhook_code": code, "link_id": linkID, "request_id": belvoUUID(),
		"external_id": ext, "data": data})
	if err != nil {
		return fmt.Errorf("encoding the webhook: %w", err)
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("Authorization", b.opts.WebhookAuthorization)
	_, _, err = hookDeliver(b.opts.Client, target, body, h)
	return err
}

// hookDeliver POSTs a webhook body with headers, retrying once after a
// second on a 429, a 5xx or a transport failure (Cobalt's documented policy;
// Belvo documents more retries, which a loopback demo does not need). It
// reports the attempts made and the last HTTP status (0 when none).
func hookDeliver(client *http.Client, target string, body []byte, h http.Header) (attempts, status int, err error) {
	var last error
	for attempt := 1; attempt <= 2; attempt++ {
		attempts = attempt
		if attempt > 1 {
			time.Sleep(time.Second)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
		if err != nil {
			cancel()
			return attempts, 0, fmt.Errorf("building the webhook request: %w", err)
		}
		for k, vs := range h {
			req.Header[k] = vs
		}
		req.Header.Set("webhook-attempt", strconv.Itoa(attempt))
		resp, err := client.Do(req)
		if err == nil {
			status = resp.StatusCode
			io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
			resp.Body.Close()
		}
		cancel()
		switch {
		case err != nil:
			last = fmt.Errorf("posting the webhook to %s: %w", target, err)
		case status >= 200 && status < 300:
			return attempts, status, nil
		case status == http.StatusTooManyRequests || status >= 500:
			last = fmt.Errorf("posting the webhook to %s: HTTP %d", target, status)
		default:
			return attempts, status, fmt.Errorf("posting the webhook to %s: HTTP %d", target, status)
		}
	}
	return attempts, status, last
}

// belvoHex is n random bytes in hex.
func belvoHex(n int) string {
	p := make([]byte, n)
	rand.Read(p)
	return hex.EncodeToString(p)
}

// belvoUUID is a random (version 4) UUID.
func belvoUUID() string {
	var p [16]byte
	rand.Read(p[:])
	p[6] = p[6]&0x0f | 0x40
	p[8] = p[8]&0x3f | 0x80
	h := hex.EncodeToString(p[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

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
