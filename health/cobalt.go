package health

import (
	"strconv"
	"strings"
	"time"
)

// CobaltHTTPSignal maps a failed Cobalt API response: its HTTP status and the
// "error" and "message" fields of its body (TAXONOMY.md §5). A transport
// failure (no response) is passed as status 0.
func CobaltHTTPSignal(status int, code, message string, at time.Time) Signal {
	s := Signal{Effect: SetPrimary, ProviderCode: code, UserMessage: message, Source: SourceAPIError, ObservedAt: at}
	switch {
	case code == "login_required":
		s.Category = LoginRequired
	case status == 401 || status == 403:
		s.Category = IntegrationError
	case status == 429:
		s.Category = RateLimited
	case status == 0 || status >= 500:
		s.Category = ProviderError
	default:
		s.Category = Other
	}
	if s.ProviderCode == "" && status != 0 {
		s.ProviderCode = "HTTP " + strconv.Itoa(status)
	}
	return s
}

// CobaltOK is the clearing signal of a completed update-mode Link session
// (SourceLinkResult), which also ends a password_change_warning. With
// another source it clears the primary state only: a call that works says
// nothing about the password the EHR wants changed. relink's Cobalt client
// no longer makes one of a mere API call (GET /v1/settings answers 200 while
// the EHR login is broken): see CobaltQuiet.
func CobaltOK(src Source, at time.Time) Signal {
	return Signal{Effect: SetPrimary, Category: Healthy, ClearWarning: src == SourceLinkResult, Source: src, ObservedAt: at}
}

// CobaltQuiet is what a clean read of a connection's event history that
// holds no login_required says: no problem reported, as of readAt (its
// freshness). Cobalt's authentication layer fires an account event whenever
// it meets a credential problem during any login attempt
// (https://docs.usecobalt.com/docs/webhooks/account-events), so silence is
// the signal; but silence is weaker than a report, so under Apply's rule 5 it
// never clears a recorded login_required (or any user-actionable category):
// that takes a completed update-mode session or a newer event. It keeps any
// warning.
func CobaltQuiet(readAt time.Time) Signal {
	return Signal{Effect: SetPrimary, Category: Healthy, Source: SourceHistory, ObservedAt: readAt}
}

// CobaltEvent is the part of a Cobalt webhook event the taxonomy reads.
type CobaltEvent struct {
	Type      string // type
	ErrorType string // data.error_type (optional)
	Message   string // data.message, meant for the end user
}

// CobaltEventSignal maps a Cobalt event (TAXONOMY.md §5).
func CobaltEventSignal(e CobaltEvent, at time.Time) Signal {
	s := Signal{Effect: NoChange, ProviderCode: e.Type, ProviderReason: e.ErrorType, UserMessage: e.Message,
		Source: SourceWebhook, ObservedAt: at}
	switch e.Type {
	case "access_token.login_required":
		s.Effect = SetPrimary
		reason := strings.ToLower(e.ErrorType)
		switch {
		case reason == "password_expired":
			s.Category = PasswordExpired
		case strings.Contains(reason, "lock"):
			s.Category = AccountLocked
		default:
			s.Category = LoginRequired
		}
	case "access_token.password_change_warning":
		s.Effect, s.Warning = SetWarning, PasswordChangeWarning
	}
	// Operation events (*.failed, *.created, …) are job-level: no health change.
	return s
}
