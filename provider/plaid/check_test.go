package plaid_test

import (
	"context"
	"errors"
	"net"
	"net/http/httptrace"
	"strings"
	"testing"
	"time"

	"github.com/relink/relink/health"
	"github.com/relink/relink/provider"
	"github.com/relink/relink/provider/plaid"
	"github.com/relink/relink/provider/sandbox"
)

func TestCheckHealthyItem(t *testing.T) {
	t.Parallel()
	emu := newEmulator(t, sandbox.PlaidOptions{})
	c := newClient(t, emu, nil)
	conn := addItem(t, emu, sandbox.Connection{Institution: "First Platypus Bank", UserRef: "user-1"})

	obs, err := c.Check(context.Background(), conn)
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	if obs.ProviderID != conn.ProviderID || obs.Institution != "First Platypus Bank" || obs.Kind != "poll" {
		t.Errorf("observation = %+v", obs)
	}
	s := obs.Signal
	if s.Category != health.Healthy || s.Effect != health.SetPrimary || s.Source != health.SourcePoll ||
		s.Warning != health.NoWarning || s.ObservedAt.IsZero() {
		t.Errorf("signal = %+v, want a healthy poll", s)
	}
}

// TestCheckErrorCodes puts one Item in every state of TAXONOMY.md §3.1 that
// the emulator can produce and reads it through the real client.
func TestCheckErrorCodes(t *testing.T) {
	t.Parallel()
	type want struct {
		cat    health.Category
		effect health.Effect
		kind   string // "poll", "api_error", or "error" for a *provider.Error
	}
	cases := []struct {
		code, reason string
		want
	}{
		{"ITEM_LOGIN_REQUIRED", "", want{health.LoginRequired, health.SetPrimary, "poll"}},
		{"ITEM_LOGIN_REQUIRED", "OAUTH_INVALID_TOKEN", want{health.LoginRequired, health.SetPrimary, "poll"}},
		{"ITEM_LOGIN_REQUIRED", "OAUTH_CONSENT_EXPIRED", want{health.ConsentExpired, health.SetPrimary, "poll"}},
		{"ITEM_LOGIN_REQUIRED", "OAUTH_USER_REVOKED", want{health.PermissionRevoked, health.SetPrimary, "poll"}},
		{"PASSWORD_RESET_REQUIRED", "", want{health.PasswordExpired, health.SetPrimary, "poll"}},
		{"ITEM_LOCKED", "", want{health.AccountLocked, health.SetPrimary, "poll"}},
		{"USER_SETUP_REQUIRED", "", want{health.ActionAtInstitution, health.SetPrimary, "poll"}},
		{"INVALID_CREDENTIALS", "", want{health.LoginRequired, health.Attempt, "poll"}},
		{"INVALID_UPDATED_USERNAME", "", want{health.LoginRequired, health.Attempt, "poll"}},
		{"INVALID_MFA", "", want{health.MFARequired, health.Attempt, "poll"}},
		{"INVALID_OTP", "", want{health.MFARequired, health.Attempt, "poll"}},
		{"INVALID_SEND_METHOD", "", want{health.MFARequired, health.Attempt, "poll"}},
		{"INVALID_PHONE_NUMBER", "", want{health.MFARequired, health.Attempt, "poll"}},
		{"USER_INPUT_TIMEOUT", "", want{health.MFARequired, health.Attempt, "poll"}},
		{"INSUFFICIENT_CREDENTIALS", "", want{health.LoginRequired, health.Attempt, "poll"}},
		{"ACCESS_NOT_GRANTED", "", want{health.ConsentInsufficient, health.SetPrimary, "poll"}},
		{"NO_ACCOUNTS", "", want{health.ConsentInsufficient, health.SetPrimary, "poll"}},
		{"USER_PERMISSION_REVOKED", "", want{health.PermissionRevoked, health.SetPrimary, "poll"}},
		{"ITEM_NOT_FOUND", "", want{health.NotFound, health.SetPrimary, "api_error"}},
		{"ITEM_CONCURRENTLY_DELETED", "", want{health.NotFound, health.SetPrimary, "api_error"}},
		{"ITEM_NOT_SUPPORTED", "", want{health.Unsupported, health.SetPrimary, "poll"}},
		{"MFA_NOT_SUPPORTED", "", want{health.Unsupported, health.SetPrimary, "poll"}},
		{"NO_AUTH_ACCOUNTS", "", want{health.Unsupported, health.NoChange, "api_error"}},
		{"no-depository-accounts", "", want{health.Unsupported, health.NoChange, "api_error"}},
		{"NO_INVESTMENT_ACCOUNTS", "", want{health.Unsupported, health.NoChange, "api_error"}},
		{"NO_INVESTMENT_AUTH_ACCOUNTS", "", want{health.Unsupported, health.NoChange, "api_error"}},
		{"NO_LIABILITY_ACCOUNTS", "", want{health.Unsupported, health.NoChange, "api_error"}},
		{"PRODUCTS_NOT_SUPPORTED", "", want{health.Unsupported, health.NoChange, "api_error"}},
		{"PRODUCT_NOT_ENABLED", "", want{health.Unsupported, health.NoChange, "api_error"}},
		{"INSTANT_MATCH_FAILED", "", want{health.Unsupported, health.NoChange, "api_error"}},
		{"PRODUCT_NOT_READY", "", want{health.Unknown, health.NoChange, "api_error"}},
		{"ITEM_NO_ERROR", "", want{health.Healthy, health.SetPrimary, "api_error"}},
		{"INSTITUTION_DOWN", "", want{health.InstitutionDown, health.SetPrimary, "api_error"}},
		{"INSTITUTION_NOT_RESPONDING", "", want{health.InstitutionDown, health.SetPrimary, "api_error"}},
		{"INSTITUTION_NOT_AVAILABLE", "", want{health.InstitutionDown, health.SetPrimary, "api_error"}},
		{"INSTITUTION_NO_LONGER_SUPPORTED", "", want{health.Unsupported, health.SetPrimary, "api_error"}},
		{"INSTITUTION_NOT_FOUND", "", want{health.Unsupported, health.SetPrimary, "api_error"}},
		{"UNSUPPORTED_RESPONSE", "", want{health.Unsupported, health.SetPrimary, "api_error"}},
		{"INSTITUTION_REGISTRATION_REQUIRED", "", want{health.IntegrationError, health.SetPrimary, "api_error"}},
		{"UNAUTHORIZED_INSTITUTION", "", want{health.IntegrationError, health.SetPrimary, "api_error"}},
		{"INSTITUTION_NOT_ENABLED_IN_ENVIRONMENT", "", want{health.IntegrationError, health.SetPrimary, "api_error"}},
		{"ITEM_GET_LIMIT", "", want{health.RateLimited, health.SetPrimary, "api_error"}},
		{"ACCOUNTS_LIMIT", "", want{health.RateLimited, health.SetPrimary, "api_error"}},
		{"RATE_LIMIT", "", want{health.RateLimited, health.SetPrimary, "api_error"}},
		{"INTERNAL_SERVER_ERROR", "", want{health.ProviderError, health.SetPrimary, "error"}},
		{"plaid-internal-error", "", want{health.ProviderError, health.SetPrimary, "error"}},
		{"PLANNED_MAINTENANCE", "", want{health.ProviderError, health.SetPrimary, "error"}},
		{"UNAUTHORIZED_ENVIRONMENT", "", want{health.IntegrationError, health.SetPrimary, "error"}},
		{"MISSING_FIELDS", "", want{health.IntegrationError, health.SetPrimary, "error"}},
		{"INVALID_FIELD", "", want{health.IntegrationError, health.SetPrimary, "error"}},
		{"INVALID_LINK_TOKEN", "", want{health.IntegrationError, health.SetPrimary, "error"}},
		{"INVALID_WEBHOOK_VERIFICATION_KEY_ID", "", want{health.IntegrationError, health.SetPrimary, "error"}},
		{"SOMETHING_PLAID_ADDS_NEXT_YEAR", "", want{health.Other, health.SetPrimary, "poll"}},
	}
	emu := newEmulator(t, sandbox.PlaidOptions{PerItemPerMinute: -1})
	c := newClient(t, emu, nil)
	for _, tc := range cases {
		name := tc.code
		if tc.reason != "" {
			name += "/" + tc.reason
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel() // 5xx and 429 answers are retried with backoff
			conn := addItem(t, emu, sandbox.Connection{Institution: "Bank of " + name})
			if err := emu.Break(conn.ProviderID, tc.code, tc.reason); err != nil {
				t.Fatal(err)
			}
			obs, err := c.Check(context.Background(), conn)
			var s health.Signal
			if tc.kind == "error" {
				pe := providerError(t, err)
				if pe.Code != tc.code || pe.Call != "POST /item/get" || pe.Hint == "" || pe.Signal == nil {
					t.Fatalf("error = %#v, want code %s with call, hint and signal", pe, tc.code)
				}
				s = *pe.Signal
				assertNoSecrets(t, err.Error(), conn.AccessToken)
			} else {
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				if obs.Kind != tc.kind || obs.ProviderID != conn.ProviderID {
					t.Fatalf("observation kind %q for %q, want %q for %q", obs.Kind, obs.ProviderID, tc.kind, conn.ProviderID)
				}
				s = obs.Signal
				if s.ProviderCode != tc.code || s.ProviderReason != tc.reason {
					t.Errorf("raw code %q/%q, want %q/%q", s.ProviderCode, s.ProviderReason, tc.code, tc.reason)
				}
			}
			if s.Category != tc.cat || s.Effect != tc.effect {
				t.Errorf("category %s effect %d, want %s effect %d", s.Category, s.Effect, tc.cat, tc.effect)
			}
		})
	}
}

