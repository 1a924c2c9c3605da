package belvo

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/relink/relink/health"
	"github.com/relink/relink/provider"
	"github.com/relink/relink/provider/httpc"
)

// apiError is one item of a Belvo error array (BELVO.md §5.1).
type apiError struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	RequestID string `json:"request_id"`
	Field     string `json:"field"`
	Detail    string `json:"detail"` // a bare Django REST error
}

// parseErrors reads an error body defensively: an array, a single object,
// or anything else (then a short text excerpt as the message).
func parseErrors(body []byte) apiError {
	var list []apiError
	if json.Unmarshal(body, &list) == nil && len(list) > 0 {
		return list[0]
	}
	var one apiError
	if json.Unmarshal(body, &one) == nil && (one.Code != "" || one.Message != "" || one.Detail != "") {
		if one.Message == "" {
			one.Message = one.Detail
		}
		return one
	}
	text := strings.Join(strings.Fields(string(body)), " ")
	if len(text) > 200 {
		text = text[:200] + "…"
	}
	return apiError{Message: text}
}

// apiFailure turns a non-2xx answer into a *provider.Error with the mapped
// health signal and a hint.
func (c *Client) apiFailure(call string, r *httpc.Response) *provider.Error {
	e := parseErrors(r.Body)
	msg := c.redact(e.Message)
	sig := health.BelvoErrorSignal(r.Status, e.Code, msg, c.cfg.LoginRules, c.now())
	hint := hintFor(r.Status, e.Code, e.Field)
	if e.RequestID != "" {
		hint += " (Belvo request_id " + e.RequestID + ")"
	}
	return &provider.Error{Provider: provider.Belvo, Call: call, Status: r.Status, Code: e.Code,
		Message: msg, Hint: hint, Signal: &sig}
}

// transportFailure wraps a failure to get any answer. A cancelled context
// says nothing about Belvo and carries no signal; anything else is a
// provider_error.
func (c *Client) transportFailure(call string, err error) *provider.Error {
	pe := &provider.Error{Provider: provider.Belvo, Call: call, Err: err,
		Hint: "could not reach Belvo at " + c.base.Host + "; check belvo.base_url and the network, then retry"}
	if errors.Is(err, context.Canceled) {
		pe.Hint = ""
		return pe
	}
	sig := providerError("", err.Error(), c.now())
	pe.Signal = &sig
	return pe
}

// malformed reports a 2xx answer that is not the documented JSON.
func (c *Client) malformed(call string, status int, err error) *provider.Error {
	sig := providerError("", "malformed response", c.now())
	return &provider.Error{Provider: provider.Belvo, Call: call, Status: status,
		Err: errors.Join(errors.New("malformed response"), err), Signal: &sig,
		Hint: "Belvo answered with a body that is not the documented JSON; retry later, and check belvo.base_url points at the Belvo API"}
}

// providerError is the signal of a failure on Belvo's side that has no
// Belvo error code (transport failures, malformed answers).
func providerError(code, message string, at time.Time) health.Signal {
	return health.Signal{Effect: health.SetPrimary, Category: health.ProviderError, ProviderCode: code,
		UserMessage: message, Source: health.SourceAPIError, ObservedAt: at}
}

// hintFor says what to do about a Belvo error.
func hintFor(status int, code, field string) string {
	switch code {
	case "authentication_failed":
		return "check belvo.secret_id / secret_password (env BELVO_SECRET_ID / BELVO_SECRET_PASSWORD); keys are per environment, so also check belvo.environment / base_url"
	case "access_to_resource_denied":
		return "the Belvo keys lack permission for this call; check the key's permissions in the Belvo dashboard"
	case "not_found":
		return "Belvo no longer knows this link (deleted or wrong id); drop it or have the user connect again"
	case "does_not_exist":
		if field == "link_id" {
			return "Belvo no longer knows this link (deleted or wrong id); drop it or have the user connect again"
		}
		return "Belvo rejected a field relink sent (" + field + "); please report this as a relink bug"
	case "required", "null", "blank", "invalid_period", "invalid_access_mode_switch", "parse_error":
		return "Belvo rejected the request relink sent; please report this as a relink bug"
	case "login_error", "invalid_link":
		return "the user must re-enter their bank credentials in the Belvo widget (update mode)"
	case "token_required":
		return "the user must provide a new MFA token in the Belvo widget (update mode)"
	case "unconfirmed_link", "session_expired":
		return "the link's setup was never finished; the user should connect again"
	case "activation_failed":
		return "the user must activate online banking at the institution, then reconnect"
	case "too_many_sessions", "institution_down", "institution_unavailable", "institution_inactive":
		return "the institution is unavailable right now (or the user is logged in elsewhere); retry later"
	case "unsupported_operation":
		return "the institution does not support this operation; nothing to fix on the connection"
	case "request_timeout":
		return "Belvo timed out; retry later"
	case "unexpected_error":
		return "Belvo had an internal error; retry later (Belvo suggests at most 3 retries)"
	}
	switch {
	case status == 429:
		return "Belvo is throttling requests; wait and retry"
	case status == 401:
		return "check belvo.secret_id / secret_password (env BELVO_SECRET_ID / BELVO_SECRET_PASSWORD)"
	case status >= 500:
		return "Belvo had an internal error; retry later"
	}
	return "unexpected Belvo answer; retry, and report it if it persists"
}

// redact removes the API keys from text Belvo sent back.
func (c *Client) redact(s string) string {
	for _, secret := range []string{c.cfg.SecretPassword, c.cfg.SecretID} {
		if len(secret) >= 4 {
			s = strings.ReplaceAll(s, secret, "[redacted]")
		}
	}
	return s
}
