package health

import (
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

// TAXONOMY.md §3.1, one row per code.
func TestPlaidErrorCodes(t *testing.T) {
	cases := []struct {
		typ, code, reason string
		want              Category
		eff               Effect
	}{
		{"ITEM_ERROR", "ITEM_LOGIN_REQUIRED", "", LoginRequired, SetPrimary},
		{"ITEM_ERROR", "ITEM_LOGIN_REQUIRED", "OAUTH_INVALID_TOKEN", LoginRequired, SetPrimary},
		{"ITEM_ERROR", "ITEM_LOGIN_REQUIRED", "OAUTH_CONSENT_EXPIRED", ConsentExpired, SetPrimary},
		{"ITEM_ERROR", "ITEM_LOGIN_REQUIRED", "OAUTH_USER_REVOKED", PermissionRevoked, SetPrimary},
		{"ITEM_ERROR", "PASSWORD_RESET_REQUIRED", "", PasswordExpired, SetPrimary},
		{"ITEM_ERROR", "ITEM_LOCKED", "", AccountLocked, SetPrimary},
		{"ITEM_ERROR", "USER_SETUP_REQUIRED", "", ActionAtInstitution, SetPrimary},
		{"ITEM_ERROR", "INVALID_CREDENTIALS", "", LoginRequired, Attempt},
		{"ITEM_ERROR", "INVALID_UPDATED_USERNAME", "", LoginRequired, Attempt},
		{"ITEM_ERROR", "INVALID_MFA", "", MFARequired, Attempt},
		{"ITEM_ERROR", "INVALID_OTP", "", MFARequired, Attempt},
		{"ITEM_ERROR", "INVALID_SEND_METHOD", "", MFARequired, Attempt},
		{"ITEM_ERROR", "INVALID_PHONE_NUMBER", "", MFARequired, Attempt},
		{"ITEM_ERROR", "USER_INPUT_TIMEOUT", "", MFARequired, Attempt},
		{"ITEM_ERROR", "INSUFFICIENT_CREDENTIALS", "", LoginRequired, Attempt},
		{"ITEM_ERROR", "ACCESS_NOT_GRANTED", "", ConsentInsufficient, SetPrimary},
		{"ITEM_ERROR", "NO_ACCOUNTS", "", ConsentInsufficient, SetPrimary},
		{"ITEM_ERROR", "USER_PERMISSION_REVOKED", "", PermissionRevoked, SetPrimary},
		{"ITEM_ERROR", "ITEM_NOT_FOUND", "", NotFound, SetPrimary},
		{"ITEM_ERROR", "ITEM_CONCURRENTLY_DELETED", "", NotFound, SetPrimary},
		{"ITEM_ERROR", "ITEM_NOT_SUPPORTED", "", Unsupported, SetPrimary},
		{"ITEM_ERROR", "MFA_NOT_SUPPORTED", "", Unsupported, SetPrimary},
		{"ITEM_ERROR", "NO_AUTH_ACCOUNTS", "", Unsupported, NoChange},
		{"ITEM_ERROR", "no-depository-accounts", "", Unsupported, NoChange},
		{"ITEM_ERROR", "NO_INVESTMENT_ACCOUNTS", "", Unsupported, NoChange},
		{"ITEM_ERROR", "NO_INVESTMENT_AUTH_ACCOUNTS", "", Unsupported, NoChange},
		{"ITEM_ERROR", "NO_LIABILITY_ACCOUNTS", "", Unsupported, NoChange},
		{"ITEM_ERROR", "PRODUCTS_NOT_SUPPORTED", "", Unsupported, NoChange},
		{"ITEM_ERROR", "PRODUCT_NOT_ENABLED", "", Unsupported, NoChange},
		{"ITEM_ERROR", "INSTANT_MATCH_FAILED", "", Unsupported, NoChange},
		{"ITEM_ERROR", "PRODUCT_NOT_READY", "", Unknown, NoChange},
		{"ITEM_ERROR", "ITEM_NO_ERROR", "", Healthy, SetPrimary},
		{"INSTITUTION_ERROR", "INSTITUTION_DOWN", "", InstitutionDown, SetPrimary},
		{"INSTITUTION_ERROR", "INSTITUTION_NOT_RESPONDING", "", InstitutionDown, SetPrimary},
		{"INSTITUTION_ERROR", "INSTITUTION_NOT_AVAILABLE", "", InstitutionDown, SetPrimary},
		{"INSTITUTION_ERROR", "INSTITUTION_NO_LONGER_SUPPORTED", "", Unsupported, SetPrimary},
		{"INSTITUTION_ERROR", "INSTITUTION_NOT_FOUND", "", Unsupported, SetPrimary},
		{"INSTITUTION_ERROR", "UNSUPPORTED_RESPONSE", "", Unsupported, SetPrimary},
		{"INSTITUTION_ERROR", "UNAUTHORIZED_INSTITUTION", "", IntegrationError, SetPrimary},
		{"INSTITUTION_ERROR", "INSTITUTION_REGISTRATION_REQUIRED", "", IntegrationError, SetPrimary},
		{"INSTITUTION_ERROR", "INSTITUTION_NOT_ENABLED_IN_ENVIRONMENT", "", IntegrationError, SetPrimary},
		{"RATE_LIMIT_EXCEEDED", "ITEM_GET_LIMIT", "", RateLimited, SetPrimary},
		{"RATE_LIMIT_EXCEEDED", "ACCOUNTS_LIMIT", "", RateLimited, SetPrimary},
		{"RATE_LIMIT_EXCEEDED", "RATE_LIMIT", "", RateLimited, SetPrimary},
		{"API_ERROR", "INTERNAL_SERVER_ERROR", "", ProviderError, SetPrimary},
		{"API_ERROR", "plaid-internal-error", "", ProviderError, SetPrimary},
		{"API_ERROR", "PLANNED_MAINTENANCE", "", ProviderError, SetPrimary},
		{"INVALID_REQUEST", "MISSING_FIELDS", "", IntegrationError, SetPrimary},
		{"INVALID_REQUEST", "INVALID_FIELD", "", IntegrationError, SetPrimary},
		{"INVALID_INPUT", "INVALID_API_KEYS", "", IntegrationError, SetPrimary},
		{"INVALID_INPUT", "INVALID_ACCESS_TOKEN", "", IntegrationError, SetPrimary},
		{"INVALID_INPUT", "UNAUTHORIZED_ENVIRONMENT", "", IntegrationError, SetPrimary},
		{"INVALID_INPUT", "INVALID_LINK_TOKEN", "", IntegrationError, SetPrimary},
		{"INVALID_INPUT", "INVALID_WEBHOOK_VERIFICATION_KEY_ID", "", IntegrationError, SetPrimary},
		{"ITEM_ERROR", "SOMETHING_NEW", "", Other, SetPrimary},
	}
	for _, c := range cases {
		got, eff := PlaidErrorEffect(PlaidError{Type: c.typ, Code: c.code, Reason: c.reason})
		if got != c.want || eff != c.eff {
			t.Errorf("%s %s/%s = %s (effect %d), want %s (effect %d)", c.typ, c.code, c.reason, got, eff, c.want, c.eff)
		}
	}
}

// TAXONOMY.md §3.2.
func TestPlaidWebhooks(t *testing.T) {
	deadline := t0.Add(7 * 24 * time.Hour)
	cases := []struct {
		name string
		w    PlaidWebhook
		eff  Effect
		cat  Category
		warn Warning
	}{
		{"error", PlaidWebhook{Type: "ITEM", Code: "ERROR", Error: &PlaidError{Type: "ITEM_ERROR", Code: "ITEM_LOGIN_REQUIRED"}}, SetPrimary, LoginRequired, ""},
		{"pending expiration", PlaidWebhook{Type: "ITEM", Code: "PENDING_EXPIRATION", ConsentExpirationTime: &deadline}, SetWarning, "", ConsentExpiring},
		{"pending disconnect token", PlaidWebhook{Type: "ITEM", Code: "PENDING_DISCONNECT", Reason: "INSTITUTION_TOKEN_EXPIRATION", DisconnectTime: &deadline}, SetWarning, "", ConsentExpiring},
		{"pending disconnect migration", PlaidWebhook{Type: "ITEM", Code: "PENDING_DISCONNECT", Reason: "INSTITUTION_MIGRATION", DisconnectTime: &deadline}, SetWarning, "", ConsentExpiring},
		{"permission revoked", PlaidWebhook{Type: "ITEM", Code: "USER_PERMISSION_REVOKED", Error: &PlaidError{Code: "USER_PERMISSION_REVOKED"}}, SetPrimary, PermissionRevoked, ""},
		{"account revoked", PlaidWebhook{Type: "ITEM", Code: "USER_ACCOUNT_REVOKED"}, SetWarning, "", AccountRevokedPartial},
		{"login repaired", PlaidWebhook{Type: "ITEM", Code: "LOGIN_REPAIRED"}, SetPrimary, Healthy, ""},
		{"new accounts", PlaidWebhook{Type: "ITEM", Code: "NEW_ACCOUNTS_AVAILABLE"}, NoChange, "", ""},
		{"webhook ack", PlaidWebhook{Type: "ITEM", Code: "WEBHOOK_UPDATE_ACKNOWLEDGED"}, NoChange, "", ""},
		{"auth permissions", PlaidWebhook{Type: "AUTH", Code: "PRODUCT_PERMISSIONS_REQUIRED"}, SetPrimary, ConsentInsufficient, ""},
		{"session finished", PlaidWebhook{Type: "LINK", Code: "SESSION_FINISHED", Status: "SUCCESS"}, NoChange, "", ""},
	}
	for _, c := range cases {
		s := PlaidWebhookSignal(c.w, t0)
		if s.Effect != c.eff || s.Category != c.cat || s.Warning != c.warn {
			t.Errorf("%s: effect %d cat %q warn %q, want %d %q %q", c.name, s.Effect, s.Category, s.Warning, c.eff, c.cat, c.warn)
		}
		if c.warn == ConsentExpiring && (s.Deadline == nil || !s.Deadline.Equal(deadline)) {
			t.Errorf("%s: deadline %v, want %v", c.name, s.Deadline, deadline)
		}
	}
	pd := PlaidWebhookSignal(PlaidWebhook{Type: "ITEM", Code: "PENDING_DISCONNECT", Reason: "INSTITUTION_MIGRATION", DisconnectTime: &deadline}, t0)
	if pd.ProviderReason != "INSTITUTION_MIGRATION" {
		t.Errorf("PENDING_DISCONNECT keeps its reason: got %q", pd.ProviderReason)
	}
}

func TestPlaidItemPoll(t *testing.T) {
	if s := PlaidItem(nil, nil, t0); s.Category != Healthy || s.Source != SourcePoll || s.Warning != "" {
		t.Fatalf("clean item: %+v", s)
	}
	soon := t0.Add(10 * 24 * time.Hour)
	if s := PlaidItem(nil, &soon, t0); s.Warning != ConsentExpiring || !s.Deadline.Equal(soon) {
		t.Fatalf("consent in 10 days: %+v", s)
	}
	later := t0.Add(60 * 24 * time.Hour)
	if s := PlaidItem(nil, &later, t0); s.Warning != "" {
		t.Fatalf("consent in 60 days warns: %+v", s)
	}
	s := PlaidItem(&PlaidError{Type: "ITEM_ERROR", Code: "ITEM_LOCKED", DisplayMessage: "Unlock at the bank"}, nil, t0)
	if s.Category != AccountLocked || s.UserMessage != "Unlock at the bank" || s.ProviderCode != "ITEM_LOCKED" {
		t.Fatalf("locked item: %+v", s)
	}
}

// TAXONOMY.md §4.1–§4.3.
func TestBelvo(t *testing.T) {
	for status, want := range map[string]Category{"valid": Healthy, "invalid": LoginRequired, "token_required": MFARequired, "unconfirmed": Incomplete, "weird": Other} {
		if got := BelvoLink(status, "", DefaultLoginRules(), t0).Category; got != want {
			t.Errorf("status %s = %s, want %s", status, got, want)
		}
	}
	errs := []struct {
		status int
		code   string
		want   Category
		eff    Effect
	}{
		{400, "login_error", LoginRequired, SetPrimary},
		{400, "invalid_link", LoginRequired, SetPrimary},
		{428, "token_required", MFARequired, SetPrimary},
		{400, "unconfirmed_link", Incomplete, SetPrimary},
		{400, "session_expired", Incomplete, SetPrimary},
		{400, "activation_failed", ActionAtInstitution, SetPrimary},
		{400, "too_many_sessions", InstitutionDown, SetPrimary},
		{400, "institution_down", InstitutionDown, SetPrimary},
		{400, "institution_unavailable", InstitutionDown, SetPrimary},
		{400, "institution_inactive", InstitutionDown, SetPrimary},
		{400, "unsupported_operation", Unsupported, NoChange},
		{400, "invalid_period", IntegrationError, SetPrimary},
		{400, "invalid_access_mode_switch", IntegrationError, SetPrimary},
		{400, "required", IntegrationError, SetPrimary},
		{400, "null", IntegrationError, SetPrimary},
		{400, "blank", IntegrationError, SetPrimary},
		{400, "does_not_exist", IntegrationError, SetPrimary},
		{401, "authentication_failed", IntegrationError, SetPrimary},
		{403, "access_to_resource_denied", IntegrationError, SetPrimary},
		{404, "not_found", NotFound, SetPrimary},
		{408, "request_timeout", ProviderError, SetPrimary},
		{429, "", RateLimited, SetPrimary},
		{429, "too_many_requests", RateLimited, SetPrimary},
		{500, "unexpected_error", ProviderError, SetPrimary},
		{400, "brand_new_code", Other, SetPrimary},
		{0, "", ProviderError, SetPrimary},
	}
	for _, c := range errs {
		got, eff := BelvoErrorCategory(c.status, c.code)
		if got != c.want || eff != c.eff {
			t.Errorf("HTTP %d %s = %s/%d, want %s/%d", c.status, c.code, got, eff, c.want, c.eff)
		}
	}
	hooks := []struct {
		w    BelvoWebhook
		eff  Effect
		want Category
	}{
		{BelvoWebhook{Type: "LINK", Code: "invalid_credentials", ErrorCode: "login_error", ErrorMessage: "Invalid credentials provided to login to the institution"}, SetPrimary, LoginRequired},
		{BelvoWebhook{Type: "LINK", Code: "invalid_credentials", ErrorCode: "login_error", ErrorMessage: "Your account is locked"}, SetPrimary, AccountLocked},
		{BelvoWebhook{Type: "LINK", Code: "token_required", ErrorCode: "token_required"}, SetPrimary, MFARequired},
		{BelvoWebhook{Type: "ACCOUNTS", Code: "new_accounts_available"}, NoChange, ""},
		{BelvoWebhook{Type: "ACCOUNTS", Code: "historical_update", ProcessType: "historical_update"}, NoChange, ""},
	}
	for _, h := range hooks {
		s := BelvoWebhookSignal(h.w, DefaultLoginRules(), t0)
		if s.Effect != h.eff || s.Category != h.want {
			t.Errorf("%s/%s: %d %s, want %d %s", h.w.Type, h.w.Code, s.Effect, s.Category, h.eff, h.want)
		}
	}
}

// TAXONOMY.md §4.4.
func TestRefineLogin(t *testing.T) {
	cases := map[string]Category{
		"Invalid credentials provided to login to the institution": LoginRequired,
		"":                                   LoginRequired,
		"User account LOCKED after attempts": AccountLocked,
		"Cuenta bloqueada":                   AccountLocked,
		"Your password has expired":          PasswordExpired,
		"La contraseña está vencida":         PasswordExpired,
		"La contraseña expiró":               PasswordExpired,
		"A senha expirou":                    PasswordExpired,
		"Account suspended":                  AccountLocked,
		"Cuenta suspendida":                  AccountLocked,
		"You must log in to your bank":       ActionAtInstitution,
		"Please complete a process online":   ActionAtInstitution,
		"Activate online banking first":      ActionAtInstitution,
		"password wrong":                     LoginRequired,
	}
	for msg, want := range cases {
		if got := RefineLogin(msg, DefaultLoginRules()); got != want {
			t.Errorf("RefineLogin(%q) = %s, want %s", msg, got, want)
		}
	}
	custom := []LoginRule{{AnyOf: []string{"otp"}, Category: MFARequired}}
	if got := RefineLogin("Needs OTP", custom); got != MFARequired {
		t.Errorf("custom rule: %s", got)
	}
}

// TAXONOMY.md §5.
func TestCobalt(t *testing.T) {
	http := []struct {
		status int
		code   string
		want   Category
	}{
		{403, "login_required", LoginRequired},
		{401, "", IntegrationError},
		{403, "forbidden", IntegrationError},
		{429, "", RateLimited},
		{500, "", ProviderError},
		{503, "", ProviderError},
		{0, "", ProviderError},
		{400, "bad_request", Other},
	}
	for _, c := range http {
		if got := CobaltHTTPSignal(c.status, c.code, "", t0).Category; got != c.want {
			t.Errorf("HTTP %d %q = %s, want %s", c.status, c.code, got, c.want)
		}
	}
	events := []struct {
		e    CobaltEvent
		eff  Effect
		cat  Category
		warn Warning
	}{
		{CobaltEvent{Type: "access_token.login_required"}, SetPrimary, LoginRequired, ""},
		{CobaltEvent{Type: "access_token.login_required", ErrorType: "password_expired"}, SetPrimary, PasswordExpired, ""},
		{CobaltEvent{Type: "access_token.login_required", ErrorType: "account_locked"}, SetPrimary, AccountLocked, ""},
		{CobaltEvent{Type: "access_token.login_required", ErrorType: "mystery"}, SetPrimary, LoginRequired, ""},
		{CobaltEvent{Type: "access_token.password_change_warning", Message: "Change soon"}, SetWarning, "", PasswordChangeWarning},
		{CobaltEvent{Type: "appointment.failed"}, NoChange, "", ""},
		{CobaltEvent{Type: "patient.created"}, NoChange, "", ""},
	}
	for _, c := range events {
		s := CobaltEventSignal(c.e, t0)
		if s.Effect != c.eff || s.Category != c.cat || s.Warning != c.warn {
			t.Errorf("%s/%s: %d %q %q", c.e.Type, c.e.ErrorType, s.Effect, s.Category, s.Warning)
		}
	}
	if s := CobaltEventSignal(CobaltEvent{Type: "access_token.login_required", ErrorType: "mystery"}, t0); s.ProviderReason != "mystery" {
		t.Errorf("unknown error_type keeps the raw reason, got %q", s.ProviderReason)
	}
	if s := CobaltOK(SourceLinkResult, t0); s.Category != Healthy {
		t.Errorf("CobaltOK: %+v", s)
	}
}

// TAXONOMY.md §2: the table of categories.
func TestCategoryFacts(t *testing.T) {
	ranks := map[Category]int{Healthy: 0, LoginRequired: 75, MFARequired: 70, AccountLocked: 85, PasswordExpired: 80,
		ActionAtInstitution: 70, ConsentExpired: 75, ConsentInsufficient: 60, PermissionRevoked: 90, Incomplete: 55,
		NotFound: 50, Unsupported: 45, InstitutionDown: 20, RateLimited: 10, ProviderError: 10, IntegrationError: 40, Other: 5}
	for c, r := range ranks {
		if c.Rank() != r {
			t.Errorf("%s rank %d, want %d", c, c.Rank(), r)
		}
	}
	for _, c := range []Category{InstitutionDown, RateLimited, ProviderError, IntegrationError, Unsupported, NotFound, Other, PermissionRevoked} {
		if c.Remindable() {
			t.Errorf("%s must not be reminded", c)
		}
	}
	for _, c := range []Category{LoginRequired, MFARequired, AccountLocked, PasswordExpired, ActionAtInstitution, ConsentExpired, Incomplete} {
		if !c.Remindable() || !c.UserActionable() {
			t.Errorf("%s must be user-actionable and remindable", c)
		}
	}
	for _, c := range []Category{InstitutionDown, RateLimited, ProviderError} {
		if !c.Transient() {
			t.Errorf("%s is transient", c)
		}
	}
	if !ConsentExpiring.Remindable() || !PasswordChangeWarning.Remindable() || AccountRevokedPartial.Remindable() {
		t.Error("warning reminder eligibility is wrong")
	}
	cats := Categories()
	for i := 1; i < len(cats); i++ {
		if cats[i].Failing() && cats[i].Rank() > cats[i-1].Rank() {
			t.Errorf("Categories() not worst first at %s", cats[i])
		}
	}
}