func TestCheckConsentExpiration(t *testing.T) {
	t.Parallel()
	emu := newEmulator(t, sandbox.PlaidOptions{})
	c := newClient(t, emu, nil)
	soon := time.Now().Add(5 * 24 * time.Hour).UTC().Truncate(time.Second)
	later := time.Now().Add(60 * 24 * time.Hour).UTC().Truncate(time.Second)

	obs, err := c.Check(context.Background(), addItem(t, emu, sandbox.Connection{ConsentExpiration: &soon}))
	if err != nil {
		t.Fatal(err)
	}
	s := obs.Signal
	if s.Category != health.Healthy || s.Warning != health.ConsentExpiring || s.Deadline == nil || !s.Deadline.Equal(soon) {
		t.Errorf("consent in 5 days: signal %+v, want healthy + consent_expiring at %v", s, soon)
	}
	obs, err = c.Check(context.Background(), addItem(t, emu, sandbox.Connection{ConsentExpiration: &later}))
	if err != nil {
		t.Fatal(err)
	}
	if obs.Signal.Warning != health.NoWarning {
		t.Errorf("consent in 60 days: warning %q, want none", obs.Signal.Warning)
	}
}

func TestCheckBadKeys(t *testing.T) {
	t.Parallel()
	emu := newEmulator(t, sandbox.PlaidOptions{})
	const secret = "not-the-secret-0123456789"
	c := newClient(t, emu, func(cfg *plaid.Config) { cfg.Secret = secret })
	conn := addItem(t, emu, sandbox.Connection{})

	_, err := c.Check(context.Background(), conn)
	pe := providerError(t, err)
	if pe.Code != "INVALID_API_KEYS" || pe.Status != 400 || pe.Signal == nil || pe.Signal.Category != health.IntegrationError {
		t.Errorf("error = %#v, want INVALID_API_KEYS → integration_error", pe)
	}
	if !strings.Contains(pe.Hint, "plaid.client_id") || !strings.Contains(pe.Hint, "PLAID_SECRET") {
		t.Errorf("hint %q does not say which keys to check", pe.Hint)
	}
	assertNoSecrets(t, err.Error(), secret, conn.AccessToken)
	_, realSecret := emu.Credentials()
	assertNoSecrets(t, err.Error(), realSecret)
}

func TestCheckUnknownAccessToken(t *testing.T) {
	t.Parallel()
	emu := newEmulator(t, sandbox.PlaidOptions{})
	c := newClient(t, emu, nil)
	conn := provider.Conn{ProviderID: "item-gone", AccessToken: "access-sandbox-11111111-2222-4333-8444-555555555555"}

	_, err := c.Check(context.Background(), conn)
	pe := providerError(t, err)
	if pe.Code != "INVALID_ACCESS_TOKEN" || pe.Signal == nil || pe.Signal.Category != health.IntegrationError ||
		!strings.Contains(pe.Hint, "re-import") {
		t.Errorf("error = %#v, want INVALID_ACCESS_TOKEN with a re-import hint", pe)
	}
	assertNoSecrets(t, err.Error(), conn.AccessToken)

	_, err = c.Check(context.Background(), provider.Conn{ProviderID: "item-x"})
	if pe := providerError(t, err); !strings.Contains(pe.Message, "no access token") {
		t.Errorf("empty token: %v", err)
	}
}

func TestCheckTokenOfAnotherItem(t *testing.T) {
	t.Parallel()
	emu := newEmulator(t, sandbox.PlaidOptions{})
	c := newClient(t, emu, nil)
	conn := addItem(t, emu, sandbox.Connection{})
	conn.ProviderID = "some-other-item"
	_, err := c.Check(context.Background(), conn)
	if pe := providerError(t, err); !strings.Contains(pe.Message, "belongs to item") {
		t.Errorf("error = %v, want a registry mix-up", err)
	}
	assertNoSecrets(t, err.Error(), conn.AccessToken)
}

