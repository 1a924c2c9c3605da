package health

import "time"

// PlaidError is the part of a Plaid error object the taxonomy reads.
type PlaidError struct {
	Type           string // error_type: ITEM_ERROR, INSTITUTION_ERROR, RATE_LIMIT_EXCEEDED, …
	Code           string // error_code
	Reason         string // error_code_reason (may be empty)
	DisplayMessage string // display_message, for the user; display only
}

// ConsentWarningWindow is how close consent_expiration_time must be for a
// poll to raise the consent_expiring warning (TAXONOMY.md §3.2 backstop).
const ConsentWarningWindow = 14 * 24 * time.Hour

// PlaidErrorEffect maps a Plaid error to a category and the kind of change it
// asks for (TAXONOMY.md §3.1).
func PlaidErrorEffect(e PlaidError) (Category, Effect) {
	switch e.Type {
	case "RATE_LIMIT_EXCEEDED":
		return RateLimited, SetPrimary
	case "INVALID_REQUEST", "INVALID_INPUT":
		return IntegrationError, SetPrimary
	}
	switch e.Code {
	case "ITEM_LOGIN_REQUIRED":
		switch e.Reason {
		case "OAUTH_CONSENT_EXPIRED":
			return ConsentExpired, SetPrimary
		case "OAUTH_USER_REVOKED":
			return PermissionRevoked, SetPrimary
		}
		return LoginRequired, SetPrimary
	case "PASSWORD_RESET_REQUIRED":
		return PasswordExpired, SetPrimary
	case "ITEM_LOCKED":
		return AccountLocked, SetPrimary
	case "USER_SETUP_REQUIRED":
		return ActionAtInstitution, SetPrimary
	case "INVALID_CREDENTIALS", "INVALID_UPDATED_USERNAME", "INSUFFICIENT_CREDENTIALS":
		return LoginRequired, Attempt
	case "INVALID_MFA", "INVALID_OTP", "INVALID_SEND_METHOD", "INVALID_PHONE_NUMBER", "USER_INPUT_TIMEOUT":
		return MFARequired, Attempt
	case "ACCESS_NOT_GRANTED", "NO_ACCOUNTS":
		return ConsentInsufficient, SetPrimary
	case "USER_PERMISSION_REVOKED":
		return PermissionRevoked, SetPrimary
	case "ITEM_NOT_FOUND", "ITEM_CONCURRENTLY_DELETED":
		return NotFound, SetPrimary
	case "ITEM_NOT_SUPPORTED", "MFA_NOT_SUPPORTED":
		return Unsupported, SetPrimary
	case "NO_AUTH_ACCOUNTS", "no-depository-accounts", "NO_INVESTMENT_ACCOUNTS", "NO_INVESTMENT_AUTH_ACCOUNTS",
		"NO_LIABILITY_ACCOUNTS", "PRODUCTS_NOT_SUPPORTED", "PRODUCT_NOT_ENABLED", "INSTANT_MATCH_FAILED":
		// Product fit, not connection health: never mark the connection broken.
		return Unsupported, NoChange
	case "PRODUCT_NOT_READY":
		return Unknown, NoChange
	case "ITEM_NO_ERROR":
		return Healthy, SetPrimary
	case "INSTITUTION_DOWN", "INSTITUTION_NOT_RESPONDING", "INSTITUTION_NOT_AVAILABLE":
		return InstitutionDown, SetPrimary
	case "INSTITUTION_REGISTRATION_REQUIRED", "UNAUTHORIZED_INSTITUTION", "INSTITUTION_NOT_ENABLED_IN_ENVIRONMENT":
		return IntegrationError, SetPrimary
	case "INSTITUTION_NO_LONGER_SUPPORTED", "INSTITUTION_NOT_FOUND", "UNSUPPORTED_RESPONSE":
		return Unsupported, SetPrimary
	case "INTERNAL_SERVER_ERROR", "plaid-internal-error", "PLANNED_MAINTENANCE":
		return ProviderError, SetPrimary
	}
	if e.Type == "API_ERROR" {
		return ProviderError, SetPrimary
	}
	return Other, SetPrimary
}

