package plaid

import (
	"container/list"
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
	"hash/maphash"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/sync/singleflight"
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

// ErrLookupBudget is Verify's answer when the webhook's kid is not known
// yet and the budget of questions to Plaid about unknown kids is spent for
// now. It is not the webhook's fault (it may be genuine, signed with a key
// Plaid just rotated in): answer it "retry later" (503), never "refused".
var ErrLookupBudget = errors.New("plaid webhook: too many unknown signing keys to ask Plaid about now")

// MaxWebhookAge is how old a webhook's iat may be.
const MaxWebhookAge = 5 * time.Minute

// maxHeader bounds the work spent on a header before any check.
const maxHeader = 4096

// maxKidLen bounds a plausible kid. Plaid's are UUIDs (36 bytes).
const maxKidLen = 128

// lookupTimeout bounds one question to Plaid, whoever waits for it: Plaid
// itself waits 10 s for a webhook's answer (PLAID.md §6.1).
const lookupTimeout = 10 * time.Second

// Defaults of VerifierLimits.
const (
	DefaultNewPerSecond    = 1.0
	DefaultNewBurst        = 10
	DefaultRepeatPerSecond = 1.0
	DefaultRepeatBurst     = 10
	DefaultNegativeTTL     = time.Minute
	DefaultNegativeEntries = 4096
	DefaultKeys            = 64
	DefaultSightingSlots   = 1 << 16
)

// VerifierLimits bound what unknown key ids (kids) can cost: questions to
// Plaid and memory. Zero fields take the Default… values.
//
// Plaid serves its webhook keys one kid at a time: the only key endpoint of
// its API spec (plaid/plaid-openapi 2020-09-14.yml, operation
// webhookVerificationKeyGet) is /webhook_verification_key/get with a
// required key_id, and none lists the current keys, so a key set cannot be
// refreshed in one call. A kid cannot be told real before Plaid is asked
// about it, and anyone can send JWTs with made-up kids. Two budgets keep
// such a flood from starving a kid Plaid has just rotated in:
//
//   - New: kids seen once. Anyone can mint these, so a flood spends all of it.
//   - Repeat: kids seen at least twice and never asked about. A flood of
//     single-use kids never reaches it, while a rotated-in kid is on every
//     webhook Plaid signs from then on, and on each of Plaid's retries of a
//     503, so its second sighting is looked up from this budget. A kid
//     Plaid already said no to draws on New again once that answer
//     expires, so refused kids cannot be recycled into Repeat.
//
// An attacker that sends each made-up kid twice competes for Repeat, at two
// requests a lookup; only something the verifier does not see (Plaid's
// published source addresses, the Items the webhook names) could tell it
// apart. Real keys, once fetched, come from the key cache and cost nothing;
// an exhausted budget is ErrLookupBudget, which Plaid should be told to
// retry. At the defaults Plaid gets at most 2 questions a second about
// unknown kids (20 in a burst), plus, after a real rotation, one per
// cached key still without an expiry.
type VerifierLimits struct {
	NewPerSecond    float64 // lookups per second of kids seen once
	NewBurst        int
	RepeatPerSecond float64 // lookups per second of kids seen again
	RepeatBurst     int
	// NegativeTTL is how long Plaid's "no such key" is believed; the
	// answer for a kid asked about again after that lasts 10 times longer.
	NegativeTTL time.Duration
	// NegativeEntries bounds the "no such key" answers kept (least
	// recently used dropped first).
	NegativeEntries int
	// Keys bounds the real keys kept (expired, then oldest, dropped first).
	Keys int
	// SightingSlots is the size of the fixed table that counts sightings of
	// unknown kids (8 bytes a slot, allocated once).
	SightingSlots int
}

func (l VerifierLimits) withDefaults() VerifierLimits {
	if l.NewPerSecond <= 0 {
		l.NewPerSecond = DefaultNewPerSecond
	}
	if l.NewBurst <= 0 {
		l.NewBurst = DefaultNewBurst
	}
	if l.RepeatPerSecond <= 0 {
		l.RepeatPerSecond = DefaultRepeatPerSecond
	}
	if l.RepeatBurst <= 0 {
		l.RepeatBurst = DefaultRepeatBurst
	}
	if l.NegativeTTL <= 0 {
		l.NegativeTTL = DefaultNegativeTTL
	}
	if l.NegativeEntries <= 0 {
		l.NegativeEntries = DefaultNegativeEntries
	}
	if l.Keys <= 0 {
		l.Keys = DefaultKeys
	}
	if l.SightingSlots <= 0 {
		l.SightingSlots = DefaultSightingSlots
	}
	return l
}

// Verifier checks Plaid-Verification headers. Keys come from
// /webhook_verification_key/get and are cached by kid; Plaid's "no such
// key" is cached too, for a while; concurrent requests with one unknown kid
// ask Plaid once (VerifierLimits says what the rest costs). Safe for
// concurrent use.
type Verifier struct {
	client *Client
	// Now is the clock for iat, key expiry and the negative cache; nil
	// means time.Now. Set it before the first Verify.
	Now func() time.Time

	limits     VerifierLimits
	newKids    *rate.Limiter // lookups of kids seen once
	repeatKids *rate.Limiter // lookups of kids seen again, never asked about
	flight     singleflight.Group
	seen       *sightings
	mu         sync.Mutex // guards keys and neg
	keys       map[string]verificationKey
	neg        *negativeCache
}

type verificationKey struct {
	pub       *ecdsa.PublicKey
	expiredAt *time.Time
	fetchedAt time.Time
}

// NewWebhookVerifier is NewVerifier(c), as relink serve's wiring asks for
// it (provider.WebhookKeys).
func (c *Client) NewWebhookVerifier() provider.WebhookVerifier { return NewVerifier(c) }

// NewVerifier returns a Verifier that fetches keys with c's credentials,
// with the default limits.
func NewVerifier(c *Client) *Verifier { return NewVerifierWithLimits(c, VerifierLimits{}) }

// NewVerifierWithLimits is NewVerifier with other limits.
func NewVerifierWithLimits(c *Client, l VerifierLimits) *Verifier {
	l = l.withDefaults()
	return &Verifier{client: c, limits: l,
		newKids:    rate.NewLimiter(rate.Limit(l.NewPerSecond), l.NewBurst),
		repeatKids: rate.NewLimiter(rate.Limit(l.RepeatPerSecond), l.RepeatBurst),
		seen:       newSightings(l.SightingSlots),
		keys:       map[string]verificationKey{},
		neg:        newNegativeCache(l.NegativeEntries)}
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
//
// Everything that can be checked without the key is checked before Plaid
// is asked about an unknown kid: a replayed or garbled header costs no
// question. A kid Plaid cannot be asked about now gives ErrLookupBudget.
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
	if !plausibleKid(kid) {
		return fmt.Errorf("%w: the JWT header's kid is not a plausible key id", ErrUnknownKey)
	}
	jws, err := jose.ParseSignedCompact(header, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		return fmt.Errorf("%w: %v", ErrMalformedJWT, err)
	}
	if len(jws.Signatures) != 1 || len(jws.Signatures[0].Signature) != 64 {
		return fmt.Errorf("%w: an ES256 signature is 64 bytes (R||S)", ErrMalformedJWT)
	}
	// The claims are read before the signature is checked, only to refuse
	// early; Verify below authenticates these same payload bytes.
	now := v.now()
	if err := checkClaims(jws.UnsafePayloadWithoutVerification(), body, now); err != nil {
		return err
	}
	key, err := v.key(ctx, kid)
	if err != nil {
		return err
	}
	// Any key whose expired_at is set is refused, whatever time it names:
	// Plaid's own verifier rejects a key as soon as expired_at is not null
	// ("Reject expired keys. if (key.expired_at != null) return false",
	// support.plaid.com, "Webhook verification example"; PLAID.md §6.3
	// step 3), and its spec only says expired_at is "the timestamp when
	// the key expired" (2020-09-14.yml, JWKPublicKey), never a time ahead.
	if key.expiredAt != nil {
		return fmt.Errorf("%w: key %s expired at %s", ErrExpiredKey, kid, key.expiredAt.UTC().Format(time.RFC3339))
	}
	if _, err := jws.Verify(key.pub); err != nil {
		return fmt.Errorf("%w (key %s)", ErrBadSignature, kid)
	}
	return nil
}

// checkClaims checks iat (within MaxWebhookAge of now) and
// request_body_sha256 against the raw body.
func checkClaims(payload, body []byte, now time.Time) error {
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

// plausibleKid: at most maxKidLen bytes of URI-unreserved characters.
// Plaid documents no format for kids; its examples (and the emulator's)
// are UUIDs, so this refuses only what no key id would look like.
func plausibleKid(kid string) bool {
	if len(kid) > maxKidLen {
		return false
	}
	for i := 0; i < len(kid); i++ {
		switch c := kid[i]; {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '.', c == '~':
		default:
			return false
		}
	}
	return true
}

// key returns the key for kid: from the cache, or by asking Plaid, once
// for all the requests that want the same kid at the same time.
func (v *Verifier) key(ctx context.Context, kid string) (verificationKey, error) {
	if k, err, ok := v.cached(kid); ok {
		return k, err
	}
	v.seen.sight(kid)
	ch := v.flight.DoChan(kid, func() (any, error) { return v.lookup(kid) })
	select {
	case r := <-ch:
		if r.Err != nil {
			return verificationKey{}, r.Err
		}
		return r.Val.(verificationKey), nil
	case <-ctx.Done():
		return verificationKey{}, fmt.Errorf("plaid webhook: waiting for verification key %s: %w", kid, ctx.Err())
	}
}

// cached answers from the key cache or the negative cache; ok is false
// when Plaid has to be asked.
func (v *Verifier) cached(kid string) (verificationKey, error, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if k, ok := v.keys[kid]; ok {
		return k, nil, true
	}
	if at, ok := v.neg.get(kid, v.now()); ok {
		return verificationKey{}, fmt.Errorf("%w %q: Plaid did not know it at %s", ErrUnknownKey, kid, at.UTC().Format(time.RFC3339)), true
	}
	return verificationKey{}, nil, false
}

// lookup asks Plaid about kid if the budget allows, and remembers the
// answer. It runs once per kid at a time (v.flight). A new real key also
// refreshes the other cached keys that had no expiry, as Plaid's sample
// verifier does on a cache miss (support.plaid.com, "Webhook verification
// example"), so a rotation with expiry is seen; unlike the sample, only a
// kid Plaid confirmed triggers it, so made-up kids cannot multiply lookups.
func (v *Verifier) lookup(kid string) (verificationKey, error) {
	if k, err, ok := v.cached(kid); ok { // a flight that just ended answered
		return k, err
	}
	n, asked := v.seen.get(kid)
	allowed := v.newKids.Allow()
	if !allowed && n >= 2 && !asked {
		allowed = v.repeatKids.Allow()
	}
	if !allowed {
		return verificationKey{}, fmt.Errorf("%w (kid %q, seen %d times)", ErrLookupBudget, kid, n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), lookupTimeout)
	defer cancel()
	k, err := v.fetch(ctx, kid)
	now := v.now()
	switch {
	case errors.Is(err, ErrUnknownKey):
		ttl := v.limits.NegativeTTL
		if asked {
			ttl *= 10
		}
		v.seen.markAsked(kid)
		v.mu.Lock()
		v.neg.add(kid, now, now.Add(ttl))
		v.mu.Unlock()
		return verificationKey{}, err
	case err != nil:
		return verificationKey{}, err
	}
	v.mu.Lock()
	v.storeKey(kid, k, now)
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
			v.storeKey(id, fresh, now)
		case errors.Is(err, ErrUnknownKey):
			delete(v.keys, id)
		}
		v.mu.Unlock()
	}
	return k, nil
}

