// Package provider defines the one interface relink speaks to Plaid, Belvo
// and Cobalt through. The real HTTP clients live in plaid/, belvo/ and
// cobalt/; sandbox/ emulates all three APIs on loopback for tests and the demo.
// Clients turn wire formats into health.Signals (via the pure mapping in
// package health) and never touch the store: backend operations do that.
package provider

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"iter"
	"strconv"
	"time"

	"github.com/relink/relink/health"
)

// Names of the supported providers, as used in CONN ids and the config.
const (
	Plaid  = "plaid"
	Belvo  = "belvo"
	Cobalt = "cobalt"
)

// Names lists the supported providers.
func Names() []string { return []string{Plaid, Belvo, Cobalt} }

// Conn is what a client needs to act on one registered connection.
type Conn struct {
	ProviderID  string // plaid item_id | belvo link id | cobalt access_token_reference_id
	AccessToken string // plaid and cobalt; empty for belvo. Secret: never log or print.
	UserRef     string // our user id (Plaid client_user_id, Belvo external_id, Cobalt user_id)
	// OrgID is Cobalt's org_id: our organization this connection belongs to
	// (e.g. the clinic), from the registry's org_id column or cobalt.org_id;
	// "" for the others.
	OrgID string
	// Return is where UpdateLink asks the provider's hosted page to send
	// the user back to (Belvo's widget.callback_urls, Cobalt Link's
	// callback URL): relink serve's pages, whose signed ticket names this
	// connection. Empty when relink has no serve.public_url: then none is
	// asked for. Plaid's client does not use it.
	Return ReturnURLs
}

// ReturnURLs are the pages a user comes back to from a provider's hosted
// update page.
type ReturnURLs struct {
	Done string // the update was completed
	Exit string // the user left before completing it ("" when the provider has no such redirect)
}

// LinkFinisher is a client whose hosted update page sends the user back
// with a token that proves the session completed (Cobalt Link's
// ?token=<public_token>): FinishLink exchanges it and returns the
// observation that records the completed session, and the access token
// the exchange gave (a secret: the caller stores it if it is not the one
// it has, and never logs it).
type LinkFinisher interface {
	FinishLink(ctx context.Context, c Conn, publicToken string) (Observation, string, error)
}

// Observation is one mapped provider signal about one connection.
type Observation struct {
	ProviderID  string
	Institution string // when the provider reports it; "" otherwise
	EventID     string // the provider's event id (webhooks, event history); "" for polls
	Kind        string // "poll", "webhook", "event", "api_error": for the history
	Signal      health.Signal
	// Recheck asks the caller to read this connection again with Check
	// (Belvo historical_update after a failure, Plaid SESSION_FINISHED).
	Recheck bool
	// Raw is the provider's payload as received (webhooks, events), kept in
	// the history for support staff; it must hold no secret.
	Raw []byte
	// Skipped, when set, says why an event the provider sent could not be
	// read (Kind "skipped"): the caller counts and reports it and stores
	// nothing; only ProviderID (the connection whose history held it) and
	// EventID (when readable) are set besides. One unreadable event never
	// stops a sync.
	Skipped error
}

// LinkToken is a freshly minted update-mode link.
type LinkToken struct {
	URL       string // where the user goes: hosted page, widget, or our app's page with the token
	ExpiresAt time.Time
	// Token is the provider's token in URL (Plaid's link_token), when the
	// provider later names it in a webhook: only its TokenHash is stored.
	Token string
}

// TokenHash is how a minted link token is recorded: hex SHA-256, so a
// webhook that names the token (Plaid LINK/SESSION_FINISHED) can be tied to
// its connection without keeping the token.
func TokenHash(token string) string {
	if token == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// WebhookVerifier checks a webhook's signature header against its raw body
// as the provider documents it. Its errors say what is wrong with the
// webhook; an error that is not the webhook's fault (the provider could
// not be asked for a key) is reported as such by the implementation.
type WebhookVerifier interface {
	Verify(ctx context.Context, header string, body []byte) error
}

// WebhookKeys is a client whose provider signs webhooks with keys served
// by its own API (Plaid): relink serve asks it for one verifier, which
// caches the keys.
type WebhookKeys interface {
	NewWebhookVerifier() WebhookVerifier
}

// WebhookParser is a client that reads its provider's verified webhooks
// with what it was configured with (Belvo's login rules).
type WebhookParser interface {
	ParseWebhook(body []byte, receivedAt time.Time) (Observation, error)
}

// Provider is one aggregator's API.
type Provider interface {
	Name() string
	// Sync reads the provider's view of connection health and emits one
	// Observation per connection (or event). Plaid polls each conn in conns
	// within its rate limits; Belvo lists all links; Cobalt reads its event
	// history from cursor. It returns the cursor to resume from next time.
	// A failure of one connection is emitted as its observation; a failure of
	// the provider as a whole is the returned error.
	Sync(ctx context.Context, conns iter.Seq[Conn], cursor string, emit func(Observation) error) (string, error)
	// Check reads one connection's health now.
	Check(ctx context.Context, c Conn) (Observation, error)
	// UpdateLink mints an update-mode link for c.
	UpdateLink(ctx context.Context, c Conn) (LinkToken, error)
}

// ErrNotSupported is returned by calls a provider's API does not offer.
var ErrNotSupported = errors.New("not supported by this provider")

// Error is a failed provider call: which provider, which call, what the
// provider said, and what to do. It never carries a secret.
type Error struct {
	Provider string
	Call     string         // e.g. "POST /item/get"
	Status   int            // HTTP status; 0 for a transport failure
	Code     string         // the provider's error code, verbatim
	Message  string         // the provider's message (never a secret)
	Hint     string         // what to do
	Signal   *health.Signal // the mapped health signal of this failure, if it concerns a connection
	Err      error          // underlying transport error
}

func (e *Error) Error() string {
	s := e.Provider + ": " + e.Call + " failed"
	if e.Status != 0 {
		s += " (HTTP " + strconv.Itoa(e.Status) + ")"
	}
	if e.Code != "" {
		s += ": " + e.Code
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	if e.Hint != "" {
		s += "; " + e.Hint
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }
