package plaid_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/relink/relink/provider/plaid"
	"github.com/relink/relink/provider/sandbox"
)

const webhookBody = `{"webhook_type":"ITEM","webhook_code":"LOGIN_REPAIRED","item_id":"wz666MBjYWTp2PDzzggYhM6oWWmBb","environment":"sandbox"}`

// forge signs claims for body with any algorithm and key, kid in the header.
func forge(t *testing.T, alg jose.SignatureAlgorithm, key any, kid string, iat time.Time, body string) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: key, KeyID: kid}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(body))
	claims, _ := json.Marshal(map[string]any{"iat": iat.Unix(), "request_body_sha256": hex.EncodeToString(sum[:])})
	jws, err := signer.Sign(claims)
	if err != nil {
		t.Fatal(err)
	}
	s, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// kidOf reads the kid of a compact JWT header.
func kidOf(t *testing.T, token string) string {
	raw, err := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	var h struct{ Kid string }
	json.Unmarshal(raw, &h)
	return h.Kid
}

func TestVerify(t *testing.T) {
	t.Parallel()
	clk := newClock()
	emu := newEmulator(t, sandbox.PlaidOptions{Now: clk.Now})
	v := plaid.NewVerifier(newClient(t, emu, nil))
	v.Now = clk.Now
	ctx := context.Background()
	header, err := emu.SignWebhook([]byte(webhookBody))
	if err != nil {
		t.Fatal(err)
	}
	kid := kidOf(t, header)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	parts := strings.Split(header, ".")
	noneToken := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","kid":"`+kid+`"}`)) + "." + parts[1] + "."

	cases := []struct {
		name   string
		header string
		body   string
		want   error
	}{
		{"valid", header, webhookBody, nil},
		{"missing header", "", webhookBody, plaid.ErrMissingHeader},
		{"not a JWT", "abc.def", webhookBody, plaid.ErrMalformedJWT},
		{"wrong signature", forge(t, jose.ES256, other, kid, clk.Now(), webhookBody), webhookBody, plaid.ErrBadSignature},
		{"HS256", forge(t, jose.HS256, []byte("0123456789abcdef0123456789abcdef"), kid, clk.Now(), webhookBody), webhookBody, plaid.ErrBadAlgorithm},
		{"none", noneToken, webhookBody, plaid.ErrBadAlgorithm},
		{"ES384", forge(t, jose.ES384, mustKey(t, elliptic.P384()), kid, clk.Now(), webhookBody), webhookBody, plaid.ErrBadAlgorithm},
		{"signature of another message", parts[0] + "." + parts[1] + "." + strings.Split(forge(t, jose.ES256, other, kid, clk.Now(), "x"), ".")[2], webhookBody, plaid.ErrBadSignature},
		{"unknown kid", forge(t, jose.ES256, other, "no-such-kid", clk.Now(), webhookBody), webhookBody, plaid.ErrUnknownKey},
		{"body tampered", header, strings.Replace(webhookBody, "LOGIN_REPAIRED", "ERROR", 1), plaid.ErrBodyMismatch},
		{"body re-serialised", header, webhookBody + "\n", plaid.ErrBodyMismatch},
	}
	for _, tc := range cases {
		err := v.Verify(ctx, tc.header, []byte(tc.body))
		if (tc.want == nil && err != nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
			t.Errorf("%s: Verify = %v, want %v", tc.name, err, tc.want)
		}
	}
}