func TestCheckRetriesThenSucceeds(t *testing.T) {
	t.Parallel()
	// Only the hang needs a short timeout (it ends the first attempt); the
	// others keep the default, so a slow answer is not taken for a hang.
	for _, tc := range []struct {
		name    string
		fault   func(*sandbox.Faults)
		timeout time.Duration // 0: newClient's
	}{
		{"429 with Retry-After", func(f *sandbox.Faults) { f.TooManyRequests(2, 0) }, 0},
		{"500", func(f *sandbox.Faults) { f.ServerErrors(2) }, 0},
		{"one hang", func(f *sandbox.Faults) { f.Hang(1) }, 300 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			emu := newEmulator(t, sandbox.PlaidOptions{})
			c := newClient(t, emu, func(cfg *plaid.Config) {
				if tc.timeout > 0 {
					cfg.Timeout = tc.timeout
				}
			})
			conn := addItem(t, emu, sandbox.Connection{})
			tc.fault(emu.Faults)
			obs, err := c.Check(context.Background(), conn)
			if err != nil || obs.Kind != "poll" || obs.Signal.Category != health.Healthy {
				t.Fatalf("Check after transient faults = %+v, %v; want a healthy poll", obs, err)
			}
		})
	}
}

func TestCheckPersistentFailures(t *testing.T) {
	t.Parallel()
	t.Run("500", func(t *testing.T) {
		t.Parallel()
		emu := newEmulator(t, sandbox.PlaidOptions{})
		c := newClient(t, emu, nil)
		emu.Faults.ServerErrors(100)
		_, err := c.Check(context.Background(), addItem(t, emu, sandbox.Connection{}))
		pe := providerError(t, err)
		if pe.Status != 500 || pe.Code != "INTERNAL_SERVER_ERROR" || pe.Signal.Category != health.ProviderError {
			t.Errorf("error = %#v, want 500 INTERNAL_SERVER_ERROR → provider_error", pe)
		}
	})
	t.Run("429", func(t *testing.T) {
		t.Parallel()
		emu := newEmulator(t, sandbox.PlaidOptions{})
		c := newClient(t, emu, nil)
		emu.Faults.TooManyRequests(100, 0)
		obs, err := c.Check(context.Background(), addItem(t, emu, sandbox.Connection{}))
		if err != nil || obs.Kind != "api_error" || obs.Signal.Category != health.RateLimited || obs.Signal.ProviderCode != "RATE_LIMIT" {
			t.Errorf("Check = %+v, %v; want an api_error observation rate_limited", obs, err)
		}
	})
	t.Run("hang", func(t *testing.T) {
		t.Parallel()
		emu := newEmulator(t, sandbox.PlaidOptions{})
		c := newClient(t, emu, func(cfg *plaid.Config) { cfg.Timeout = 100 * time.Millisecond })
		emu.Faults.Hang(100)
		_, err := c.Check(context.Background(), addItem(t, emu, sandbox.Connection{}))
		pe := providerError(t, err)
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() || !strings.Contains(pe.Hint, "did not answer within 100ms") ||
			pe.Signal.Category != health.ProviderError {
			t.Errorf("error = %v, want a timeout with a hint", err)
		}
	})
	t.Run("malformed", func(t *testing.T) {
		t.Parallel()
		emu := newEmulator(t, sandbox.PlaidOptions{})
		c := newClient(t, emu, nil)
		emu.Faults.Malformed(1)
		_, err := c.Check(context.Background(), addItem(t, emu, sandbox.Connection{}))
		pe := providerError(t, err)
		if pe.Status != 200 || !strings.Contains(pe.Message, "unreadable answer") || pe.Signal.Category != health.ProviderError {
			t.Errorf("error = %#v, want an unreadable-answer error", pe)
		}
	})
	t.Run("unreachable", func(t *testing.T) {
		t.Parallel()
		emu := newEmulator(t, sandbox.PlaidOptions{})
		c := newClient(t, emu, nil)
		conn := addItem(t, emu, sandbox.Connection{})
		emu.Close()
		_, err := c.Check(context.Background(), conn)
		if pe := providerError(t, err); pe.Err == nil || !strings.Contains(pe.Hint, "could not reach Plaid") {
			t.Errorf("error = %v, want a transport error with a hint", err)
		}
	})
}

