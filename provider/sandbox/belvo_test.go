package sandbox_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/relink/relink/provider/sandbox"
)

// belvoHook is one webhook the test receiver got.
type belvoHook struct {
	auth string
	body map[string]any
}

// newBelvoEmu starts an emulator whose webhooks land in the returned channel.
func newBelvoEmu(t *testing.T) (*sandbox.Belvo, chan belvoHook) {
	t.Helper()
	hooks := make(chan belvoHook, 16)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m map[string]any
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
			t.Errorf("webhook body: %v", err)
		}
		hooks <- belvoHook{auth: r.Header.Get("Authorization"), body: m}
	}))
	t.Cleanup(recv.Close)
	b, err := sandbox.NewBelvo(sandbox.BelvoOptions{WebhookURL: recv.URL})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b, hooks
}

func belvoGet(t *testing.T, b *sandbox.Belvo, path string, auth bool) (int, http.Header, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, b.URL()+path, nil)
	if auth {
		req.SetBasicAuth(b.Credentials())
	}
	return belvoDo(t, req)
}

func belvoDo(t *testing.T, req *http.Request) (int, http.Header, []byte) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, body
}

// belvoStatus is a link's status as the emulator holds it ("" when valid).
func belvoStatus(b *sandbox.Belvo, id string) string {
	c, _ := b.Connection(id)
	return c.Code
}

var hex32 = regexp.MustCompile(`^[0-9a-f]{32}$`)

// wantBelvoError checks a Belvo error array (BELVO.md §5.1).
func wantBelvoError(t *testing.T, status int, body []byte, wantStatus int, wantCode string) map[string]any {
	t.Helper()
	if status != wantStatus {
		t.Fatalf("status %d, want %d: %s", status, wantStatus, body)
	}
	var arr []map[string]any
	if err := json.Unmarshal(body, &arr); err != nil || len(arr) != 1 {
		t.Fatalf("error body is not a one-element array: %s", body)
	}
	e := arr[0]
	if e["code"] != wantCode {
		t.Errorf("code %v, want %s", e["code"], wantCode)
	}
	if _, ok := e["message"].(string); !ok {
		t.Errorf("message is not a string: %v", e["message"])
	}
	if id, _ := e["request_id"].(string); !hex32.MatchString(id) {
		t.Errorf("request_id %q is not 32 hex chars", id)
	}
	return e
}

func TestBelvoLinkJSONShape(t *testing.T) {
	b, _ := newBelvoEmu(t)
	c, err := b.AddConnection(sandbox.Connection{UserRef: "user-8841", Institution: "erebor_co_retail"})
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(c.ID) {
		t.Errorf("made-up id %q is not a UUID", c.ID)
	}
	status, hdr, body := belvoGet(t, b, "/api/links/"+c.ID+"/", true)
	if status != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "application/json") {
		t.Fatalf("GET link: %d %s", status, body)
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	str := func(k string) string {
		v, ok := m[k].(string)
		if !ok {
			t.Errorf("%s: %T, want string", k, m[k])
		}
		return v
	}
	if str("id") != c.ID || str("institution") != "erebor_co_retail" || str("status") != "valid" ||
		str("access_mode") != "recurrent" || str("external_id") != "user-8841" {
		t.Errorf("unexpected link: %s", body)
	}
	str("refresh_rate")
	str("created_by")
	str("credentials_storage")
	str("stale_in")
	for _, k := range []string{"created_at", "last_accessed_at"} {
		if _, err := time.Parse(time.RFC3339Nano, str(k)); err != nil {
			t.Errorf("%s: %v", k, err)
		}
	}
	if len(str("institution_user_id")) != 44 {
		t.Errorf("institution_user_id %q: want 44 chars", m["institution_user_id"])
	}
	if fr, ok := m["fetch_resources"].([]any); !ok || len(fr) == 0 {
		t.Errorf("fetch_resources: %v", m["fetch_resources"])
	}

	// An unconfirmed link without external_id: both null.
	u, _ := b.AddConnection(sandbox.Connection{Code: "unconfirmed"})
	_, _, body = belvoGet(t, b, "/api/links/"+u.ID+"/", true)
	m = nil
	json.Unmarshal(body, &m)
	for _, k := range []string{"external_id", "last_accessed_at"} {
		if v, ok := m[k]; !ok || v != nil {
			t.Errorf("%s = %v, want null", k, v)
		}
	}
}

