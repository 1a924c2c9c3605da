package plaid

import "time"

// The JSON shapes of PLAID.md §4–§6, only the fields relink reads or sends.

// apiVersion is the only Plaid API version relink speaks.
const apiVersion = "2020-09-14"

// wireError is a Plaid error object (PLAID.md §5.1), as a call's body or
// embedded in item.error and in webhooks.
type wireError struct {
	ErrorType       string  `json:"error_type"`
	ErrorCode       string  `json:"error_code"`
	ErrorCodeReason *string `json:"error_code_reason"`
	ErrorMessage    string  `json:"error_message"`
	DisplayMessage  *string `json:"display_message"`
	RequestID       string  `json:"request_id"`
}

type itemGetRequest struct {
	AccessToken string `json:"access_token"`
}

type itemGetResponse struct {
	Item struct {
		ItemID                string     `json:"item_id"`
		InstitutionName       *string    `json:"institution_name"`
		Error                 *wireError `json:"error"`
		ConsentExpirationTime *time.Time `json:"consent_expiration_time"`
	} `json:"item"`
	RequestID string `json:"request_id"`
}

type linkUser struct {
	ClientUserID string `json:"client_user_id"`
}

type hostedLink struct {
	URLLifetimeSeconds int `json:"url_lifetime_seconds,omitempty"`
}

// linkTokenCreateRequest is the update-mode request of PLAID.md §4.2: no
// products, the Item's access_token.
type linkTokenCreateRequest struct {
	ClientName   string      `json:"client_name"`
	Language     string      `json:"language"`
	CountryCodes []string    `json:"country_codes"`
	User         linkUser    `json:"user"`
	AccessToken  string      `json:"access_token"`
	HostedLink   *hostedLink `json:"hosted_link,omitempty"`
}

type linkTokenCreateResponse struct {
	LinkToken     string    `json:"link_token"`
	Expiration    time.Time `json:"expiration"`
	HostedLinkURL string    `json:"hosted_link_url"`
	RequestID     string    `json:"request_id"`
}

type verificationKeyRequest struct {
	KeyID string `json:"key_id"`
}

type verificationKeyResponse struct {
	Key struct {
		Alg       string `json:"alg"`
		Crv       string `json:"crv"`
		Kty       string `json:"kty"`
		Kid       string `json:"kid"`
		X         string `json:"x"`
		Y         string `json:"y"`
		CreatedAt int64  `json:"created_at"`
		ExpiredAt *int64 `json:"expired_at"`
	} `json:"key"`
}

// webhookBody is an ITEM, AUTH or LINK webhook (PLAID.md §6.2).
type webhookBody struct {
	WebhookType           string     `json:"webhook_type"`
	WebhookCode           string     `json:"webhook_code"`
	ItemID                string     `json:"item_id"`
	Error                 *wireError `json:"error"`
	Reason                string     `json:"reason"`
	ConsentExpirationTime *time.Time `json:"consent_expiration_time"`
	DisconnectTime        *time.Time `json:"disconnect_time"`
	Status                string     `json:"status"`
	LinkToken             string     `json:"link_token"`
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
