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

// tokenRequest is the body of POST /api/token/ (BELVO.md §4.3).
type tokenRequest struct {
	ID       string  `json:"id"`
	Password string  `json:"password"`
	LinkID   string  `json:"link_id"`
	Scopes   string  `json:"scopes"`
	Widget   *widget `json:"widget,omitempty"`
}

// widget configures the hosted widget the token opens. Its callback_urls
// are where the hosted widget sends the user back: "success" once the link
// is connected (with ?link=…&institution=…), "exit" when the user leaves;
// "event" (errors and other widget events) is not asked for, so those
// stay in the widget (developers.belvo.com, "Hosted Widget Introduction",
// handling callback events; BELVO.md §4.3 and §4.4).
type widget struct {
	CallbackURLs callbackURLs `json:"callback_urls"`
}

type callbackURLs struct {
	Success string `json:"success,omitempty"`
	Exit    string `json:"exit,omitempty"`
}

// UpdateLink mints a widget access token for the link in update mode
// (POST /api/token/ with link_id) and returns the hosted widget URL with
// it. With conn.Return, the widget's callback_urls send the user back to
// relink serve's pages. The token lives 10 minutes and works once.
func (c *Client) UpdateLink(ctx context.Context, conn provider.Conn) (provider.LinkToken, error) {
	const call = "POST /api/token/"
	if conn.ProviderID == "" {
		return provider.LinkToken{}, errors.New("belvo: minting a widget token: no link id")
	}
	req := tokenRequest{ID: c.cfg.SecretID, Password: c.cfg.SecretPassword, LinkID: conn.ProviderID, Scopes: updateScopes}
	if conn.Return.Done != "" || conn.Return.Exit != "" {
		req.Widget = &widget{CallbackURLs: callbackURLs{Success: conn.Return.Done, Exit: conn.Return.Exit}}
	}
	body, err := json.Marshal(req)
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
