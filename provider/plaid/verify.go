package plaid

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/time/rate"

	"github.com/relink/relink/provider"
)

// The ways a Plaid-Verification header can be refused (PLAID.md §6.3). Verify
// wraps them with detail; test with errors.Is.
var (
	ErrMissingHeader = errors.New("plaid webhook: no Plaid-Verification header")
	ErrMalformedJWT  = errors.New("plaid webhook: Plaid-Verification is not a valid compact JWT")
	ErrBadAlgorithm  = errors.New("plaid webhook: signature algorithm is not ES256")
	ErrUnknownKey    = errors.New("plaid webhook: unknown signing key")
	ErrExpiredKey    = errors.New("plaid webhook: signing key has expired")
	ErrBadSignature  = errors.New("plaid webhook: signature does not verify")
	ErrStale         = errors.New("plaid webhook: iat is not within 5 minutes of now")
	ErrBodyMismatch  = errors.New("plaid webhook: body does not match request_body_sha256")
)

// MaxWebhookAge is how old a webhook's iat may be.
const MaxWebhookAge = 5 * time.Minute

// maxHeader bounds the work spent on a header before any check.
const maxHeader = 4096

// Verifier checks Plaid-Verification headers. Keys come from
// /webhook_verification_key/get and are cached by kid. Safe for concurrent use.
type Verifier struct {
	client *Client
	// Now is the clock for iat and key expiry; nil means time.Now. Set it
	// before the first Verify.
	Now func() time.Time

	lookups *rate.Limiter // asks Plaid about unknown kids at most this often

	mu   sync.Mutex
	keys map[string]verificationKey
}

type verificationKey struct {
	pub       *ecdsa.PublicKey
	expiredAt *time.Time
}

// NewWebhookVerifier is NewVerifier(c), as relink serve's wiring asks for
// it (provider.WebhookKeys).
func (c *Client) NewWebhookVerifier() provider.WebhookVerifier { return NewVerifier(c) }