// storeKey caches a real key, dropping an expired one, else the oldest,
// when the cache is full; v.mu is held.
func (v *Verifier) storeKey(kid string, k verificationKey, now time.Time) {
	k.fetchedAt = now
	if _, ok := v.keys[kid]; !ok && len(v.keys) >= v.limits.Keys {
		drop, dropExpired := "", false
		var oldest time.Time
		for id, ck := range v.keys {
			expired := ck.expiredAt != nil // refused by Verify, whatever time it names
			if drop == "" || (expired && !dropExpired) || (expired == dropExpired && ck.fetchedAt.Before(oldest)) {
				drop, dropExpired, oldest = id, expired, ck.fetchedAt
			}
		}
		delete(v.keys, drop)
	}
	v.keys[kid] = k
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

// negativeCache holds Plaid's "no such key" answers, at most max of them,
// dropping the least recently used; each is believed until its deadline.
// Its users hold the Verifier's mu.
type negativeCache struct {
	max   int
	order *list.List // of *negativeEntry, most recently used first
	byKid map[string]*list.Element
}

type negativeEntry struct {
	kid         string
	asked, till time.Time
}

func newNegativeCache(max int) *negativeCache {
	return &negativeCache{max: max, order: list.New(), byKid: map[string]*list.Element{}}
}

// get reports when Plaid said it did not know kid, if that still holds.
func (c *negativeCache) get(kid string, now time.Time) (time.Time, bool) {
	el, ok := c.byKid[kid]
	if !ok {
		return time.Time{}, false
	}
	e := el.Value.(*negativeEntry)
	if !now.Before(e.till) {
		c.order.Remove(el)
		delete(c.byKid, kid)
		return time.Time{}, false
	}
	c.order.MoveToFront(el)
	return e.asked, true
}

func (c *negativeCache) add(kid string, asked, till time.Time) {
	if el, ok := c.byKid[kid]; ok {
		e := el.Value.(*negativeEntry)
		e.asked, e.till = asked, till
		c.order.MoveToFront(el)
		return
	}
	c.byKid[kid] = c.order.PushFront(&negativeEntry{kid: kid, asked: asked, till: till})
	for c.order.Len() > c.max {
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.byKid, last.Value.(*negativeEntry).kid)
	}
}

