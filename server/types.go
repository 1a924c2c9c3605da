package server

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Which webhook types each receiver stores. A verified webhook of a type
// not listed here is acknowledged (200), counted as ignored in /metrics,
// logged with its type, and stored nowhere: Plaid retries any non-2xx for
// a day (plaid.com/docs/api/webhooks: "If there is no response or an
// error ... Plaid will retry") and Cobalt never retries a 4xx, so a refusal
// would only cost retries or lose nothing more. Known types that carry no
// health signal (transactions, appointments, …) are stored as
// informational events, so they are deduplicated and kept like the rest.

// plaidKnownType reports whether t is a webhook_type Plaid documents.
func plaidKnownType(t string) bool {
	switch t {
	case "ITEM", "LINK", "AUTH", // the health-relevant ones (PLAID.md §6.2)
		"TRANSACTIONS", "HOLDINGS", "INVESTMENTS_TRANSACTIONS", "LIABILITIES", "ASSETS", "INCOME",
		"IDENTITY", "IDENTITY_VERIFICATION", "STATEMENTS", "TRANSFER", "BANK_TRANSFERS",
		"PAYMENT_INITIATION", "PROCESSOR_TOKEN", "SIGNAL", "BASE_REPORT", "CHECK_REPORT", "BEACON":
		return true
	}
	return false
}

// belvoKnownType reports whether t is a webhook_type Belvo documents.
func belvoKnownType(t string) bool {
	switch t {
	case "LINK", "ACCOUNTS", // the health-relevant ones (BELVO.md §6.3)
		"TRANSACTIONS", "OWNERS", "BALANCES", "INCOMES", "RECURRING_EXPENSES", "RISK_INSIGHTS",
		"INVESTMENTS", "INVOICES", "TAX_COMPLIANCE_STATUS", "TAX_RETURNS", "TAX_STATUS",
		"TAX_DECLARATIONS", "TAX_RETENTIONS", "EMPLOYMENTS", "EMPLOYMENT_RECORDS":
		return true
	}
	return false
}

// cobaltKnownType reports whether t belongs to an event family Cobalt
// documents (COBALT.md §6.2): account, operation and sync events.
func cobaltKnownType(t string) bool {
	family, rest, ok := strings.Cut(t, ".")
	if !ok || rest == "" {
		return false
	}
	switch family {
	case "access_token", "appointment", "patient", "note":
		return true
	}
	return false
}

// checkType reads the type field of a webhook body (the first of fields
// that holds a string: "webhook_type", "type" or "event_type") and refuses
// a type that known does not accept. A body that does not decode, or has
// no type, passes here: the provider's parser says what is wrong with it.
func checkType(body []byte, known func(string) bool, fields ...string) error {
	var env struct {
		WebhookType json.RawMessage `json:"webhook_type"`
		Type        json.RawMessage `json:"type"`
		EventType   json.RawMessage `json:"event_type"`
	}
	if json.Unmarshal(body, &env) != nil {
		return nil
	}
	for _, f := range fields {
		var raw json.RawMessage
		switch f {
		case "webhook_type":
			raw = env.WebhookType
		case "type":
			raw = env.Type
		case "event_type":
			raw = env.EventType
		}
		var t string
		if json.Unmarshal(raw, &t) != nil || t == "" {
			continue
		}
		if !known(t) {
			return fmt.Errorf("unknown webhook type %q", printable(t, 64))
		}
		return nil
	}
	return nil
}
