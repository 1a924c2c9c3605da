package cobalt

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/relink/relink/health"
	"github.com/relink/relink/provider"
)

// Check probes the access token with GET /v1/settings, the cheapest call
// that needs it (COBALT.md §4.4). Success is Cobalt's clearing signal
// (health.CobaltOK, as a poll); a 403 login_required maps by
// health.CobaltHTTPSignal. On an error the *provider.Error is returned
// together with an "api_error" observation of its signal, except a 404
// (the token has no settings), which says nothing about the login and
// carries no signal.
func (c *Client) Check(ctx context.Context, conn provider.Conn) (provider.Observation, error) {
	const call = "GET /v1/settings"
	if conn.AccessToken == "" {
		return provider.Observation{}, fmt.Errorf("cobalt: checking %s: no access token; import the connection with its access_token", conn.ProviderID)
	}
	r, err := c.send(ctx, http.MethodGet, c.endpoint("/v1/settings", nil), conn.AccessToken, nil)
	var pe *provider.Error
	switch {
	case err != nil:
		pe = c.transportFailure(call, err)
	case r.Status == http.StatusOK:
		var s struct {
			Success *bool           `json:"success"`
			Data    json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(r.Body, &s); err != nil {
			pe = c.malformed(call, r.Status, fmt.Errorf("decoding the settings: %w", err))
			break
		}
		if s.Success != nil && !*s.Success {
			pe = c.malformed(call, r.Status, errors.New(`"success": false in a 200 answer`))
			break
		}
		return provider.Observation{ProviderID: conn.ProviderID, Kind: "poll", Signal: okSignal(health.SourcePoll, c.now())}, nil
	default:
		pe = c.apiFailure(call, r, conn.AccessToken)
		if r.Status == http.StatusNotFound {
			pe.Signal = nil
		}
	}
	obs := provider.Observation{ProviderID: conn.ProviderID, Kind: "api_error"}
	if pe.Signal != nil {
		obs.Signal = *pe.Signal
	}
	return obs, pe
}

// okSignal is health.CobaltOK; only a completed Link session (not a mere
// successful call) ends a password_change_warning, since the EHR still wants
// the password changed.
func okSignal(src health.Source, at time.Time) health.Signal {
	s := health.CobaltOK(src, at)
	s.ClearWarning = src == health.SourceLinkResult
	return s
}
