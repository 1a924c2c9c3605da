package sandbox

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

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
		// widget configures the hosted widget; its callback_urls
		// {success, exit, event} are where the widget redirects
		// (BELVO.md §4.3; developers.belvo.com, "Hosted Widget
		// Introduction", handling callback events). Branding and the
		// rest are accepted and not used.
		Widget *struct {
			CallbackURLs *struct {
				Success string `json:"success"`
				Exit    string `json:"exit"`
				Event   string `json:"event"`
			} `json:"callback_urls"`
		} `json:"widget"`
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
	tok := &belvoToken{linkID: linkID}
	if req.Widget != nil && req.Widget.CallbackURLs != nil {
		cb := req.Widget.CallbackURLs
		// What Belvo does with a callback that is not a URL is not
		// documented: the emulator refuses it, as a validation error of
		// that field, so a client that sends one is caught.
		for _, f := range []struct{ name, v string }{{"success", cb.Success}, {"exit", cb.Exit}, {"event", cb.Event}} {
			if u, err := url.Parse(f.v); f.v != "" && (err != nil || u.Scheme == "" || u.Host == "" && u.Opaque == "") {
				belvoWriteErrors(w, belvoErrorItem{status: http.StatusBadRequest, Code: "invalid",
					Message: "Enter a valid URL.", Field: "widget.callback_urls." + f.name})
				return
			}
		}
		tok.success, tok.exit = cb.Success, cb.Exit
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
	tok.expires = now.Add(belvoTokenTTL)
	b.tokens[access] = tok
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
