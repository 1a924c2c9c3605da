package plaid

import (
	"context"
	"strings"
	"time"

	"github.com/relink/relink/provider"
)

const callLinkCreate = "POST /link/token/create"

// UpdateLink mints an update-mode link_token for conn's Item with
// /link/token/create (no products; client_user_id is conn.UserRef, or the
// item id when empty). With HostedLink the URL is Plaid's hosted_link_url,
// else LinkURL with the token filled in. ExpiresAt is Plaid's expiration.
func (c *Client) UpdateLink(ctx context.Context, conn provider.Conn) (provider.LinkToken, error) {
	if conn.AccessToken == "" {
		return provider.LinkToken{}, c.localError(callLinkCreate, "connection "+conn.ProviderID+" has no access token",
			"re-import the connection registry with the item's access_token")
	}
	user := conn.UserRef
	if user == "" {
		user = conn.ProviderID
	}
	if user == "" {
		return provider.LinkToken{}, c.localError(callLinkCreate, "connection has neither a user ref nor an item id",
			"re-import the connection registry with provider_id and user_ref")
	}
	req := linkTokenCreateRequest{
		ClientName:   c.cfg.ClientName,
		Language:     c.cfg.Language,
		CountryCodes: c.cfg.CountryCodes,
		User:         linkUser{ClientUserID: user},
		AccessToken:  conn.AccessToken,
	}
	if c.cfg.HostedLink {
		req.HostedLink = &hostedLink{URLLifetimeSeconds: int(c.cfg.HostedLinkLifetime / time.Second)}
	}
	var resp linkTokenCreateResponse
	if _, err := c.post(ctx, "/link/token/create", req, &resp, conn.AccessToken); err != nil {
		return provider.LinkToken{}, err
	}
	if resp.LinkToken == "" || resp.Expiration.IsZero() {
		return provider.LinkToken{}, c.malformed(callLinkCreate, 200, "no link_token or expiration")
	}
	if c.cfg.HostedLink {
		if resp.HostedLinkURL == "" {
			return provider.LinkToken{}, c.malformed(callLinkCreate, 200, "no hosted_link_url although hosted_link was asked for")
		}
		return provider.LinkToken{URL: resp.HostedLinkURL, ExpiresAt: resp.Expiration, Token: resp.LinkToken}, nil
	}
	var b strings.Builder
	if err := c.linkTmpl.Execute(&b, linkData{Token: resp.LinkToken}); err != nil {
		return provider.LinkToken{}, c.localError(callLinkCreate, "filling plaid.link_url: "+err.Error(),
			"fix plaid.link_url; it may only use {{.Token}}")
	}
	return provider.LinkToken{URL: b.String(), ExpiresAt: resp.Expiration, Token: resp.LinkToken}, nil
}