// PlaidErrorSignal maps a Plaid error (from a failed call, src = SourceAPIError,
// or an ITEM/ERROR webhook) to a signal.
func PlaidErrorSignal(e PlaidError, src Source, at time.Time) Signal {
	cat, eff := PlaidErrorEffect(e)
	return Signal{Effect: eff, Category: cat, ProviderCode: e.Code, ProviderReason: e.Reason,
		UserMessage: e.DisplayMessage, Source: src, ObservedAt: at}
}

// PlaidItem maps a /item/get result: item.error (nil when healthy) and
// item.consent_expiration_time. A clean poll clears the failure.
func PlaidItem(itemErr *PlaidError, consentExpiration *time.Time, at time.Time) Signal {
	var s Signal
	if itemErr == nil {
		s = Signal{Effect: SetPrimary, Category: Healthy, Source: SourcePoll, ObservedAt: at}
	} else {
		s = PlaidErrorSignal(*itemErr, SourcePoll, at)
	}
	if consentExpiration != nil && consentExpiration.Sub(at) <= ConsentWarningWindow {
		d := *consentExpiration
		s.Warning, s.Deadline = ConsentExpiring, &d
	}
	return s
}

// PlaidWebhook is the part of a Plaid webhook body the taxonomy reads.
type PlaidWebhook struct {
	Type                  string      // webhook_type
	Code                  string      // webhook_code
	Error                 *PlaidError // error, when present and non-null
	Reason                string      // PENDING_DISCONNECT reason
	ConsentExpirationTime *time.Time  // PENDING_EXPIRATION
	DisconnectTime        *time.Time  // PENDING_DISCONNECT
	Status                string      // LINK/SESSION_FINISHED status
}

// PlaidWebhookSignal maps a Plaid webhook to a signal (TAXONOMY.md §3.2).
func PlaidWebhookSignal(w PlaidWebhook, at time.Time) Signal {
	base := Signal{Effect: NoChange, ProviderCode: w.Code, Source: SourceWebhook, ObservedAt: at}
	switch w.Type + "/" + w.Code {
	case "ITEM/ERROR":
		if w.Error == nil {
			return base
		}
		return PlaidErrorSignal(*w.Error, SourceWebhook, at)
	case "ITEM/PENDING_EXPIRATION":
		base.Effect, base.Warning, base.Deadline = SetWarning, ConsentExpiring, w.ConsentExpirationTime
		return base
	case "ITEM/PENDING_DISCONNECT":
		base.Effect, base.Warning, base.Deadline, base.ProviderReason = SetWarning, ConsentExpiring, w.DisconnectTime, w.Reason
		return base
	case "ITEM/USER_PERMISSION_REVOKED":
		base.Effect, base.Category = SetPrimary, PermissionRevoked
		if w.Error != nil {
			base.ProviderReason, base.UserMessage = w.Error.Reason, w.Error.DisplayMessage
		}
		return base
	case "ITEM/USER_ACCOUNT_REVOKED":
		base.Effect, base.Warning = SetWarning, AccountRevokedPartial
		return base
	case "ITEM/LOGIN_REPAIRED":
		base.Effect, base.Category, base.ClearWarning = SetPrimary, Healthy, true
		return base
	case "AUTH/PRODUCT_PERMISSIONS_REQUIRED":
		base.Effect, base.Category = SetPrimary, ConsentInsufficient
		return base
	case "LINK/SESSION_FINISHED":
		// A successful update-mode session is confirmed by re-polling
		// /item/get; the webhook alone changes nothing.
		base.ProviderReason = w.Status
		base.Source = SourceLinkResult
		return base
	}
	// NEW_ACCOUNTS_AVAILABLE, WEBHOOK_UPDATE_ACKNOWLEDGED and the rest.
	return base
}
