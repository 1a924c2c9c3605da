package sandbox

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// ---- Plaid error bodies ----

// plaidErrorBody is a Plaid error object (PLAID.md §5.1). Status is set only
// in webhooks, RequestID only in API answers.
type plaidErrorBody struct {
	ErrorType        string  `json:"error_type"`
	ErrorCode        string  `json:"error_code"`
	ErrorCodeReason  *string `json:"error_code_reason"`
	ErrorMessage     string  `json:"error_message"`
	DisplayMessage   *string `json:"display_message"`
	RequestID        string  `json:"request_id,omitempty"`
	Causes           []any   `json:"causes"`
	Status           *int    `json:"status,omitempty"`
	DocumentationURL string  `json:"documentation_url"`
	SuggestedAction  *string `json:"suggested_action"`
}

func (p *Plaid) errorBody(errType, code, reason, display, requestID string, status *int) *plaidErrorBody {
	if errType == "" {
		errType, _, _ = plaidCodeInfo(code)
	}
	_, msg, _ := plaidCodeInfo(code)
	e := &plaidErrorBody{ErrorType: errType, ErrorCode: code, ErrorMessage: msg, RequestID: requestID,
		Causes: []any{}, Status: status, DocumentationURL: "https://plaid.com/docs/errors/"}
	if reason != "" {
		e.ErrorCodeReason = &reason
	}
	if display != "" {
		e.DisplayMessage = &display
	}
	return e
}

func (p *Plaid) fail(w http.ResponseWriter, status int, errType, code, msg string) {
	e := p.errorBody(errType, code, "", "", plaidRandomID(15), nil)
	e.ErrorMessage = msg
	p.writeJSON(w, status, e)
}

func (p *Plaid) missing(w http.ResponseWriter, fields ...string) {
	p.fail(w, 400, "INVALID_REQUEST", "MISSING_FIELDS", "the following required fields are missing: "+strings.Join(fields, ", "))
}

func (p *Plaid) writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "encoding the answer: "+err.Error(), 500)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}

func plaidErrorJSON(errType, code, msg string) []byte {
	b, _ := json.Marshal(map[string]any{"error_type": errType, "error_code": code, "error_code_reason": nil,
		"error_message": msg, "display_message": nil, "request_id": plaidRandomID(15), "causes": []any{},
		"documentation_url": "https://plaid.com/docs/errors/", "suggested_action": nil})
	return b
}