func mustKey(t *testing.T, c elliptic.Curve) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestVerifyIssuedAt(t *testing.T) {
	t.Parallel()
	clk := newClock()
	emu := newEmulator(t, sandbox.PlaidOptions{Now: clk.Now})
	v := plaid.NewVerifier(newClient(t, emu, nil))
	header, _ := emu.SignWebhook([]byte(webhookBody))
	for _, tc := range []struct {
		name string
		skew time.Duration // verifier's clock minus the signer's
		want error
	}{
		{"just now", 0, nil},
		{"4m59s old", 4*time.Minute + 59*time.Second, nil},
		{"6 minutes old", 6 * time.Minute, plaid.ErrStale},
		{"an hour old", time.Hour, plaid.ErrStale},
		{"from the future", -6 * time.Minute, plaid.ErrStale},
	} {
		v.Now = func() time.Time { return clk.Now().Add(tc.skew) }
		err := v.Verify(context.Background(), header, []byte(webhookBody))
		if (tc.want == nil && err != nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
			t.Errorf("%s: Verify = %v, want %v", tc.name, err, tc.want)
		}
	}
}

// TestVerifyKeyRotation: a webhook signed with a new key is verified after
// fetching that key; a key is refused once the verifier has seen an
// expired_at on it, past or not.
func TestVerifyKeyRotation(t *testing.T) {
	t.Parallel()
	clk := newClock()
	emu := newEmulator(t, sandbox.PlaidOptions{Now: clk.Now})
	v := plaid.NewVerifier(newClient(t, emu, nil))
	v.Now = clk.Now
	ctx := context.Background()
	body := []byte(webhookBody)

	oldHeader, _ := emu.SignWebhook(body)
	oldKid := kidOf(t, oldHeader)
	if err := v.Verify(ctx, oldHeader, body); err != nil {
		t.Fatalf("old key: %v", err)
	}
	newKid, err := emu.RotateKey()
	if err != nil {
		t.Fatal(err)
	}
	newHeader, _ := emu.SignWebhook(body)
	if kidOf(t, newHeader) != newKid || newKid == oldKid {
		t.Fatalf("after RotateKey the emulator signs with %s, want %s", kidOf(t, newHeader), newKid)
	}
	if err := v.Verify(ctx, newHeader, body); err != nil {
		t.Fatalf("new key (fetched on a cache miss): %v", err)
	}
	if err := v.Verify(ctx, oldHeader, body); err != nil {
		t.Errorf("old key, rotated without expiry, is still valid: %v", err)
	}

	// Expire the old key, rotate again: the miss on the third key refreshes
	// the cached old key and learns its expired_at.
	if err := emu.ExpireKey(oldKid, clk.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := emu.RotateKey(); err != nil {
		t.Fatal(err)
	}
	third, _ := emu.SignWebhook(body)
	if err := v.Verify(ctx, third, body); err != nil {
		t.Fatalf("third key: %v", err)
	}
	if err := v.Verify(ctx, oldHeader, body); !errors.Is(err, plaid.ErrExpiredKey) {
		t.Errorf("expired old key: Verify = %v, want ErrExpiredKey", err)
	}

	// A key whose expired_at is set is refused even when that time is
	// still ahead: Plaid's sample verifier rejects any key whose
	// expired_at is not null, and so does PLAID.md §6.3.
	fresh := plaid.NewVerifier(newClient(t, emu, nil))
	fresh.Now = clk.Now
	if err := emu.ExpireKey(newKid, clk.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := fresh.Verify(ctx, newHeader, body); !errors.Is(err, plaid.ErrExpiredKey) {
		t.Errorf("key whose expired_at is an hour ahead: Verify = %v, want ErrExpiredKey", err)
	}
}

func TestVerifyKeyFetchFailure(t *testing.T) {
	t.Parallel()
	emu := newEmulator(t, sandbox.PlaidOptions{})
	const secret = "wrong-secret-for-keys-0000"
	v := plaid.NewVerifier(newClient(t, emu, func(cfg *plaid.Config) { cfg.Secret = secret }))
	header, _ := emu.SignWebhook([]byte(webhookBody))
	err := v.Verify(context.Background(), header, []byte(webhookBody))
	if err == nil || errors.Is(err, plaid.ErrUnknownKey) || !strings.Contains(err.Error(), "INVALID_API_KEYS") {
		t.Errorf("Verify with bad keys = %v, want a key-fetch error naming INVALID_API_KEYS", err)
	}
	assertNoSecrets(t, err.Error(), secret)
}