func (c *negativeCache) len() int { return c.order.Len() }

// sightings counts how often each unknown kid was seen, in a fixed table
// of slots picked by a hash with a random seed: memory never grows, and a
// made-up kid displaces a remembered one only by landing in its slot (1 in
// len(slots) per kid, and no one can aim without the seed). A slot keeps
// 32 more bits of its kid's hash, so two kids sharing a slot are not
// confused.
type sightings struct {
	seed  maphash.Seed
	mu    sync.Mutex
	slots []sighting
}

type sighting struct {
	tag   uint32 // 0: empty
	n     uint16 // times seen, up to 65535
	asked bool   // Plaid was asked about it and said no
}

func newSightings(n int) *sightings {
	return &sightings{seed: maphash.MakeSeed(), slots: make([]sighting, n)}
}

// locate returns kid's slot and tag; s.mu is held.
func (s *sightings) locate(kid string) (*sighting, uint32) {
	h := maphash.String(s.seed, kid)
	return &s.slots[(h>>32)%uint64(len(s.slots))], uint32(h) | 1
}

// claim returns kid's slot, taking it over from another kid; s.mu is held.
func (s *sightings) claim(kid string) *sighting {
	sl, tag := s.locate(kid)
	if sl.tag != tag {
		*sl = sighting{tag: tag}
	}
	return sl
}

func (s *sightings) sight(kid string) {
	s.mu.Lock()
	if sl := s.claim(kid); sl.n < 1<<16-1 {
		sl.n++
	}
	s.mu.Unlock()
}

func (s *sightings) get(kid string) (n int, asked bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sl, tag := s.locate(kid); sl.tag == tag {
		return int(sl.n), sl.asked
	}
	return 0, false
}

func (s *sightings) markAsked(kid string) {
	s.mu.Lock()
	s.claim(kid).asked = true
	s.mu.Unlock()
}
