// Package cobalt is relink's client of Cobalt's EHR integration API
// (COBALT.md): it mints Link tokens in update mode, reads each connection's
// event history (GET /v1/webhook-events) and verifies and parses HMAC-signed
// webhooks, turning all of them into health signals. Cobalt cannot list connections
// nor report their health directly; the registry supplies the access tokens.
// Secrets (client secret, access tokens) never appear in its errors.
package cobalt

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/template"
	"time"

	"github.com/relink/relink/provider"
	"github.com/relink/relink/provider/httpc"
)

// Config is what the client needs; the config package fills it from
// [cobalt] and the environment.
type Config struct {
	BaseURL      string // e.g. https://api.usecobalt.com (a trailing /v1 is accepted)
	ClientID     string // cobalt.client_id
	ClientSecret string // cobalt.client_secret; secret
	// LinkURL is where the user opens Link, a template with {{.Token}} (the
	// link token) and {{.CallbackURL}} (relink serve's return page for this
	// session, or "" without serve.public_url), both query-escaped.
	// Default: Cobalt's hosted Link, DefaultLinkURL.
	LinkURL string
	// OrgID is cobalt.org_id: Cobalt's org_id (our organization, e.g. the
	// clinic) for a connection whose registry row names none. Optional.
	OrgID   string
	Timeout time.Duration // per HTTP attempt; default 15 s
}

// DefaultLinkURL is Cobalt's hosted new-window Link (COBALT.md §4.2),
// "https://link.usecobalt.com?token={link_token}", which, "once the user
// completes the flow", redirects "back to your callback_url along with the
// public_token (eg. https://{YOUR_CALLBACK_URL}?token={public_token})"
// (https://docs.usecobalt.com/docs/link/setup). Where Link takes the
// callback_url from, the reference does not say; relink passes serve's
// return page for the session under that name, which Link ignores if it
// takes it from elsewhere (then set cobalt.link_url without it, and point
// Cobalt's callback at serve as Cobalt tells you).
const DefaultLinkURL = "https://link.usecobalt.com?token={{.Token}}{{if .CallbackURL}}&callback_url={{.CallbackURL}}{{end}}"

// TokenLifetime is how long a link token works, once (COBALT.md §4.1).
const TokenLifetime = 30 * time.Minute

// Client talks to Cobalt. It is safe for concurrent use.
type Client struct {
	cfg  Config
	base *url.URL
	link *template.Template
	http *httpc.Client
	now  func() time.Time
}

var _ provider.Provider = (*Client)(nil)

// New checks cfg and returns a client.
func New(cfg Config) (*Client, error) {
	base, err := httpc.CheckBaseURL("cobalt.base_url", cfg.BaseURL)
	if err != nil {
		return nil, err
	}
	base.Path = strings.TrimSuffix(strings.TrimSuffix(base.Path, "/"), "/v1")
	if cfg.ClientID == "" {
		return nil, fmt.Errorf("cobalt.client_id is not set (env COBALT_CLIENT_ID)")
	}
	if cfg.ClientSecret == "" {
		return nil, fmt.Errorf("cobalt.client_secret is not set (env COBALT_CLIENT_SECRET)")
	}
	if cfg.LinkURL == "" {
		cfg.LinkURL = DefaultLinkURL
	}
	link, err := template.New("link_url").Option("missingkey=error").Parse(cfg.LinkURL)
	if err != nil {
		return nil, fmt.Errorf("cobalt.link_url is not a valid template: %w", err)
	}
	c := &Client{cfg: cfg, base: base, link: link, now: time.Now}
	if _, err := c.linkURL("PROBE-TOKEN", "https://relink.example/cobalt/done/PROBE"); err != nil {
		return nil, fmt.Errorf("cobalt.link_url: %w", err)
	}
	probe, err := c.linkURL("PROBE-TOKEN", "")
	if err != nil {
		return nil, fmt.Errorf("cobalt.link_url: %w", err)
	}
	if !strings.Contains(probe, "PROBE-TOKEN") {
		return nil, fmt.Errorf("cobalt.link_url %q does not use {{.Token}}", cfg.LinkURL)
	}
	if _, err := httpc.CheckBaseURL("cobalt.link_url", probe); err != nil {
		return nil, err
	}
	if cfg.Timeout < 0 {
		return nil, fmt.Errorf("cobalt timeout %v is negative", cfg.Timeout)
	}
	c.http = httpc.New(cfg.Timeout)
	return c, nil
}

// Name is "cobalt".
func (c *Client) Name() string { return provider.Cobalt }

// linkData is what a cobalt.link_url template sees.
type linkData struct{ Token, CallbackURL string }

func (c *Client) linkURL(token, callback string) (string, error) {
	var b strings.Builder
	if err := c.link.Execute(&b, linkData{Token: url.QueryEscape(token), CallbackURL: url.QueryEscape(callback)}); err != nil {
		return "", fmt.Errorf("filling in the link_url template: %w", err)
	}
	return b.String(), nil
}

// endpoint is the absolute URL of an API path (starting /v1/) with a query.
func (c *Client) endpoint(path string, q url.Values) string {
	u := *c.base
	u.Path += path
	u.RawQuery = q.Encode()
	return u.String()
}

// send runs one API call with retries, with the client credential headers
// and, when given, the user's access_token header (COBALT.md §3). Header
// names are sent in lower case, as Cobalt documents them.
func (c *Client) send(ctx context.Context, method, target, accessToken string, body []byte) (*httpc.Response, error) {
	return c.http.Do(ctx, func(ctx context.Context) (*http.Request, error) {
		var rd io.Reader
		if body != nil {
			rd = bytes.NewReader(body)
		}
		req, err := http.NewRequestWithContext(ctx, method, target, rd)
		if err != nil {
			return nil, err
		}
		req.Header["client_id"] = []string{c.cfg.ClientID}
		req.Header["client_secret"] = []string{c.cfg.ClientSecret}
		if accessToken != "" {
			req.Header["access_token"] = []string{accessToken}
		}
		req.Header.Set("Accept", "application/json")
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		req.Header.Set("User-Agent", "relink")
		return req, nil
	})
}
