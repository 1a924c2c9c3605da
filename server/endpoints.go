package server

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/relink/relink/provider"
	"github.com/relink/relink/provider/belvo"
	"github.com/relink/relink/provider/cobalt"
	"github.com/relink/relink/provider/plaid"
)

// endpoint is one provider's webhook receiver: how to verify, check and
// parse its requests.
type endpoint struct {
	route route
	off   string // why the receiver is off; "" when on
	// verify authenticates the raw body; it returns how (for the history).
	verify func(ctx context.Context, h http.Header, body []byte) (string, *rejection)
	known  func(body []byte) error // refuses unknown webhook types
	parse  func(body []byte, receivedAt time.Time) (provider.Observation, error)
	// register creates a connection the registry lacks (Belvo lists its
	// links itself); otherwise the event waits for the import.
	register bool
}

func (s *Server) plaidEndpoint() *endpoint {
	ep := &endpoint{route: routePlaid, parse: plaid.ParseWebhook,
		known: func(b []byte) error { return checkType(b, plaidKnownType, "webhook_type") }}
	if s.cfg.PlaidVerifier == nil {
		ep.off = "plaid webhooks are off: set [plaid] client_id and secret in relink's config"
		return ep
	}
	v := s.cfg.PlaidVerifier // it asks Plaid once per kid however many wait (plaid.Verifier)
	ep.verify = func(ctx context.Context, h http.Header, body []byte) (string, *rejection) {
		header := h.Get("Plaid-Verification")
		kid := jwtKeyID(header)
		if err := v.Verify(ctx, header, body); err != nil {
			if plaidRefused(err) {
				return "", &rejection{http.StatusUnauthorized, err.Error()}
			}
			if errors.Is(err, plaid.ErrLookupBudget) { // maybe genuine, with a key Plaid just rotated in
				// A flood of made-up kids lands here: the refusal's own
				// Warn line is enough, not an Error line per request.
				return "", &rejection{http.StatusServiceUnavailable, "too many unknown signing keys to ask Plaid about now; retry later"}
			}
			// The caller is not authenticated: the key lookup's error
			// (plaid.base_url, the dial error) goes to the log only.
			s.log.Error("plaid webhook: could not look up its verification key", "kid", kid, "error", err)
			return "", &rejection{http.StatusServiceUnavailable, "could not verify the webhook right now; retry later"}
		}
		return "es256 kid=" + kid, nil
	}
	return ep
}

// plaidRefused reports whether a Verify error is the webhook's fault (as
// opposed to Plaid's key endpoint failing us).
func plaidRefused(err error) bool {
	for _, e := range []error{plaid.ErrMissingHeader, plaid.ErrMalformedJWT, plaid.ErrBadAlgorithm, plaid.ErrUnknownKey,
		plaid.ErrExpiredKey, plaid.ErrBadSignature, plaid.ErrStale, plaid.ErrBodyMismatch} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// jwtKeyID reads the kid of a verified compact JWT.
func jwtKeyID(token string) string {
	head, _, _ := strings.Cut(token, ".")
	raw, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		return "?"
	}
	var h struct {
		Kid string `json:"kid"`
	}
	if json.Unmarshal(raw, &h) != nil {
		return "?"
	}
	return printable(h.Kid, maxLoggedIDBytes)
}

func (s *Server) belvoEndpoint() *endpoint {
	ep := &endpoint{route: routeBelvo, register: true,
		known: func(b []byte) error { return checkType(b, belvoKnownType, "webhook_type") }}
	switch c, want := s.cfg.Belvo, s.cfg.BelvoAuthorization; {
	case c == nil:
		ep.off = "belvo webhooks are off: set [belvo] secret_id and secret_password in relink's config"
	case want == "":
		ep.off = "belvo webhooks are off: set belvo.webhook_authorization (or env BELVO_WEBHOOK_AUTHORIZATION)"
	default:
		ep.parse = c.ParseWebhook
		ep.verify = func(_ context.Context, h http.Header, _ []byte) (string, *rejection) {
			if err := belvo.VerifyWebhook(h.Get("Authorization"), want); err != nil {
				return "", &rejection{http.StatusUnauthorized, err.Error()}
			}
			return "authorization", nil
		}
	}
	return ep
}

func (s *Server) cobaltEndpoint() *endpoint {
	ep := &endpoint{route: routeCobalt, parse: cobalt.ParseWebhook,
		known: func(b []byte) error { return checkType(b, cobaltKnownType, "type", "event_type") }}
	if s.cfg.CobaltSecret == "" {
		ep.off = "cobalt webhooks are off: set cobalt.webhook_secret (or env COBALT_WEBHOOK_SECRET)"
		return ep
	}
	ep.verify = s.cobaltVerify
	return ep
}

func (s *Server) cobaltVerify(_ context.Context, h http.Header, body []byte) (string, *rejection) {
	if err := cobalt.VerifyWebhook(h.Get(cobalt.SignatureHeader), body, s.cfg.CobaltSecret); err != nil {
		return "", &rejection{http.StatusUnauthorized, err.Error()}
	}
	return "hmac-sha256", nil
}