func TestBelvoAuthAndNotFound(t *testing.T) {
	b, _ := newBelvoEmu(t)
	status, _, body := belvoGet(t, b, "/api/links/", false)
	wantBelvoError(t, status, body, 401, "authentication_failed")

	req, _ := http.NewRequest(http.MethodGet, b.URL()+"/api/links/", nil)
	req.SetBasicAuth("belvo-sandbox-id", "wrong")
	status, _, body = belvoDo(t, req)
	wantBelvoError(t, status, body, 401, "authentication_failed")

	status, _, body = belvoGet(t, b, "/api/links/0681c503-ee47-4033-a5f8-ffe6926eb872/", true)
	wantBelvoError(t, status, body, 404, "not_found")
}

func TestBelvoListPagingAndFilters(t *testing.T) {
	b, _ := newBelvoEmu(t)
	base := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	// Added out of order: the listing sorts by created_at, then id.
	for i := 24; i >= 0; i-- {
		code := "valid"
		if i%5 == 0 {
			code = "invalid"
		}
		if _, err := b.AddConnection(sandbox.Connection{ID: "link-" + strconv.Itoa(100+i), Code: code,
			CreatedAt: base.Add(time.Duration(i) * time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	var ids []string
	next := b.URL() + "/api/links/?page_size=10"
	for pages := 0; next != ""; pages++ {
		if pages > 3 {
			t.Fatal("paging does not end")
		}
		req, _ := http.NewRequest(http.MethodGet, next, nil)
		req.SetBasicAuth(b.Credentials())
		status, _, body := belvoDo(t, req)
		if status != 200 {
			t.Fatalf("page %d: %d %s", pages+1, status, body)
		}
		var p map[string]any
		if err := json.Unmarshal(body, &p); err != nil {
			t.Fatal(err)
		}
		if p["count"] != float64(25) {
			t.Errorf("count %v, want 25", p["count"])
		}
		if prev, ok := p["previous"]; !ok || (pages == 0) != (prev == nil) {
			t.Errorf("page %d: previous = %v", pages+1, prev)
		}
		for _, r := range p["results"].([]any) {
			ids = append(ids, r.(map[string]any)["id"].(string))
		}
		switch n := p["next"].(type) {
		case nil:
			next = ""
		case string:
			if u, err := url.Parse(n); err != nil || !u.IsAbs() {
				t.Fatalf("next %q is not an absolute URL", n)
			}
			next = n
		default:
			t.Fatalf("next: %T", n)
		}
	}
	if len(ids) != 25 || ids[0] != "link-100" || ids[24] != "link-124" {
		t.Errorf("listing order: %v", ids)
	}

	status, _, body := belvoGet(t, b, "/api/links/?page=4&page_size=10", true)
	wantBelvoError(t, status, body, 404, "not_found")

	status, _, body = belvoGet(t, b, "/api/links/?status=invalid&page_size=1000", true)
	var p struct {
		Count   int
		Results []struct{ Status string }
	}
	if json.Unmarshal(body, &p); status != 200 || p.Count != 5 || p.Results[0].Status != "invalid" {
		t.Errorf("status filter: %d %+v", status, p)
	}
	_, _, body = belvoGet(t, b, "/api/links/?status__in=invalid,valid&page_size=5000", true)
	if json.Unmarshal(body, &p); p.Count != 25 || len(p.Results) != 25 {
		t.Errorf("status__in filter / page_size clamp: %+v", p.Count)
	}
}

func TestBelvoToken(t *testing.T) {
	b, _ := newBelvoEmu(t)
	l, _ := b.AddConnection(sandbox.Connection{Code: "invalid"})
	id, pw := b.Credentials()
	post := func(body string) (int, []byte) {
		req, _ := http.NewRequest(http.MethodPost, b.URL()+"/api/token/", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		status, _, out := belvoDo(t, req)
		return status, out
	}
	status, body := post(`{"id":"` + id + `","password":"` + pw + `","link_id":"` + l.ID + `","scopes":"read_institutions,write_links,read_links"}`)
	var tok map[string]any
	if json.Unmarshal(body, &tok); status != 201 {
		t.Fatalf("token: %d %s", status, body)
	}
	for _, k := range []string{"access", "refresh"} {
		if s, _ := tok[k].(string); s == "" {
			t.Errorf("%s: %v", k, tok[k])
		}
	}
	status, body = post(`{"id":"` + id + `","password":"nope","link_id":"` + l.ID + `"}`)
	wantBelvoError(t, status, body, 401, "authentication_failed")
	status, body = post(`{"password":"` + pw + `"}`)
	if e := wantBelvoError(t, status, body, 400, "required"); e["field"] != "id" {
		t.Errorf("field %v, want id", e["field"])
	}
	status, body = post(`{"id":"","password":"` + pw + `"}`)
	wantBelvoError(t, status, body, 400, "blank")
	status, body = post(`{"id":"` + id + `","password":"` + pw + `","link_id":"gone"}`)
	if e := wantBelvoError(t, status, body, 400, "does_not_exist"); e["field"] != "link_id" {
		t.Errorf("field %v, want link_id", e["field"])
	}
	status, body = post(`{`)
	wantBelvoError(t, status, body, 400, "parse_error")
}

func TestBelvoBreakRepairWebhooks(t *testing.T) {
	b, hooks := newBelvoEmu(t)
	l, _ := b.AddConnection(sandbox.Connection{UserRef: "user-1"})

	if err := b.Break(l.ID, "invalid", "Your account is locked"); err != nil {
		t.Fatal(err)
	}
	h := <-hooks
	if h.auth != b.WebhookAuthorization() || !strings.HasPrefix(h.auth, "Bearer ") {
		t.Errorf("Authorization %q", h.auth)
	}
	for k, want := range map[string]any{"webhook_type": "LINK", "webhook_code": "invalid_credentials",
		"process_type": "recurrent_update", "link_id": l.ID, "external_id": "user-1"} {
		if h.body[k] != want {
			t.Errorf("%s = %v, want %v", k, h.body[k], want)
		}
	}
	if id, _ := h.body["webhook_id"].(string); !hex32.MatchString(id) {
		t.Errorf("webhook_id %v", h.body["webhook_id"])
	}
	if _, ok := h.body["request_id"].(string); !ok {
		t.Errorf("request_id %v", h.body["request_id"])
	}
	data, _ := h.body["data"].(map[string]any)
	if data["error_code"] != "login_error" || data["error_message"] != "Your account is locked" || data["status"] != float64(400) {
		t.Errorf("data %v", data)
	}
	if belvoStatus(b, l.ID) != "invalid" {
		t.Errorf("status %s", belvoStatus(b, l.ID))
	}

	b.Break(l.ID, "token_required", "")
	h = <-hooks
	data, _ = h.body["data"].(map[string]any)
	if h.body["webhook_code"] != "token_required" || data["error_code"] != "token_required" || data["status"] != float64(428) {
		t.Errorf("token_required webhook %v", h.body)
	}

	b.Break(l.ID, "unconfirmed", "")
	if err := b.Break(l.ID, "bogus", ""); err == nil {
		t.Error("Break accepted an unknown status")
	}

	if err := b.Repair(l.ID); err != nil {
		t.Fatal(err)
	}
	h = <-hooks // no webhook for unconfirmed: the next one is the repair's
	if h.body["webhook_type"] != "ACCOUNTS" || h.body["webhook_code"] != "historical_update" ||
		h.body["process_type"] != "historical_update" || belvoStatus(b, l.ID) != "" {
		t.Errorf("repair webhook %v, status %s", h.body, belvoStatus(b, l.ID))
	}
	select {
	case h := <-hooks:
		t.Errorf("unexpected webhook %v", h.body)
	default:
	}
}

func TestBelvoInjectedErrorAndFaults(t *testing.T) {
	b, _ := newBelvoEmu(t)
	l, _ := b.AddConnection(sandbox.Connection{})
	b.InjectError(l.ID, 428, "token_required", "A MFA token is required by the institution to login")
	status, _, body := belvoGet(t, b, "/api/links/"+l.ID+"/", true)
	e := wantBelvoError(t, status, body, 428, "token_required")
	if e["link"] != l.ID || e["expiry"] != float64(9600) || !hex32.MatchString(e["session"].(string)) {
		t.Errorf("428 session data: %v", e)
	}
	if tg, ok := e["token_generation_data"].(map[string]any); !ok || tg["expects_user_input"] != true {
		t.Errorf("token_generation_data: %v", e["token_generation_data"])
	}
	b.InjectError(l.ID, 0, "", "")
	if status, _, _ := belvoGet(t, b, "/api/links/"+l.ID+"/", true); status != 200 {
		t.Errorf("after clearing: %d", status)
	}

	b.Faults.TooManyRequests(1, 2*time.Second)
	status, hdr, body := belvoGet(t, b, "/api/links/", true)
	wantBelvoError(t, status, body, 429, "too_many_requests")
	if hdr.Get("Retry-After") != "2" {
		t.Errorf("Retry-After %q", hdr.Get("Retry-After"))
	}
	b.Faults.ServerErrors(1)
	status, _, body = belvoGet(t, b, "/api/links/", true)
	wantBelvoError(t, status, body, 500, "unexpected_error")
	b.Faults.Malformed(1)
	if _, _, body = belvoGet(t, b, "/api/links/", true); json.Valid(body) {
		t.Errorf("malformed fault gave valid JSON: %s", body)
	}
	if n := b.Requests(); n != 5 {
		t.Errorf("Requests() = %d, want 5", n)
	}
}

func TestBelvoWidgetPage(t *testing.T) {
	b, hooks := newBelvoEmu(t)
	l, _ := b.AddConnection(sandbox.Connection{Code: "token_required", Institution: "banorte_mx_retail"})
	id, pw := b.Credentials()
	req, _ := http.NewRequest(http.MethodPost, b.URL()+"/api/token/",
		strings.NewReader(`{"id":"`+id+`","password":"`+pw+`","link_id":"`+l.ID+`"}`))
	_, _, body := belvoDo(t, req)
	var tok struct{ Access string }
	json.Unmarshal(body, &tok)

	page := b.WidgetURL() + "?access_token=" + url.QueryEscape(tok.Access) + "&locale=es"
	status, hdr, body := belvoGet(t, b, strings.TrimPrefix(page, b.URL()), false)
	if status != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/html") ||
		!bytes.Contains(body, []byte("banorte_mx_retail")) || !bytes.Contains(body, []byte("<button")) {
		t.Fatalf("widget page: %d %s", status, body)
	}
	b.Faults.ServerErrors(5) // faults concern the API, not the widget
	form := url.Values{"access_token": {tok.Access}, "token": {"123456"}}
	resp, err := http.PostForm(page, form)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Contains(body, []byte("Connected")) {
		t.Fatalf("widget submit: %d %s", resp.StatusCode, body)
	}
	if belvoStatus(b, l.ID) != "" {
		t.Errorf("status %s after the widget", belvoStatus(b, l.ID))
	}
	if h := <-hooks; h.body["webhook_code"] != "historical_update" || h.body["link_id"] != l.ID {
		t.Errorf("webhook %v", h.body)
	}
	// The token is spent.
	resp, _ = http.PostForm(page, form)
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("reused token: %d", resp.StatusCode)
	}
	if status, _, _ := belvoGet(t, b, "/widget/?access_token=nope", false); status != 401 {
		t.Errorf("unknown token: %d", status)
	}
}

func TestBelvoSetWebhookURLAndConnection(t *testing.T) {
	b, err := sandbox.NewBelvo(sandbox.BelvoOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	l, _ := b.AddConnection(sandbox.Connection{UserRef: "u9", Institution: "inst"})
	if err := b.Break(l.ID, "invalid", "locked"); err != nil {
		t.Errorf("Break without a webhook URL: %v", err)
	}
	if c, ok := b.Connection(l.ID); !ok || c.Code != "invalid" || c.Message != "locked" || c.UserRef != "u9" || c.Institution != "inst" {
		t.Errorf("Connection %+v %v", c, ok)
	}
	if _, ok := b.Connection("nope"); ok {
		t.Error("Connection of an unknown link")
	}
	got := make(chan string, 1)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Get("Authorization")
	}))
	defer recv.Close()
	b.SetWebhookURL(recv.URL)
	if err := b.Repair(l.ID); err != nil {
		t.Fatal(err)
	}
	if want, _ := b.SignWebhook(nil); <-got != want {
		t.Error("the webhook did not carry SignWebhook's Authorization")
	}
	recv.Close()
	if err := b.Break(l.ID, "invalid", ""); err == nil {
		t.Error("a failed delivery was not reported")
	}
}

// TestBelvoWidgetCallbackURLs: the token's widget.callback_urls are where
// the hosted widget sends the user: success with the link id and
// institution as query parameters (kept beside the URL's own), exit from
// the widget's Exit. A callback that is not a URL is refused.
func TestBelvoWidgetCallbackURLs(t *testing.T) {
	b, _ := newBelvoEmu(t)
	l, _ := b.AddConnection(sandbox.Connection{Code: "invalid", Institution: "erebor_mx_retail"})
	id, pw := b.Credentials()
	token := func(widget string) (int, []byte) {
		req, _ := http.NewRequest(http.MethodPost, b.URL()+"/api/token/",
			strings.NewReader(`{"id":"`+id+`","password":"`+pw+`","link_id":"`+l.ID+`","scopes":"read_institutions,write_links,read_links",`+widget+`}`))
		status, _, body := belvoDo(t, req)
		return status, body
	}
	status, body := token(`"widget":{"callback_urls":{"success":"https://relink.example/belvo/done/T1?x=1","exit":"https://relink.example/belvo/exit/T1"}}`)
	var tok struct{ Access string }
	if json.Unmarshal(body, &tok); status != http.StatusCreated || tok.Access == "" {
		t.Fatalf("token: %d %s", status, body)
	}
	page := b.WidgetURL() + "?access_token=" + url.QueryEscape(tok.Access)
	_, _, html := belvoGet(t, b, strings.TrimPrefix(page, b.URL()), false)
	if !bytes.Contains(html, []byte(`href="https://relink.example/belvo/exit/T1"`)) {
		t.Errorf("the widget offers no exit to the exit callback:\n%s", html)
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.PostForm(page, url.Values{"access_token": {tok.Access}, "password": {"new"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusSeeOther || loc.Host != "relink.example" || loc.Path != "/belvo/done/T1" ||
		loc.Query().Get("x") != "1" || loc.Query().Get("link") != l.ID || loc.Query().Get("institution") != "erebor_mx_retail" {
		t.Errorf("after the update: %d to %q, want the success callback with link and institution", resp.StatusCode, loc)
	}
	if belvoStatus(b, l.ID) != "" {
		t.Errorf("status %s after the widget", belvoStatus(b, l.ID))
	}

	status, body = token(`"widget":{"callback_urls":{"success":"not a url"}}`)
	if m := wantBelvoError(t, status, body, http.StatusBadRequest, "invalid"); m["field"] != "widget.callback_urls.success" {
		t.Errorf("bad callback: field %v", m["field"])
	}
}
