package sandbox_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/relink/relink/provider/sandbox"
)

// cobaltHook is one request the test receiver got.
type cobaltHook struct {
	header http.Header
	raw    []byte
	body   map[string]any
}

// newCobaltEmu starts an emulator whose webhooks and repaired callbacks land
// in the returned channels.
func newCobaltEmu(t *testing.T, legacy bool) (*sandbox.Cobalt, chan cobaltHook, chan cobaltHook) {
	t.Helper()
	hooks, repaired := make(chan cobaltHook, 256), make(chan cobaltHook, 16)
	recv := func(ch chan cobaltHook) *httptest.Server {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			raw, _ := io.ReadAll(r.Body)
			var m map[string]any
			if err := json.Unmarshal(raw, &m); err != nil {
				t.Errorf("delivered body: %v", err)
			}
			ch <- cobaltHook{header: r.Header, raw: raw, body: m}
		}))
		t.Cleanup(s.Close)
		return s
	}
	c, err := sandbox.NewCobalt(sandbox.CobaltOptions{WebhookURL: recv(hooks).URL,
		OnRepairedURL: recv(repaired).URL, LegacyEvents: legacy})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, hooks, repaired
}

func cobaltCall(t *testing.T, c *sandbox.Cobalt, method, path, token, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, c.URL()+path, strings.NewReader(body))
	id, secret := c.Credentials()
	req.Header["client_id"] = []string{id}
	req.Header["client_secret"] = []string{secret}
	if token != "" {
		req.Header["access_token"] = []string{token}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("%s %s: body is not a JSON object: %s", method, path, raw)
	}
	return resp.StatusCode, m
}

func wantCobaltError(t *testing.T, status int, m map[string]any, wantStatus int, wantCode string) {
	t.Helper()
	if status != wantStatus || m["success"] != false || m["error"] != wantCode {
		t.Errorf("got %d %v, want %d error %s", status, m, wantStatus, wantCode)
	}
	if _, ok := m["message"].(string); !ok {
		t.Errorf("message: %v", m["message"])
	}
}

func cobaltBroken(c *sandbox.Cobalt, id string) bool {
	conn, ok := c.Connection(id)
	return ok && conn.Code == "login_required"
}

func cobaltHMAC(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

func TestCobaltAuth(t *testing.T) {
	c, _, _ := newCobaltEmu(t, false)
	conn, _ := c.AddConnection(sandbox.Connection{ID: "clinic_1"})
	req, _ := http.NewRequest(http.MethodGet, c.URL()+"/v1/settings", nil)
	req.Header["client_id"] = []string{"ci_test_sandbox"}
	req.Header["client_secret"] = []string{"wrong"}
	req.Header["access_token"] = []string{conn.AccessToken}
	resp, _ := http.DefaultClient.Do(req)
	var m map[string]any
	json.NewDecoder(resp.Body).Decode(&m)
	resp.Body.Close()
	wantCobaltError(t, resp.StatusCode, m, 401, "unauthorized")

	status, m := cobaltCall(t, c, "GET", "/v1/settings", "", "")
	wantCobaltError(t, status, m, 400, "validation_error")
	status, m = cobaltCall(t, c, "GET", "/v1/settings", "not-a-token", "")
	wantCobaltError(t, status, m, 403, "invalid_access_token")
}

func TestCobaltSettingsAndLoginRequired(t *testing.T) {
	c, _, _ := newCobaltEmu(t, false)
	conn, _ := c.AddConnection(sandbox.Connection{ID: "clinic_1"})
	status, m := cobaltCall(t, c, "GET", "/v1/settings", conn.AccessToken, "")
	data, _ := m["data"].(map[string]any)
	if status != 200 || m["success"] != true || data["access_token_reference_id"] != "clinic_1" {
		t.Fatalf("settings: %d %v", status, m)
	}
	for k, want := range map[string]string{"visit_types": "[]interface {}", "visit_statuses": "[]interface {}",
		"required_patient_fields": "[]interface {}", "timezone": "string"} {
		if got := typeName(data[k]); got != want {
			t.Errorf("data.%s: %s, want %s", k, got, want)
		}
	}
	// The settings are Cobalt's own and say nothing of the EHR login: a
	// token whose history holds login_required still reads them (200).
	c.Break("clinic_1", "login_required", "")
	status, m = cobaltCall(t, c, "GET", "/v1/settings", conn.AccessToken, "")
	if status != 200 || m["success"] != true || !cobaltBroken(c, "clinic_1") {
		t.Errorf("settings of a broken login: %d %v", status, m)
	}
	_, m = cobaltCall(t, c, "GET", "/v1/webhook-events", conn.AccessToken, "")
	if evs, _ := m["webhook_events"].([]any); len(evs) != 1 || evs[0].(map[string]any)["type"] != "access_token.login_required" {
		t.Errorf("history of a broken login: %v", m)
	}

	status, m = cobaltCall(t, c, "POST", "/v1/settings", conn.AccessToken, `{"access_token_reference_id":"clinic_9"}`)
	data, _ = m["data"].(map[string]any)
	if status != 200 || data["access_token_reference_id"] != "clinic_9" || !cobaltBroken(c, "clinic_9") {
		t.Errorf("settings update: %d %v", status, m)
	}
	status, m = cobaltCall(t, c, "POST", "/v1/settings", conn.AccessToken, `{"timezone":"UTC"}`)
	wantCobaltError(t, status, m, 400, "validation_error")
}

func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "bool"
	case []any:
		return "[]interface {}"
	case map[string]any:
		return "object"
	}
	return "?"
}