// NewVerifier returns a Verifier that fetches keys with c's credentials.
func NewVerifier(c *Client) *Verifier {
	return &Verifier{client: c, lookups: rate.NewLimiter(rate.Every(time.Second), 10),
		keys: map[string]verificationKey{}}
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

// Verify checks header (the Plaid-Verification value) against the raw body
// bytes as received: ES256 only, a known unexpired key, a valid signature,
// iat at most 5 minutes old, and the body's SHA-256 (constant-time compare).
func (v *Verifier) Verify(ctx context.Context, header string, body []byte) error {
	header = strings.TrimSpace(header)
	if header == "" {
		return ErrMissingHeader
	}
	alg, kid, err := peekJOSEHeader(header)
	if err != nil {
		return err
	}
	if alg != string(jose.ES256) {
		return fmt.Errorf("%w (it is %q)", ErrBadAlgorithm, alg)
	}
	if kid == "" {
		return fmt.Errorf("%w: the JWT header has no kid", ErrUnknownKey)
	}
	jws, err := jose.ParseSignedCompact(header, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		return fmt.Errorf("%w: %v", ErrMalformedJWT, err)
	}
	key, err := v.key(ctx, kid)
	if err != nil {
		return err
	}
	now := v.now()
	if key.expiredAt != nil && !now.Before(*key.expiredAt) {
		return fmt.Errorf("%w: key %s expired at %s", ErrExpiredKey, kid, key.expiredAt.UTC().Format(time.RFC3339))
	}
	payload, err := jws.Verify(key.pub)
	if err != nil {
		return fmt.Errorf("%w (key %s)", ErrBadSignature, kid)
	}
	var claims struct {
		IAT        *float64 `json:"iat"`
		BodySHA256 string   `json:"request_body_sha256"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil || claims.IAT == nil || claims.BodySHA256 == "" {
		return fmt.Errorf("%w: the claims need iat and request_body_sha256", ErrMalformedJWT)
	}
	iat := time.Unix(int64(*claims.IAT), 0)
	if age := now.Sub(iat); age > MaxWebhookAge || age < -MaxWebhookAge {
		return fmt.Errorf("%w: iat %s, now %s", ErrStale, iat.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	sum := sha256.Sum256(body)
	want := hex.EncodeToString(sum[:])
	if subtle.ConstantTimeCompare([]byte(strings.ToLower(claims.BodySHA256)), []byte(want)) != 1 {
		return ErrBodyMismatch
	}
	return nil
}

// peekJOSEHeader reads alg and kid from a compact JWT without trusting them.
func peekJOSEHeader(token string) (alg, kid string, err error) {
	parts := strings.Split(token, ".")
	if len(token) > maxHeader || len(parts) != 3 {
		return "", "", fmt.Errorf("%w: want header.payload.signature", ErrMalformedJWT)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return "", "", fmt.Errorf("%w: header is not base64url", ErrMalformedJWT)
	}
	var h struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
	}
	if err := json.Unmarshal(raw, &h); err != nil {
		return "", "", fmt.Errorf("%w: header is not JSON", ErrMalformedJWT)
	}
	return h.Alg, h.Kid, nil
}

// key returns the cached key for kid, or asks Plaid. A miss also refreshes
// the other cached keys that had no expiry, so a rotation with expiry is seen.
func (v *Verifier) key(ctx context.Context, kid string) (verificationKey, error) {
	v.mu.Lock()
	k, ok := v.keys[kid]
	v.mu.Unlock()
	if ok {
		return k, nil
	}
	if !v.lookups.Allow() {
		return verificationKey{}, fmt.Errorf("%w %q (too many unknown key ids: not asking Plaid now)", ErrUnknownKey, kid)
	}
	k, err := v.fetch(ctx, kid)
	if err != nil {
		return verificationKey{}, err
	}
	v.mu.Lock()
	v.keys[kid] = k
	var refresh []string
	for id, ck := range v.keys {
		if id != kid && ck.expiredAt == nil {
			refresh = append(refresh, id)
		}
	}
	v.mu.Unlock()
	for _, id := range refresh {
		fresh, err := v.fetch(ctx, id)
		v.mu.Lock()
		switch {
		case err == nil:
			v.keys[id] = fresh
		case errors.Is(err, ErrUnknownKey):
			delete(v.keys, id)
		}
		v.mu.Unlock()
	}
	return k, nil
}

// fetch asks /webhook_verification_key/get for kid.
func (v *Verifier) fetch(ctx context.Context, kid string) (verificationKey, error) {
	var resp verificationKeyResponse
	perr, err := v.client.post(ctx, "/webhook_verification_key/get", verificationKeyRequest{KeyID: kid}, &resp, "")
	if perr != nil && perr.ErrorCode == "INVALID_WEBHOOK_VERIFICATION_KEY_ID" {
		return verificationKey{}, fmt.Errorf("%w %q: Plaid does not know it", ErrUnknownKey, kid)
	}
	if err != nil {
		return verificationKey{}, fmt.Errorf("plaid webhook: fetching verification key %s: %w", kid, err)
	}
	jwk := resp.Key
	if jwk.Kty != "EC" || jwk.Crv != "P-256" || (jwk.Alg != "" && jwk.Alg != string(jose.ES256)) || jwk.Kid != kid {
		return verificationKey{}, fmt.Errorf("%w %q: Plaid answered with a %s/%s/%s key %q", ErrUnknownKey, kid, jwk.Kty, jwk.Crv, jwk.Alg, jwk.Kid)
	}
	pub, err := ecPublicKey(jwk.X, jwk.Y)
	if err != nil {
		return verificationKey{}, fmt.Errorf("plaid webhook: verification key %s: %w", kid, err)
	}
	k := verificationKey{pub: pub}
	if jwk.ExpiredAt != nil {
		t := time.Unix(*jwk.ExpiredAt, 0)
		k.expiredAt = &t
	}
	return k, nil
}

// ecPublicKey builds a P-256 key from base64url x and y, checking the point.
func ecPublicKey(x, y string) (*ecdsa.PublicKey, error) {
	xb, err1 := base64.RawURLEncoding.DecodeString(x)
	yb, err2 := base64.RawURLEncoding.DecodeString(y)
	if err := errors.Join(err1, err2); err != nil || len(xb) != 32 || len(yb) != 32 {
		return nil, errors.New("x and y must be 32-byte base64url values")
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, xb...), yb...))
	if err != nil {
		return nil, fmt.Errorf("not a P-256 point: %w", err)
	}
	return pub, nil
}