// plaidCodeInfo says how the emulator treats an error code: its error_type,
// its error_message, and whether /item/get fails with it (asCall) instead of
// returning the Item with item.error set. Which codes persist in item.error
// is not documented (PLAID.md §9); the emulator keeps login-type ITEM_ERRORs
// as state and answers product-level, institution, rate-limit, platform and
// integration codes as a failed call.
func plaidCodeInfo(code string) (errType, msg string, asCall bool) {
	switch code {
	case "ITEM_LOGIN_REQUIRED":
		return "ITEM_ERROR", "the login details of this item have changed (credentials, MFA, or required user action) and a user login is required to update this information. use Link's update mode to restore the item to a good state", false
	case "PASSWORD_RESET_REQUIRED", "ITEM_LOCKED", "USER_SETUP_REQUIRED", "INVALID_CREDENTIALS", "INVALID_UPDATED_USERNAME",
		"INVALID_MFA", "INVALID_OTP", "INVALID_SEND_METHOD", "INVALID_PHONE_NUMBER", "USER_INPUT_TIMEOUT",
		"INSUFFICIENT_CREDENTIALS", "ACCESS_NOT_GRANTED", "NO_ACCOUNTS", "USER_PERMISSION_REVOKED",
		"ITEM_NOT_SUPPORTED", "MFA_NOT_SUPPORTED":
		return "ITEM_ERROR", "the item is in the error state " + code, false
	case "ITEM_NOT_FOUND", "ITEM_CONCURRENTLY_DELETED", "ITEM_NO_ERROR", "NO_AUTH_ACCOUNTS", "no-depository-accounts",
		"NO_INVESTMENT_ACCOUNTS", "NO_INVESTMENT_AUTH_ACCOUNTS", "NO_LIABILITY_ACCOUNTS", "PRODUCTS_NOT_SUPPORTED",
		"PRODUCT_NOT_ENABLED", "PRODUCT_NOT_READY", "INSTANT_MATCH_FAILED":
		return "ITEM_ERROR", "the request failed for this item: " + code, true
	case "INSTITUTION_DOWN", "INSTITUTION_NOT_RESPONDING", "INSTITUTION_NOT_AVAILABLE", "INSTITUTION_NO_LONGER_SUPPORTED",
		"INSTITUTION_NOT_ENABLED_IN_ENVIRONMENT", "INSTITUTION_NOT_FOUND", "INSTITUTION_REGISTRATION_REQUIRED",
		"UNAUTHORIZED_INSTITUTION", "UNSUPPORTED_RESPONSE":
		return "INSTITUTION_ERROR", "the institution failed: " + code, true
	case "ACCOUNTS_LIMIT", "ACCOUNTS_BALANCE_GET_LIMIT", "AUTH_LIMIT", "BALANCE_LIMIT", "CREDITS_EXHAUSTED",
		"IDENTITY_LIMIT", "INSTITUTIONS_GET_LIMIT", "INSTITUTIONS_GET_BY_ID_LIMIT", "INSTITUTION_RATE_LIMIT",
		"INVESTMENT_HOLDINGS_GET_LIMIT", "INVESTMENT_TRANSACTIONS_LIMIT", "ITEM_GET_LIMIT", "RATE_LIMIT",
		"TRANSACTIONS_LIMIT", "TRANSACTIONS_SYNC_LIMIT":
		return "RATE_LIMIT_EXCEEDED", "rate limit exceeded for attempts to access this item. please try again later", true
	case "INTERNAL_SERVER_ERROR", "plaid-internal-error", "PLANNED_MAINTENANCE":
		return "API_ERROR", "an unexpected error occurred", true
	case "INVALID_API_KEYS", "INVALID_ACCESS_TOKEN", "INVALID_LINK_TOKEN", "INVALID_PUBLIC_TOKEN",
		"UNAUTHORIZED_ENVIRONMENT", "INVALID_WEBHOOK_VERIFICATION_KEY_ID", "ADDITIONAL_CONSENT_REQUIRED":
		return "INVALID_INPUT", "invalid input: " + code, true
	case "MISSING_FIELDS", "UNKNOWN_FIELDS", "INVALID_FIELD", "INVALID_BODY", "INVALID_HEADERS",
		"INCOMPATIBLE_API_VERSION", "NOT_FOUND":
		return "INVALID_REQUEST", "invalid request: " + code, true
	}
	return "ITEM_ERROR", "the item is in the error state " + code, false
}

// plaidStatus is the HTTP status Plaid answers a code with.
func plaidStatus(errType, code string) int {
	switch {
	case errType == "RATE_LIMIT_EXCEEDED":
		return 429
	case code == "PLANNED_MAINTENANCE":
		return 503
	case errType == "API_ERROR":
		return 500
	}
	return 400
}

// ---- small helpers ----

func plaidLanguages() []string {
	return []string{"da", "de", "en", "es", "et", "fr", "hi", "it", "ja", "lt", "lv", "nl", "no", "pl", "pt", "ro", "sv", "vi", "zh"}
}

func plaidCountries() []string {
	return []string{"US", "CA", "GB", "IE", "FR", "ES", "NL", "DE", "IT", "PL", "BE", "AT", "DK", "FI", "NO", "PT", "SE", "EE", "LT", "LV"}
}

func plaidTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func plaidTimePtr(t *time.Time) any {
	if t == nil {
		return nil
	}
	return plaidTime(*t)
}

func plaidNullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

const plaidAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// plaidRandomID is a random base-62 string, like Plaid's item and request ids.
func plaidRandomID(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	for i := range b {
		b[i] = plaidAlphabet[int(b[i])%len(plaidAlphabet)]
	}
	return string(b)
}

func plaidUUID() string {
	b := make([]byte, 16)
	rand.Read(b)
	b[6], b[8] = b[6]&0x0f|0x40, b[8]&0x3f|0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