func TestCobaltLinkToken(t *testing.T) {
	c, _, _ := newCobaltEmu(t, false)
	conn, _ := c.AddConnection(sandbox.Connection{ID: "clinic_1"})
	status, m := cobaltCall(t, c, "POST", "/v1/link/token/create", "",
		`{"user_id":"user_1","org_id":"`+c.OrgID()+`","access_token":"`+conn.AccessToken+`"}`)
	if tok, _ := m["token"].(string); status != 200 || m["success"] != true || !strings.HasPrefix(tok, "lt_") {
		t.Errorf("link token: %d %v", status, m)
	}
	if u, o := c.LastLinkRequest(); u != "user_1" || o != c.OrgID() {
		t.Errorf("last request: %s %s", u, o)
	}
	status, m = cobaltCall(t, c, "POST", "/v1/link/token/create", "", `{"org_id":"`+c.OrgID()+`"}`)
	wantCobaltError(t, status, m, 400, "validation_error")
	status, m = cobaltCall(t, c, "POST", "/v1/link/token/create", "", `{"user_id":"u","org_id":"`+c.OrgID()+`","access_token":"nope"}`)
	wantCobaltError(t, status, m, 403, "invalid_access_token")

	// org_id is our organization: the connection's reference id is not one.
	status, m = cobaltCall(t, c, "POST", "/v1/link/token/create", "",
		`{"user_id":"user_1","org_id":"clinic_1","access_token":"`+conn.AccessToken+`"}`)
	wantCobaltError(t, status, m, 400, "validation_error")
	// A new organization comes with its EMR; a connection of one
	// organization is not updated under another.
	status, m = cobaltCall(t, c, "POST", "/v1/link/token/create", "",
		`{"user_id":"u2","org_id":"org_new","emr_name":"eClinicalWorks","emr_instance_domain":"https://ehr.new.test"}`)
	if status != 200 {
		t.Errorf("new organization: %d %v", status, m)
	}
	status, m = cobaltCall(t, c, "POST", "/v1/link/token/create", "",
		`{"user_id":"user_1","org_id":"org_new","access_token":"`+conn.AccessToken+`"}`)
	wantCobaltError(t, status, m, 400, "validation_error")
	other, _ := c.AddConnectionIn("org_east", sandbox.Connection{ID: "clinic_e"})
	status, _ = cobaltCall(t, c, "POST", "/v1/link/token/create", "",
		`{"user_id":"u3","org_id":"org_east","access_token":"`+other.AccessToken+`"}`)
	if status != 200 {
		t.Errorf("connection of another organization, under its own: %d", status)
	}
}

