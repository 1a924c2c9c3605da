package belvo_test

import (
	"strings"
	"testing"

	"github.com/relink/relink/health"
	"github.com/relink/relink/provider"
	"github.com/relink/relink/provider/sandbox"
)

func TestCheckStatuses(t *testing.T) {
	e := newEnv(t, nil)
	for code, want := range map[string]health.Category{
		"valid": health.Healthy, "invalid": health.LoginRequired,
		"token_required": health.MFARequired, "unconfirmed": health.Incomplete,
	} {
		id := e.add(t, sandbox.Connection{Code: code, Institution: "erebor_mx_retail"})
		obs, err := e.client.Check(t.Context(), provider.Conn{ProviderID: id})
		if err != nil {
			t.Fatalf("%s: %v", code, err)
		}
		if obs.ProviderID != id || obs.Institution != "erebor_mx_retail" || obs.Kind != "poll" ||
			obs.Signal.Category != want || obs.Signal.ProviderCode != code || obs.Signal.Source != health.SourcePoll {
			t.Errorf("%s: %+v, want %s", code, obs, want)
		}
	}
}

func TestCheckNotFound(t *testing.T) {
	e := newEnv(t, nil)
	obs, err := e.client.Check(t.Context(), provider.Conn{ProviderID: "0681c503-ee47-4033-a5f8-ffe6926eb872"})
	pe := providerError(t, err)
	if pe.Status != 404 || pe.Code != "not_found" || !strings.Contains(pe.Hint, "no longer knows this link") {
		t.Errorf("error %+v", pe)
	}
	wantSignal(t, pe.Signal, health.NotFound)
	if obs.Kind != "api_error" || obs.Signal.Category != health.NotFound || obs.ProviderID == "" {
		t.Errorf("observation %+v", obs)
	}
	if _, err := e.client.Check(t.Context(), provider.Conn{}); err == nil {
		t.Error("Check without a link id succeeded")
	}
}

// Every Belvo error code of TAXONOMY.md §4.2, answered by the emulator for
// calls about one link, maps to its category, with a hint.
func TestCheckErrorCodes(t *testing.T) {
	e := newEnv(t, nil)
	id := e.add(t, sandbox.Connection{})
	for _, tc := range []struct {
		status  int
		code    string
		message string
		want    health.Category
		effect  health.Effect
	}{
		{400, "login_error", "Invalid credentials provided to login to the institution", health.LoginRequired, health.SetPrimary},
		{400, "login_error", "The user account is locked, user needs to contact the institution", health.AccountLocked, health.SetPrimary},
		{400, "login_error", "La contraseña ha expirado", health.PasswordExpired, health.SetPrimary},
		{400, "login_error", "Senha expirada", health.PasswordExpired, health.SetPrimary},
		{400, "login_error", "Cuenta suspendida", health.AccountLocked, health.SetPrimary},
		{400, "login_error", "The user must log in to the institution to complete a process", health.ActionAtInstitution, health.SetPrimary},
		{400, "invalid_link", "The link has been invalidated. You may need to update link credentials", health.LoginRequired, health.SetPrimary},
		{428, "token_required", "A MFA token is required by the institution to login", health.MFARequired, health.SetPrimary},
		{400, "unconfirmed_link", "The link has not been confirmed", health.Incomplete, health.SetPrimary},
		{400, "session_expired", "The session has expired", health.Incomplete, health.SetPrimary},
		{400, "activation_failed", "Online banking is not activated", health.ActionAtInstitution, health.SetPrimary},
		{400, "too_many_sessions", "Impossible to login, a session is already opened", health.InstitutionDown, health.SetPrimary},
		{400, "institution_down", "The financial institution is down", health.InstitutionDown, health.SetPrimary},
		{400, "institution_unavailable", "The institution is unavailable", health.InstitutionDown, health.SetPrimary},
		{400, "institution_inactive", "The institution is inactive", health.InstitutionDown, health.SetPrimary},
		{400, "unsupported_operation", "The resource is not supported by the institution", health.Unsupported, health.NoChange},
		{400, "invalid_period", "Invalid period", health.IntegrationError, health.SetPrimary},
		{400, "invalid_access_mode_switch", "Cannot switch access mode", health.IntegrationError, health.SetPrimary},
		{403, "access_to_resource_denied", "You do not have permission", health.IntegrationError, health.SetPrimary},
		{408, "request_timeout", "The request timed out", health.ProviderError, health.SetPrimary},
		{500, "unexpected_error", "Belvo is unable to process the request", health.ProviderError, health.SetPrimary},
		{400, "brand_new_code", "Something new", health.Other, health.SetPrimary},
	} {
		t.Run(tc.code+"/"+tc.message, func(t *testing.T) {
			if err := e.emu.InjectError(id, tc.status, tc.code, tc.message); err != nil {
				t.Fatal(err)
			}
			obs, err := e.client.Check(t.Context(), provider.Conn{ProviderID: id})
			pe := providerError(t, err)
			if pe.Status != tc.status || pe.Code != tc.code || pe.Message != tc.message {
				t.Errorf("error %+v", pe)
			}
			wantSignal(t, pe.Signal, tc.want)
			if pe.Signal.Effect != tc.effect || pe.Signal.ProviderCode != tc.code ||
				pe.Signal.Source != health.SourceAPIError {
				t.Errorf("signal %+v", pe.Signal)
			}
			if obs.Signal.Category != tc.want || obs.Kind != "api_error" || obs.ProviderID != id {
				t.Errorf("observation %+v", obs)
			}
		})
	}
}
