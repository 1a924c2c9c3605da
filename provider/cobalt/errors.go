package cobalt

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/relink/relink/health"
	"github.com/relink/relink/provider"
	"github.com/relink/relink/provider/httpc"
)

// apiError is Cobalt's error body (COBALT.md §5.1).
type apiError struct {
	Error   string `json:"error"`
	Message string `json:"message"`
}

func parseError(body []byte) apiError {
	var e apiError
	if json.Unmarshal(body, &e) == nil && (e.Error != "" || e.Message != "") {
		return e
	}
	text := strings.Join(strings.Fields(string(body)), " ")
	if len(text) > 200 {
		text = text[:200] + "…"
	}
	return apiError{Message: text}
}

// apiFailure turns a non-2xx answer into a *provider.Error with the mapped
// health signal and a hint. accessToken is redacted from what Cobalt said.
func (c *Client) apiFailure(call string, r *httpc.Response, accessToken string) *provider.Error {
	e := parseError(r.Body)
	msg := c.redact(e.Message, accessToken)
	code := c.redact(e.Error, accessToken)
	sig := health.CobaltHTTPSignal(r.Status, code, msg, c.now())
	return &provider.Error{Provider: provider.Cobalt, Call: call, Status: r.Status, Code: code,
		Message: msg, Hint: hintFor(r.Status, code), Signal: &sig}
}

// transportFailure wraps a failure to get any answer: a provider_error
// (status 0), unless our own context was cancelled.
func (c *Client) transportFailure(call string, err error) *provider.Error {
	pe := &provider.Error{Provider: provider.Cobalt, Call: call, Err: err,
		Hint: "could not reach Cobalt at " + c.base.Host + "; check cobalt.base_url and the network, then retry"}
	if errors.Is(err, context.Canceled) {
		pe.Hint = ""
		return pe
	}
	sig := health.CobaltHTTPSignal(0, "", "", c.now())
	pe.Signal = &sig
	return pe
}

// malformed reports a 2xx answer that is not the documented JSON.
func (c *Client) malformed(call string, status int, err error) *provider.Error {
	sig := health.CobaltHTTPSignal(0, "", "malformed response", c.now())
	return &provider.Error{Provider: provider.Cobalt, Call: call, Status: status,
		Err: errors.Join(errors.New("malformed response"), err), Signal: &sig,
		Hint: "Cobalt answered with a body that is not the documented JSON; retry later, and check cobalt.base_url points at the Cobalt API"}
}

func hintFor(status int, code string) string {
	switch {
	case code == "login_required":
		return "the user must reconnect their EHR login through Cobalt Link in update mode"
	case status == http.StatusUnauthorized:
		return "check cobalt.client_id / client_secret (env COBALT_CLIENT_ID / COBALT_CLIENT_SECRET)"
	case status == http.StatusForbidden:
		return "Cobalt refused this connection's access token; re-import its access_token, or check cobalt.client_id / client_secret"
	case status == http.StatusNotFound:
		return "Cobalt does not know this resource; check cobalt.base_url, and that the access token has settings (POST /v1/settings with access_token_reference_id)"
	case status == http.StatusTooManyRequests:
		return "Cobalt is throttling requests; wait and retry"
	case status >= 500:
		return "Cobalt had an internal error; retry later"
	case status >= 400:
		return "Cobalt rejected the request relink sent; please report this as a relink bug"
	}
	return "unexpected Cobalt answer; retry, and report it if it persists"
}

// redact removes the client secret and an access token from text Cobalt
// sent back.
func (c *Client) redact(s, accessToken string) string {
	for _, secret := range []string{c.cfg.ClientSecret, accessToken} {
		if len(secret) >= 4 {
			s = strings.ReplaceAll(s, secret, "[redacted]")
		}
	}
	return s
}
