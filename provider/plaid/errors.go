package plaid

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"strings"

	"github.com/relink/relink/health"
	"github.com/relink/relink/provider"
	"github.com/relink/relink/provider/httpc"
)

// health converts a wire error to the taxonomy's input.
func (e *wireError) health() health.PlaidError {
	return health.PlaidError{Type: e.ErrorType, Code: e.ErrorCode, Reason: deref(e.ErrorCodeReason),
		DisplayMessage: deref(e.DisplayMessage)}
}

// itemScoped reports whether a failed call's error_type is about the Item
// (its login, its institution, its rate limit) rather than about relink's
// keys, request or Plaid itself. Unknown future types count as the Item's:
// the taxonomy maps them to "other" for that connection.
func itemScoped(errorType string) bool {
	switch errorType {
	case "API_ERROR", "INVALID_REQUEST", "INVALID_INPUT", "INVALID_RESULT":
		return false
	}
	return true
}

// connectionScoped reports whether an integration error concerns one
// connection's stored access token, not relink's keys: Sync records it for
// that connection and carries on.
func connectionScoped(code string) bool {
	return code == "INVALID_ACCESS_TOKEN" || code == "ADDITIONAL_CONSENT_REQUIRED"
}

// apiError turns a non-2xx answer into a *provider.Error; a Plaid error body
// is also returned decoded.
func (c *Client) apiError(call string, resp *httpc.Response, token string) (*wireError, error) {
	var we wireError
	if json.Unmarshal(resp.Body, &we) != nil || we.ErrorCode == "" {
		cat := health.IntegrationError
		switch {
		case resp.Status == 429:
			cat = health.RateLimited
		case resp.Status >= 500:
			cat = health.ProviderError
		}
		return nil, &provider.Error{Provider: provider.Plaid, Call: call, Status: resp.Status,
			Message: "the answer is not a Plaid error object", Hint: hintForStatus(resp.Status),
			Signal: c.signal(cat)}
	}
	msg := we.ErrorMessage
	if we.RequestID != "" {
		msg += " (request_id " + we.RequestID + ")"
	}
	sig := health.PlaidErrorSignal(we.health(), health.SourceAPIError, c.now())
	return &we, &provider.Error{Provider: provider.Plaid, Call: call, Status: resp.Status,
		Code: we.ErrorCode, Message: c.scrub(msg, token), Hint: hint(we.ErrorType, we.ErrorCode),
		Signal: &sig}
}

// transportError is a request that got no answer. A cancelled context is
// returned as such, not as a provider failure.
func (c *Client) transportError(ctx context.Context, call string, err error) error {
	if ctx.Err() != nil {
		return &provider.Error{Provider: provider.Plaid, Call: call, Err: ctx.Err()}
	}
	h := "could not reach Plaid at " + c.cfg.BaseURL + "; check the network and plaid.base_url"
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		h = "Plaid did not answer within " + c.cfg.Timeout.String() + "; retry later"
	}
	return &provider.Error{Provider: provider.Plaid, Call: call, Err: err, Hint: h,
		Signal: c.signal(health.ProviderError)}
}

// malformed is a 2xx answer relink cannot read.
func (c *Client) malformed(call string, status int, why string) error {
	return &provider.Error{Provider: provider.Plaid, Call: call, Status: status,
		Message: "unreadable answer: " + why,
		Hint:    "Plaid's answer was not the documented JSON; retry later and report it if it persists",
		Signal:  c.signal(health.ProviderError)}
}

// localError is a connection relink cannot even ask about.
func (c *Client) localError(call, msg, hint string) *provider.Error {
	return &provider.Error{Provider: provider.Plaid, Call: call, Message: msg, Hint: hint,
		Signal: c.signal(health.IntegrationError)}
}

func (c *Client) signal(cat health.Category) *health.Signal {
	return &health.Signal{Effect: health.SetPrimary, Category: cat, Source: health.SourceAPIError, ObservedAt: c.now()}
}

// scrub removes the secret and the call's access token from text Plaid sent
// back, in case an answer ever echoes them.
func (c *Client) scrub(s, token string) string {
	for _, secret := range []string{c.cfg.Secret, token} {
		if secret != "" {
			s = strings.ReplaceAll(s, secret, "[redacted]")
		}
	}
	return s
}

// hint says what to do about a Plaid error, by error_code then error_type.
func hint(errorType, code string) string {
	switch code {
	case "INVALID_API_KEYS":
		return "check plaid.client_id and plaid.secret (env PLAID_CLIENT_ID/PLAID_SECRET)"
	case "UNAUTHORIZED_ENVIRONMENT":
		return "these keys are not enabled for this environment; check plaid.environment and plaid.base_url"
	case "INVALID_ACCESS_TOKEN":
		return "the stored access token is not valid here (wrong environment, rotated or removed); re-import the connection with its current access_token"
	case "ADDITIONAL_CONSENT_REQUIRED":
		return "the user must grant more consent: send them an update-mode link"
	case "INVALID_WEBHOOK_VERIFICATION_KEY_ID":
		return "Plaid does not know that key id; the webhook was not signed by Plaid"
	case "INCOMPATIBLE_API_VERSION":
		return "Plaid refused API version " + apiVersion + "; relink needs an update"
	case "INSTITUTION_REGISTRATION_REQUIRED", "UNAUTHORIZED_INSTITUTION", "INSTITUTION_NOT_ENABLED_IN_ENVIRONMENT":
		return "your Plaid account is not enabled for this institution; ask Plaid support or check the dashboard"
	case "USER_PERMISSION_REVOKED", "ITEM_NOT_FOUND":
		return "the user must link this bank again in a new Link session; update mode cannot repair it"
	}
	switch errorType {
	case "INVALID_REQUEST", "INVALID_INPUT":
		return "Plaid rejected relink's request; check plaid.client_name, plaid.language and plaid.country_codes, else report a bug"
	case "RATE_LIMIT_EXCEEDED":
		return "Plaid is throttling relink; wait a minute and retry"
	case "API_ERROR":
		return "Plaid had an internal error; retry later (status.plaid.com)"
	case "INSTITUTION_ERROR":
		return "the institution is not answering Plaid; retry later"
	case "ITEM_ERROR":
		return "the user must act: send them an update-mode link"
	}
	return ""
}

func hintForStatus(status int) string {
	switch {
	case status == 429:
		return "Plaid is throttling relink; wait a minute and retry"
	case status >= 500:
		return "Plaid is failing; retry later (status.plaid.com)"
	}
	return "check plaid.base_url: it does not look like the Plaid API"
}