// Event times as Cobalt writes them: an offset, unpadded on request; and a
// history can hold an event the reference does not describe.
func TestCobaltEventTimesAndRawEvents(t *testing.T) {
	hooks := make(chan cobaltHook, 8)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		hooks <- cobaltHook{header: r.Header, raw: raw}
	}))
	defer recv.Close()
	c, err := sandbox.NewCobalt(sandbox.CobaltOptions{WebhookURL: recv.URL, Zone: time.FixedZone("PDT", -7*3600),
		UnpaddedOffset: true, Now: func() time.Time { return time.Date(2024, 4, 5, 15, 0, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	conn, _ := c.AddConnection(sandbox.Connection{ID: "clinic_1"})
	c.Break("clinic_1", "login_required", "")
	h := <-hooks
	if !bytes.Contains(h.raw, []byte(`"created":"2024-04-05T08:00:00.000-7:00"`)) || h.header.Get("webhook-timestamp") != "2024-04-05T08:00:00.000-7:00" {
		t.Errorf("unpadded offset: %s %v", h.raw, h.header)
	}
	bad := `{"id":"evt_bad","object":"event","type":"access_token.login_required","created":"yesterday"}`
	if err := c.SendRawEvent("clinic_1", []byte(bad)); err != nil {
		t.Fatal(err)
	}
	if h := <-hooks; string(h.raw) != bad || h.header.Get("Cobalt-Verification") != cobaltHMAC(c.WebhookSecret(), h.raw) {
		t.Errorf("raw delivery %s %v", h.raw, h.header)
	}
	_, m := cobaltCall(t, c, "GET", "/v1/webhook-events?sort=created_at", conn.AccessToken, "")
	evs, _ := m["webhook_events"].([]any)
	if len(evs) != 2 || evs[0].(map[string]any)["created"] != "2024-04-05T08:00:00.000-7:00" || evs[1].(map[string]any)["created"] != "yesterday" {
		t.Errorf("history %v", m)
	}
	if err := c.SendRawEvent("clinic_1", []byte(`{"id":`)); err == nil {
		t.Error("a raw event that is not JSON was accepted")
	}
}

func TestCobaltWebhooksAndHistory(t *testing.T) {
	c, hooks, _ := newCobaltEmu(t, false)
	c.AddConnection(sandbox.Connection{ID: "clinic_1", AccessToken: "tok-1", Institution: "https://ehr.example.com"})

	if err := c.Break("clinic_1", "password_expired", "Your EHR password expired."); err != nil {
		t.Fatal(err)
	}
	h := <-hooks
	if got := h.header.Get("Cobalt-Verification"); got != cobaltHMAC(c.WebhookSecret(), h.raw) {
		t.Errorf("Cobalt-Verification %q does not sign the body", got)
	}
	if h.header.Get("webhook-id") != h.body["id"] || h.header.Get("webhook-attempt") != "1" {
		t.Errorf("delivery headers %v", h.header)
	}
	if _, err := time.Parse(time.RFC3339, h.header.Get("webhook-timestamp")); err != nil {
		t.Errorf("webhook-timestamp: %v", err)
	}
	for k, want := range map[string]any{"access_token_reference_id": "clinic_1", "object": "event",
		"type": "access_token.login_required"} {
		if h.body[k] != want {
			t.Errorf("%s = %v, want %v", k, h.body[k], want)
		}
	}
	if _, ok := h.body["job_id"]; ok {
		t.Error("account event carries job_id")
	}
	if _, err := time.Parse(time.RFC3339, h.body["created"].(string)); err != nil {
		t.Errorf("created: %v", err)
	}
	data := h.body["data"].(map[string]any)
	if data["error_type"] != "password_expired" || data["emr_instance_domain"] != "https://ehr.example.com" ||
		data["access_token_reference_id"] != "clinic_1" || data["message"] != "Your EHR password expired." {
		t.Errorf("data %v", data)
	}

	c.Break("clinic_1", "password_change_warning", "")
	h = <-hooks
	if h.body["type"] != "access_token.password_change_warning" {
		t.Errorf("warning event %v", h.body)
	}
	if _, ok := h.body["data"].(map[string]any)["error_type"]; ok {
		t.Error("warning carries error_type")
	}
	c.SendEvent("clinic_1", "appointment.failed", map[string]any{"failure_reason": "slot taken",
		"reasons": []any{map[string]any{"code": "SLOT_TAKEN", "description": "The slot is taken"}}})
	h = <-hooks
	if h.body["type"] != "appointment.failed" || h.body["job_id"] == nil {
		t.Errorf("operation event %v", h.body)
	}

	// The history: newest first by default, every field of COBALT.md §4.5.
	status, m := cobaltCall(t, c, "GET", "/v1/webhook-events", "tok-1", "")
	evs, _ := m["webhook_events"].([]any)
	if status != 200 || m["success"] != true || len(evs) != 3 {
		t.Fatalf("history: %d %v", status, m)
	}
	first := evs[0].(map[string]any)
	want := map[string]string{"id": "string", "access_token_reference_id": "string", "object": "string",
		"created": "string", "type": "string", "job_id": "string", "status": "string", "delivered": "bool",
		"delivery_attempts": "number", "last_delivery_attempt": "string", "response_status_code": "number",
		"data": "object"}
	for k, w := range want {
		if got := typeName(first[k]); got != w {
			t.Errorf("event.%s: %s, want %s", k, got, w)
		}
	}
	if first["type"] != "appointment.failed" || first["delivered"] != true || first["status"] != "success" {
		t.Errorf("newest event %v", first)
	}
	if evs[2].(map[string]any)["job_id"] != nil {
		t.Errorf("account event job_id %v, want null", evs[2].(map[string]any)["job_id"])
	}
	pg := m["pagination"].(map[string]any)
	for _, k := range []string{"current_page", "total_pages", "total_count", "page_size"} {
		if typeName(pg[k]) != "number" {
			t.Errorf("pagination.%s: %v", k, pg[k])
		}
	}

	q := url.Values{"event_type": {"access_token.login_required"}, "sort": {"created_at"},
		"start_date": {time.Now().UTC().Format("2006-01-02")}}
	_, m = cobaltCall(t, c, "GET", "/v1/webhook-events?"+q.Encode(), "tok-1", "")
	if evs := m["webhook_events"].([]any); len(evs) != 1 {
		t.Errorf("event_type filter: %d events", len(evs))
	}
	_, m = cobaltCall(t, c, "GET", "/v1/webhook-events?page_size=2&page=2&sort=created_at", "tok-1", "")
	pg = m["pagination"].(map[string]any)
	if evs := m["webhook_events"].([]any); len(evs) != 1 || pg["total_pages"] != float64(2) || pg["current_page"] != float64(2) {
		t.Errorf("paging: %v", m)
	}
	status, m = cobaltCall(t, c, "GET", "/v1/webhook-events?start_date=yesterday", "tok-1", "")
	wantCobaltError(t, status, m, 400, "validation_error")
}

func TestCobaltLegacyHistoryAndPending(t *testing.T) {
	c, _, _ := newCobaltEmu(t, true)
	// Seeded broken: its event is in the history, never delivered.
	c.AddConnection(sandbox.Connection{ID: "clinic_2", AccessToken: "tok-2", Code: "login_required", Reason: "account_locked"})
	_, m := cobaltCall(t, c, "GET", "/v1/webhook-events", "tok-2", "")
	evs := m["webhook_events"].([]any)
	if len(evs) != 1 {
		t.Fatalf("history %v", m)
	}
	e := evs[0].(map[string]any)
	for _, k := range []string{"event_id", "event_type", "webhook_url", "delivery_status", "data", "created_at", "job_id", "access_token_reference_id"} {
		if _, ok := e[k]; !ok {
			t.Errorf("legacy event lacks %s: %v", k, e)
		}
	}
	if e["event_type"] != "access_token.login_required" || e["delivery_status"] != "pending" ||
		e["data"].(map[string]any)["error_type"] != "account_locked" {
		t.Errorf("legacy event %v", e)
	}
}

func TestCobaltLinkPage(t *testing.T) {
	c, _, repaired := newCobaltEmu(t, false)
	conn, _ := c.AddConnection(sandbox.Connection{ID: "clinic_3", Institution: "https://ehr.acme.test"})
	c.Break("clinic_3", "login_required", "Please reconnect your EHR.")
	_, m := cobaltCall(t, c, "POST", "/v1/link/token/create", "",
		`{"user_id":"u3","org_id":"`+c.OrgID()+`","access_token":"`+conn.AccessToken+`"}`)
	page := c.URL() + "/link?token=" + url.QueryEscape(m["token"].(string))

	resp, err := http.Get(page)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Contains(body, []byte("https://ehr.acme.test")) ||
		!bytes.Contains(body, []byte("Please reconnect your EHR.")) || !bytes.Contains(body, []byte("<button")) {
		t.Fatalf("link page: %d %s", resp.StatusCode, body)
	}
	form := url.Values{"token": {m["token"].(string)}, "password": {"new"}}
	resp, err = http.PostForm(c.URL()+"/link", form)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Contains(body, []byte("Reconnected")) {
		t.Fatalf("link submit: %d %s", resp.StatusCode, body)
	}
	h := <-repaired
	if h.body["access_token_reference_id"] != "clinic_3" ||
		h.header.Get("Cobalt-Verification") != cobaltHMAC(c.WebhookSecret(), h.raw) {
		t.Errorf("repaired callback %v %v", h.body, h.header)
	}
	if status, _ := cobaltCall(t, c, "GET", "/v1/settings", conn.AccessToken, ""); status != 200 || cobaltBroken(c, "clinic_3") {
		t.Errorf("after Link: settings %d, broken %v", status, cobaltBroken(c, "clinic_3"))
	}
	resp, _ = http.PostForm(c.URL()+"/link", form)
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("reused link token: %d", resp.StatusCode)
	}
}

func TestCobaltFaultBodies(t *testing.T) {
	c, _, _ := newCobaltEmu(t, false)
	conn, _ := c.AddConnection(sandbox.Connection{})
	c.Faults.TooManyRequests(1, time.Second)
	status, m := cobaltCall(t, c, "GET", "/v1/settings", conn.AccessToken, "")
	wantCobaltError(t, status, m, 429, "rate_limited")
	c.Faults.ServerErrors(1)
	status, m = cobaltCall(t, c, "GET", "/v1/settings", conn.AccessToken, "")
	wantCobaltError(t, status, m, 500, "internal_error")
}

func TestCobaltSignWebhook(t *testing.T) {
	c, _, _ := newCobaltEmu(t, false)
	body := []byte(`{"id":"e1"}`)
	if got, err := c.SignWebhook(body); err != nil || got != cobaltHMAC(c.WebhookSecret(), body) {
		t.Errorf("SignWebhook %q", got)
	}
}

func TestCobaltSetURLsAndConnection(t *testing.T) {
	c, err := sandbox.NewCobalt(sandbox.CobaltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.AddConnection(sandbox.Connection{ID: "k1", AccessToken: "tk1", UserRef: "u1", Institution: "https://ehr"})
	if err := c.Break("k1", "account_locked", "locked"); err != nil {
		t.Errorf("Break without a webhook URL: %v", err)
	}
	if conn, ok := c.Connection("k1"); !ok || conn.Code != "login_required" || conn.Reason != "account_locked" ||
		conn.AccessToken != "tk1" || conn.Institution != "https://ehr" {
		t.Errorf("Connection %+v", conn)
	}
	got := make(chan cobaltHook, 2)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		got <- cobaltHook{header: r.Header, raw: raw}
	}))
	defer recv.Close()
	c.SetWebhookURL(recv.URL)
	c.SetOnRepairedURL(recv.URL)
	c.Break("k1", "password_change_warning", "")
	if h := <-got; h.header.Get("Cobalt-Verification") != cobaltHMAC(c.WebhookSecret(), h.raw) {
		t.Error("event not signed")
	}
	c.Repair("k1")
	if h := <-got; !bytes.Contains(h.raw, []byte(`"access_token_reference_id":"k1"`)) {
		t.Errorf("callback %s", h.raw)
	}
	if conn, _ := c.Connection("k1"); conn.Code != "" {
		t.Errorf("after Repair: %+v", conn)
	}
}

