package remind

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// defaultHTTPClient is used when a channel is given none.
func defaultHTTPClient() *http.Client { return &http.Client{Timeout: 30 * time.Second} }

// redact is u without its query, fragment or user info: what an error may show.
func redact(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(unparsable URL)"
	}
	p.User, p.RawQuery, p.Fragment = nil, "", ""
	return p.String()
}

// do sends req and classifies the outcome: network failures to reach the
// host and 401/403/404 are the channel's (Unavailable), 408/429/5xx and
// timeouts are transient, other 4xx are this message's (Permanent).
// describe turns an error body into words.
func do(ctx context.Context, hc *http.Client, req *http.Request, what string, describe func([]byte) string) error {
	req = req.WithContext(ctx)
	target := redact(req.URL.String())
	resp, err := hc.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the url.Error would repeat the URL, query and all
		}
		err = fmt.Errorf("%s %s: %w", what, target, err)
		var ne net.Error
		var oe *net.OpError
		switch {
		case ctx.Err() != nil, errors.As(err, &ne) && ne.Timeout():
			return Transient(err)
		case errors.As(err, &oe) && oe.Op == "dial":
			return Unavailable(err)
		}
		return Transient(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 == 2 {
		return nil
	}
	msg := fmt.Errorf("%s %s: HTTP %d%s", what, target, resp.StatusCode, describe(body))
	switch {
	case resp.StatusCode == 401 || resp.StatusCode == 403:
		return Unavailable(fmt.Errorf("%w: the credentials were refused", msg))
	case resp.StatusCode == 404:
		return Unavailable(fmt.Errorf("%w: wrong URL or account", msg))
	case resp.StatusCode == 408 || resp.StatusCode == 429 || resp.StatusCode >= 500:
		return Transient(msg)
	}
	return Permanent(msg)
}

// jsonMessage reads {"message": …, "code": …} error bodies (Twilio's, and
// most others'); anything else is summarised by its first line.
func jsonMessage(body []byte) string {
	var e struct {
		Code    any    `json:"code"`
		Message string `json:"message"`
		Error   string `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && (e.Message != "" || e.Error != "") {
		s := ": " + e.Message + e.Error
		if e.Code != nil {
			s += fmt.Sprintf(" (code %v)", e.Code)
		}
		return s
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(body)), "\n")
	if len(line) > 200 {
		line = line[:200] + "…"
	}
	if line == "" {
		return ""
	}
	return ": " + line
}
