package health

import (
	"strings"
	"time"
)

// BelvoStatusCategory maps a Belvo link status (TAXONOMY.md §4.1); ok is
// false for a status the taxonomy does not know.
func BelvoStatusCategory(status string) (Category, bool) {
	switch status {
	case "valid":
		return Healthy, true
	case "invalid":
		return LoginRequired, true
	case "token_required":
		return MFARequired, true
	case "unconfirmed":
		return Incomplete, true
	}
	return Other, false
}

// BelvoLink maps one link read by GET /api/links/ (a poll). lastError is the
// message of the link's last login error, if known, used to refine "invalid".
func BelvoLink(status, lastError string, rules []LoginRule, at time.Time) Signal {
	cat, _ := BelvoStatusCategory(status)
	generic := cat == LoginRequired && lastError == ""
	if cat == LoginRequired && lastError != "" {
		cat = RefineLogin(lastError, rules)
	}
	return Signal{Effect: SetPrimary, Category: cat, ProviderCode: status, UserMessage: lastError,
		Source: SourcePoll, ObservedAt: at, Generic: generic}
}

// BelvoErrorCategory maps a Belvo error (HTTP status and code, TAXONOMY.md §4.2).
func BelvoErrorCategory(httpStatus int, code string) (Category, Effect) {
	switch httpStatus {
	case 429:
		return RateLimited, SetPrimary
	case 0: // no answer: a transport failure
		return ProviderError, SetPrimary
	}
	switch code {
	case "login_error", "invalid_link":
		return LoginRequired, SetPrimary
	case "token_required":
		return MFARequired, SetPrimary
	case "unconfirmed_link", "session_expired":
		return Incomplete, SetPrimary
	case "activation_failed":
		return ActionAtInstitution, SetPrimary
	case "too_many_sessions", "institution_down", "institution_unavailable", "institution_inactive":
		return InstitutionDown, SetPrimary
	case "unsupported_operation":
		return Unsupported, NoChange
	case "invalid_period", "invalid_access_mode_switch", "required", "null", "blank", "does_not_exist",
		"authentication_failed", "access_to_resource_denied":
		return IntegrationError, SetPrimary
	case "not_found":
		return NotFound, SetPrimary
	case "request_timeout", "unexpected_error":
		return ProviderError, SetPrimary
	}
	switch {
	case httpStatus == 401 || httpStatus == 403:
		return IntegrationError, SetPrimary
	case httpStatus >= 500:
		return ProviderError, SetPrimary
	}
	return Other, SetPrimary
}

// BelvoErrorSignal maps a Belvo error item of a failed call.
func BelvoErrorSignal(httpStatus int, code, message string, rules []LoginRule, at time.Time) Signal {
	cat, eff := BelvoErrorCategory(httpStatus, code)
	if code == "login_error" {
		cat = RefineLogin(message, rules)
	}
	return Signal{Effect: eff, Category: cat, ProviderCode: code, UserMessage: message,
		Source: SourceAPIError, ObservedAt: at}
}

// BelvoWebhook is the part of a Belvo webhook the taxonomy reads.
type BelvoWebhook struct {
	Type         string // webhook_type
	Code         string // webhook_code
	ProcessType  string // process_type
	ErrorCode    string // data.error_code
	ErrorMessage string // data.error_message
}

// BelvoWebhookSignal maps a Belvo webhook (TAXONOMY.md §4.3). A
// historical_update is no health signal by itself: the caller re-reads the
// link (a poll) to learn whether it is valid again.
func BelvoWebhookSignal(w BelvoWebhook, rules []LoginRule, at time.Time) Signal {
	s := Signal{Effect: NoChange, ProviderCode: w.Code, ProviderReason: w.ErrorCode,
		UserMessage: w.ErrorMessage, Source: SourceWebhook, ObservedAt: at}
	if w.Type != "LINK" {
		return s
	}
	switch w.Code {
	case "invalid_credentials":
		s.Effect, s.Category = SetPrimary, RefineLogin(w.ErrorMessage, rules)
	case "token_required":
		s.Effect, s.Category = SetPrimary, MFARequired
	}
	return s
}

// LoginRule refines a Belvo login_error by its message: when every one of
// AllOf and at least one of AnyOf (if given) occur in the lower-cased
// message, the category is Category. Rules are tried in order.
type LoginRule struct {
	AnyOf    []string `toml:"any_of"`
	AllOf    []string `toml:"all_of"`
	Category Category `toml:"category"`
}

// DefaultLoginRules is the heuristic table of TAXONOMY.md §4.4; the config
// may replace it.
func DefaultLoginRules() []LoginRule {
	return []LoginRule{
		{AnyOf: []string{"locked", "bloquead"}, Category: AccountLocked},
		{AllOf: []string{"password", "expired"}, Category: PasswordExpired},
		{AllOf: []string{"contraseña"}, AnyOf: []string{"expir", "venc"}, Category: PasswordExpired},
		{AllOf: []string{"senha", "expir"}, Category: PasswordExpired},
		{AnyOf: []string{"suspended", "suspendid"}, Category: AccountLocked},
		{AnyOf: []string{"must log in to", "complete a process", "activate"}, Category: ActionAtInstitution},
	}
}

// RefineLogin applies rules to a login error message; no match, or an empty
// message, is plain login_required.
func RefineLogin(message string, rules []LoginRule) Category {
	m := strings.ToLower(message)
	if m == "" {
		return LoginRequired
	}
	for _, r := range rules {
		if r.matches(m) {
			return r.Category
		}
	}
	return LoginRequired
}

func (r LoginRule) matches(m string) bool {
	for _, w := range r.AllOf {
		if !strings.Contains(m, strings.ToLower(w)) {
			return false
		}
	}
	if len(r.AnyOf) == 0 {
		return len(r.AllOf) > 0
	}
	for _, w := range r.AnyOf {
		if strings.Contains(m, strings.ToLower(w)) {
			return true
		}
	}
	return false
}