// TestCobaltLinkRedirectsToTheCallback: opened with a callback_url, the
// hosted Link page completes the update and redirects there with
// ?token=<public_token> (docs.usecobalt.com/docs/link/setup), and GET
// /v1/link/token/exchange turns that public token, once, into the
// connection's access token.
func TestCobaltLinkRedirectsToTheCallback(t *testing.T) {
	c, _, _ := newCobaltEmu(t, false)
	c.SetOnRepairedURL("") // Cobalt's own Link: no callback of ours
	conn, _ := c.AddConnection(sandbox.Connection{ID: "clinic_9", Code: "login_required"})
	_, m := cobaltCall(t, c, "POST", "/v1/link/token/create", "",
		`{"user_id":"u9","org_id":"`+c.OrgID()+`","access_token":"`+conn.AccessToken+`"}`)
	lt := m["token"].(string)
	tmpl := template.Must(template.New("").Parse(c.LinkURL()))
	var page strings.Builder
	tmpl.Execute(&page, struct{ Token, CallbackURL string }{url.QueryEscape(lt), url.QueryEscape("https://relink.example/cobalt/done/T9")})

	resp, err := http.Get(page.String())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Contains(body, []byte(`action="/link?callback_url=https%3A%2F%2Frelink.example%2Fcobalt%2Fdone%2FT9"`)) {
		t.Fatalf("link page: %d %s", resp.StatusCode, body)
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err = noFollow.PostForm(c.URL()+"/link?callback_url="+url.QueryEscape("https://relink.example/cobalt/done/T9"),
		url.Values{"token": {lt}, "password": {"new"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	pt := loc.Query().Get("token")
	if resp.StatusCode != http.StatusSeeOther || loc.Host != "relink.example" || loc.Path != "/cobalt/done/T9" || !strings.HasPrefix(pt, "pt_") {
		t.Fatalf("after Link: %d to %q, want the callback with ?token=<public_token>", resp.StatusCode, loc)
	}
	if cobaltBroken(c, "clinic_9") {
		t.Error("Link did not repair the connection")
	}

	status, m := cobaltCall(t, c, "GET", "/v1/link/token/exchange?public_token="+url.QueryEscape(pt), "", "")
	if status != 200 || m["success"] != true || m["token"] != conn.AccessToken {
		t.Errorf("exchange: %d %v, want the connection's access token", status, m)
	}
	status, m = cobaltCall(t, c, "GET", "/v1/link/token/exchange?public_token="+url.QueryEscape(pt), "", "")
	wantCobaltError(t, status, m, 400, "invalid_public_token")
	status, m = cobaltCall(t, c, "GET", "/v1/link/token/exchange", "", "")
	wantCobaltError(t, status, m, 400, "validation_error")

	_, m = cobaltCall(t, c, "POST", "/v1/link/token/create", "",
		`{"user_id":"u9","org_id":"`+c.OrgID()+`","access_token":"`+conn.AccessToken+`"}`)
	resp, err = http.Get(c.URL() + "/link?token=" + url.QueryEscape(m["token"].(string)) + "&callback_url=relative/path")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("a callback_url that is not a URL: %d, want 400", resp.StatusCode)
	}
}
