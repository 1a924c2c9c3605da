package cobalt

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/relink/relink/health"
	"github.com/relink/relink/provider"
)

// UpdateLink mints a link token in update mode (POST /v1/link/token/create
// with the connection's access_token) and fills it into LinkURL. user_id is
// the connection's UserRef (its ProviderID when empty); org_id is its OrgID
// (the registry's org_id column), else Config.OrgID (cobalt.org_id): Cobalt's
// org_id is "the ID of the organization that this user belongs to in your
// system. This is often a clinic or hospital"
// (https://docs.usecobalt.com/docs/link/setup,
// https://docs.usecobalt.com/api-reference/link/create-token), not the
// per-connection access_token_reference_id. With neither it is an error,
// and nothing is sent. The token works once, for 30 minutes unless Cobalt
// says otherwise. conn.Return.Done, when set, is the session's callback URL
// ({{.CallbackURL}} in LinkURL): Link sends the user there with the public
// token, which FinishLink exchanges.
func (c *Client) UpdateLink(ctx context.Context, conn provider.Conn) (provider.LinkToken, error) {
	const call = "POST /v1/link/token/create"
	if conn.AccessToken == "" {
		return provider.LinkToken{}, fmt.Errorf("cobalt: minting a link token for %s: no access token; import the connection with its access_token", conn.ProviderID)
	}
	user := conn.UserRef
	if user == "" {
		user = conn.ProviderID
	}
	if user == "" {
		return provider.LinkToken{}, errors.New("cobalt: minting a link token: no user or reference id")
	}
	org := conn.OrgID
	if org == "" {
		org = c.cfg.OrgID
	}
	if org == "" {
		return provider.LinkToken{}, fmt.Errorf("cobalt: minting a link token for %s: no org_id (Cobalt's id of our organization, e.g. the clinic); set cobalt.org_id, or import the registry with an org_id column", conn.ProviderID)
	}
	body, err := json.Marshal(map[string]string{"user_id": user, "org_id": org,
		"access_token": conn.AccessToken})
	if err != nil {
		return provider.LinkToken{}, fmt.Errorf("cobalt: encoding the link token request: %w", err)
	}
	minted := c.now() // the lifetime counts from before the request, to be safe
	r, err := c.send(ctx, http.MethodPost, c.endpoint("/v1/link/token/create", nil), "", body)
	if err != nil {
		return provider.LinkToken{}, c.transportFailure(call, err)
	}
	if r.Status != http.StatusOK && r.Status != http.StatusCreated {
		return provider.LinkToken{}, c.apiFailure(call, r, conn.AccessToken)
	}
	var tok struct {
		Success    *bool  `json:"success"`
		Token      string `json:"token"`
		Expiration string `json:"expiration"`
		ExpiresAt  string `json:"expires_at"`
	}
	if err := json.Unmarshal(r.Body, &tok); err != nil {
		return provider.LinkToken{}, c.malformed(call, r.Status, fmt.Errorf("decoding the link token: %w", err))
	}
	if tok.Token == "" || (tok.Success != nil && !*tok.Success) {
		return provider.LinkToken{}, c.malformed(call, r.Status, errors.New("no link token in the answer"))
	}
	u, err := c.linkURL(tok.Token, conn.Return.Done)
	if err != nil {
		return provider.LinkToken{}, fmt.Errorf("cobalt: %w", err)
	}
	expires := minted.Add(TokenLifetime)
	for _, s := range []string{tok.Expiration, tok.ExpiresAt} {
		if t, err := parseTime(s); err == nil && t.After(minted) {
			expires = t
			break
		}
	}
	return provider.LinkToken{URL: u, ExpiresAt: expires}, nil
}

var _ provider.LinkFinisher = (*Client)(nil)

// FinishLink takes the public token Cobalt Link's redirect brings to the
// session's callback URL (?token=<public_token>) for conn and exchanges it:
// GET /v1/link/token/exchange?public_token=…, "GET with a query parameter",
// answering {"success": true, "token": <access_token>}
// (https://docs.usecobalt.com/api-reference/link/exchange-token). A
// successful exchange proves the Link session was completed, which is the
// clearing signal of a login_required (COBALT.md §6.2): it returns that as
// a "link_result" observation (health.SourceLinkResult, now; it also ends a
// password_change_warning), with an EventID made of the public token's
// hash, so a session is recorded once. The access token is returned too: in
// update mode it is presumably the one the connection has, which the
// reference does not say, so the caller compares and keeps the new one if
// not. A refused exchange (a spent, expired or made-up public token) is a
// *provider.Error, and nothing is to be recorded.
func (c *Client) FinishLink(ctx context.Context, conn provider.Conn, publicToken string) (provider.Observation, string, error) {
	const call = "GET /v1/link/token/exchange"
	if publicToken == "" {
		return provider.Observation{}, "", errors.New("cobalt: finishing a Link session: no public token")
	}
	r, err := c.send(ctx, http.MethodGet, c.endpoint("/v1/link/token/exchange", url.Values{"public_token": {publicToken}}), "", nil)
	if err != nil {
		return provider.Observation{}, "", c.transportFailure(call, err)
	}
	if r.Status != http.StatusOK {
		return provider.Observation{}, "", c.apiFailure(call, r, publicToken)
	}
	var ans struct {
		Success *bool  `json:"success"`
		Token   string `json:"token"`
	}
	if err := json.Unmarshal(r.Body, &ans); err != nil {
		return provider.Observation{}, "", c.malformed(call, r.Status, fmt.Errorf("decoding the exchange: %w", err))
	}
	if ans.Token == "" || (ans.Success != nil && !*ans.Success) {
		return provider.Observation{}, "", c.malformed(call, r.Status, errors.New("no access token in the answer"))
	}
	at := c.now().UTC()
	raw, _ := json.Marshal(map[string]string{"access_token_reference_id": conn.ProviderID,
		"completed_at": at.Format(time.RFC3339Nano), "via": "Cobalt Link's redirect to relink serve"})
	return provider.Observation{ProviderID: conn.ProviderID, Kind: "link_result",
		EventID: "link-return:" + conn.ProviderID + "@" + provider.TokenHash(publicToken)[:16],
		Signal:  okSignal(health.SourceLinkResult, at), Raw: raw}, ans.Token, nil
}
