package belvo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/relink/relink/provider"
)

// updateScopes are the scopes Belvo shows for update mode (BELVO.md §4.3).
const updateScopes = "read_institutions,write_links,read_links"

// UpdateLink mints a widget access token for the link in update mode
// (POST /api/token/ with link_id) and returns the hosted widget URL with
// it. The token lives 10 minutes and works once.
func (c *Client) UpdateLink(ctx context.Context, conn provider.Conn) (provider.LinkToken, error) {
	const call = "POST /api/token/"
	if conn.ProviderID == "" {
		return provider.LinkToken{}, errors.New("belvo: minting a widget token: no link id")
	}
	body, err := json.Marshal(map[string]string{"id": c.cfg.SecretID, "password": c.cfg.SecretPassword,
		"link_id": conn.ProviderID, "scopes": updateScopes})
	if err != nil {
		return provider.LinkToken{}, fmt.Errorf("belvo: encoding the token request: %w", err)
	}
	minted := c.now() // the lifetime counts from before the request, to be safe
	r, err := c.send(ctx, http.MethodPost, c.endpoint("/api/token/"), body)
	if err != nil {
		return provider.LinkToken{}, c.transportFailure(call, err)
	}
	if r.Status != http.StatusOK && r.Status != http.StatusCreated {
		return provider.LinkToken{}, c.apiFailure(call, r)
	}
	var tok struct {
		Access string `json:"access"`
	}
	if err := json.Unmarshal(r.Body, &tok); err != nil {
		return provider.LinkToken{}, c.malformed(call, r.Status, fmt.Errorf("decoding the token: %w", err))
	}
	if tok.Access == "" {
		return provider.LinkToken{}, c.malformed(call, r.Status, errors.New("no access token in the answer"))
	}
	return provider.LinkToken{URL: c.widgetURL(tok.Access), ExpiresAt: minted.Add(TokenLifetime)}, nil
}

// widgetURL is the hosted widget with the access token (BELVO.md §4.4).
func (c *Client) widgetURL(access string) string {
	u := *c.widget
	q := u.Query()
	q.Set("access_token", access)
	u.RawQuery = q.Encode()
	return u.String()
}
