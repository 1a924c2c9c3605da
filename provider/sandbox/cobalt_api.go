package sandbox

import (
	"encoding/json"
	"io"
	"net/http"
	"sort"
	"strconv"
	"time"
)

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
		UserID            string `json:"user_id"`
		OrgID             string `json:"org_id"`
		AccessToken       string `json:"access_token"`
		EMRName           string `json:"emr_name"`
		EMRInstanceDomain string `json:"emr_instance_domain"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil {
		cobaltWriteError(w, http.StatusBadRequest, "validation_error", "Request body must be JSON")
		return
	}
	// Both are required: user_id our end user, org_id "the organization
	// from your system (e.g., clinic or hospital ID)"; emr_name and
	// emr_instance_domain create an org_id Cobalt does not know yet
	// (https://docs.usecobalt.com/api-reference/link/create-token).
	if req.UserID == "" || req.OrgID == "" {
		cobaltWriteError(w, http.StatusBadRequest, "validation_error", "user_id and org_id are required")
		return
	}
	t := &cobaltLinkToken{expires: c.opts.Now().Add(cobaltTokenTTL)}
	tok := "lt_" + belvoHex(16)
	c.mu.Lock()
	// What Cobalt does with an unknown org_id and no EMR details, or with an
	// update-mode token for an access token of another organization, the
	// reference does not say: the emulator refuses both (400), so a client
	// that names the wrong organization is caught.
	if !c.orgs[req.OrgID] {
		if req.EMRName == "" || req.EMRInstanceDomain == "" {
			c.mu.Unlock()
			cobaltWriteError(w, http.StatusBadRequest, "validation_error",
				"org_id is not an organization Cobalt knows; pass emr_name and emr_instance_domain to create it")
			return
		}
		c.orgs[req.OrgID] = true
	}
	if req.AccessToken != "" {
		cc, ok := c.byToken[req.AccessToken]
		if !ok {
			c.mu.Unlock()
			cobaltWriteError(w, http.StatusForbidden, "invalid_access_token", "Invalid access token")
			return
		}
		if cc.org != req.OrgID {
			c.mu.Unlock()
			cobaltWriteError(w, http.StatusBadRequest, "validation_error",
				"access_token belongs to another organization than org_id")
			return
		}
		t.ref = cc.ref
	}
	c.lastUser, c.lastOrg = req.UserID, req.OrgID
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

// handleExchange is GET /v1/link/token/exchange?public_token=…: "GET with a
// query parameter", answering {"success": true, "token": <access_token>}
// (https://docs.usecobalt.com/api-reference/link/exchange-token). In update
// mode it answers the connection's access token as it was: the reference
// does not say whether update mode issues a new one, and the emulator
// keeps it, as Plaid's update mode (which Cobalt's mirrors) does. A public
// token works once; an unknown, spent or expired one gets 400 (the
// reference names no code for it).
func (c *Cobalt) handleExchange(w http.ResponseWriter, r *http.Request) {
	if !c.client(w, r) {
		return
	}
	pt := r.URL.Query().Get("public_token")
	if pt == "" {
		cobaltWriteError(w, http.StatusBadRequest, "validation_error", "public_token is required")
		return
	}
	c.mu.Lock()
	p, ok := c.publics[pt]
	var cc *cobaltConn
	if ok && !p.used && !c.opts.Now().After(p.expires) {
		cc = c.byRef[p.ref]
	}
	if cc == nil {
		c.mu.Unlock()
		cobaltWriteError(w, http.StatusBadRequest, "invalid_public_token", "Invalid or expired public token")
		return
	}
	p.used = true
	tok := cc.token
	c.mu.Unlock()
	cobaltWriteJSON(w, http.StatusOK, map[string]any{"success": true, "token": tok})
}

func (c *Cobalt) handleSettings(w http.ResponseWriter, r *http.Request) {
	cc, ok := c.user(w, r)
	if !ok {
		return
	}
	// The settings are Cobalt's, not the EHR's: they answer 200 whether or
	// not the stored EHR login works (a broken one is reported by account
	// events, https://docs.usecobalt.com/docs/webhooks/account-events).
	c.mu.Lock()
	ref := cc.ref
	c.mu.Unlock()
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
	out := make([]any, 0, end-start)
	for _, ev := range match[start:end] {
		out = append(out, c.historyJSON(ev))
	}
	c.mu.Unlock()
	cobaltWriteJSON(w, http.StatusOK, map[string]any{"success": true, "webhook_events": out,
		"pagination": map[string]any{"current_page": page, "total_pages": pages, "total_count": total,
			"page_size": size}})
}

// historyJSON renders one event of /v1/webhook-events, in the current or the
// older shape (COBALT.md §4.5), or as it was given to SendRawEvent. Callers
// hold c.mu.
func (c *Cobalt) historyJSON(ev *cobaltEvent) any {
	if ev.raw != nil {
		return json.RawMessage(ev.raw)
	}
	var job, last any
	if ev.jobID != "" {
		job = ev.jobID
	}
	if ev.lastAttempt != nil {
		last = c.timeText(*ev.lastAttempt)
	}
	created := c.timeText(ev.created)
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
