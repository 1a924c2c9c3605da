package cobalt

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/relink/relink/health"
	"github.com/relink/relink/provider"
)

// Check reads the connection's whole event history (GET /v1/webhook-events
// with its access token) and returns what it says about the login:
//
//   - the newest access_token.login_required event, as an "event"
//     observation with its EventID, so the store keeps it once and it
//     changes nothing when a later completed Link session is recorded;
//   - else, when every event read cleanly, "no problem reported"
//     (health.CobaltQuiet as of the read, a "poll" observation), which makes
//     an unchecked connection healthy but never clears a recorded
//     login_required;
//   - else (events it cannot read, none of them readable as a
//     login_required) an error matching ErrUnreadableEvent and no signal:
//     the connection is left as it is.
//
// It does not call GET /v1/settings: that answers with Cobalt-side settings
// (visit types, timezone; 404 when there are none,
// https://docs.usecobalt.com/api-reference/settings/get) and says nothing
// about the EHR login, so a 200 there must never clear a login_required.
// Warnings (password_change_warning) are left to Sync and the webhooks. A
// refused call is returned as a *provider.Error together with an
// "api_error" observation of its signal.
func (c *Client) Check(ctx context.Context, conn provider.Conn) (provider.Observation, error) {
	if conn.AccessToken == "" {
		return provider.Observation{}, fmt.Errorf("cobalt: checking %s: no access token; import the connection with its access_token", conn.ProviderID)
	}
	var (
		problem    *provider.Observation
		unreadable []error
	)
	err := c.history(ctx, conn, time.Time{}, func(ev event, derr error, receivedAt time.Time) error {
		switch {
		case derr != nil:
			if ev.Type == "" || isAccount(ev.Type) {
				unreadable = append(unreadable, derr)
			}
		case ev.Type == "access_token.login_required":
			if ev.Ref == "" {
				ev.Ref = conn.ProviderID
			}
			if o := ev.observation("event", receivedAt); problem == nil || !o.Signal.ObservedAt.Before(problem.Signal.ObservedAt) {
				problem = &o
			}
		}
		return nil
	})
	var pe *provider.Error
	if errors.As(err, &pe) {
		obs := provider.Observation{ProviderID: conn.ProviderID, Kind: "api_error"}
		if pe.Signal != nil {
			obs.Signal = *pe.Signal
		}
		return obs, pe
	}
	switch {
	case err != nil:
		return provider.Observation{}, err
	case problem != nil:
		return *problem, nil
	case len(unreadable) > 0:
		return provider.Observation{}, fmt.Errorf("cobalt: checking %s: the history holds %d event(s) relink cannot read, so it says nothing for sure (first: %w)",
			conn.ProviderID, len(unreadable), unreadable[0])
	}
	return quiet(conn, c.now()), nil
}

// okSignal is health.CobaltOK; only a completed Link session (not a mere
// successful call) ends a password_change_warning, since the EHR still wants
// the password changed.
func okSignal(src health.Source, at time.Time) health.Signal {
	s := health.CobaltOK(src, at)
	s.ClearWarning = src == health.SourceLinkResult
	return s
}