// TestCheckItemGetLimit exceeds the emulator's per-Item limit of /item/get.
func TestCheckItemGetLimit(t *testing.T) {
	t.Parallel()
	emu := newEmulator(t, sandbox.PlaidOptions{PerItemPerMinute: 1})
	c := newClient(t, emu, nil)
	conn := addItem(t, emu, sandbox.Connection{})
	if _, err := c.Check(context.Background(), conn); err != nil {
		t.Fatal(err)
	}
	obs, err := c.Check(context.Background(), conn)
	if err != nil || obs.Kind != "api_error" || obs.Signal.ProviderCode != "ITEM_GET_LIMIT" || obs.Signal.Category != health.RateLimited {
		t.Errorf("second Check = %+v, %v; want ITEM_GET_LIMIT rate_limited", obs, err)
	}
}

// TestCheckPerItemLimiter: a burst of checks of one Item waits for the
// client's own per-Item limit (here 1/min: one now, the next in a minute)
// rather than calling Plaid; a deadline well inside that minute makes the
// wait fail at once, however long the first check took.
func TestCheckPerItemLimiter(t *testing.T) {
	t.Parallel()
	emu := newEmulator(t, sandbox.PlaidOptions{})
	c := newClient(t, emu, func(cfg *plaid.Config) { cfg.PerItemPerMinute = 1 })
	conn := addItem(t, emu, sandbox.Connection{})
	if _, err := c.Check(context.Background(), conn); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := c.Check(ctx, conn)
	if err == nil || !strings.Contains(err.Error(), "rate limit") {
		t.Errorf("second Check within the burst = %v, want a rate-limit wait error", err)
	}
	// Another Item is not held back by the first one's limit.
	if _, err := c.Check(context.Background(), addItem(t, emu, sandbox.Connection{})); err != nil {
		t.Errorf("other item: %v", err)
	}
}

func TestCheckCancelled(t *testing.T) {
	t.Parallel()
	emu := newEmulator(t, sandbox.PlaidOptions{})
	c := newClient(t, emu, nil)
	emu.Faults.Hang(1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Cancel once the request is on the wire: the emulator holds it, so the
	// client is waiting for an answer that cannot come.
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{WroteRequest: func(w httptrace.WroteRequestInfo) {
		if w.Err == nil {
			cancel()
		}
	}})
	_, err := c.Check(ctx, addItem(t, emu, sandbox.Connection{}))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error = %v, want context.Canceled", err)
	}
}
