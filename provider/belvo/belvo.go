// Package belvo is relink's client of Belvo's aggregation API (BELVO.md):
// it lists links with their status (GET /api/links/, paged), reads one link,
// mints widget access tokens for update mode (POST /api/token/) and turns
// Belvo's error arrays and webhooks into health signals. Secrets never
// appear in its errors.
package belvo

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/relink/relink/health"
	"github.com/relink/relink/provider"
	"github.com/relink/relink/provider/httpc"
)

// Config is what the client needs; the config package fills it from
// [belvo] and the environment.
type Config struct {
	BaseURL        string // e.g. https://api.belvo.com (belvo.base_url)
	SecretID       string // belvo.secret_id; secret
	SecretPassword string // belvo.secret_password; secret
	// WidgetURL is the hosted widget; the access token is added as
	// ?access_token=…, other query parameters (e.g. locale=es) are kept.
	// Default https://widget.belvo.io/.
	WidgetURL  string
	LoginRules []health.LoginRule // refine login_error messages; default health.DefaultLoginRules()
	PageSize   int                // links per page of GET /api/links/, 1…1000; default 1000
	Timeout    time.Duration      // per HTTP attempt; default 15 s
}

// DefaultWidgetURL is Belvo's hosted widget.
const DefaultWidgetURL = "https://widget.belvo.io/"

// TokenLifetime is how long a widget access token works (BELVO.md §4.3).
const TokenLifetime = 10 * time.Minute

const maxPageSize = 1000

// Client talks to one Belvo environment. It is safe for concurrent use.
type Client struct {
	cfg    Config
	base   *url.URL
	widget *url.URL
	http   *httpc.Client
	now    func() time.Time
}

var _ provider.Provider = (*Client)(nil)

// New checks cfg and returns a client.
func New(cfg Config) (*Client, error) {
	base, err := httpc.CheckBaseURL("belvo.base_url", cfg.BaseURL)
	if err != nil {
		return nil, err
	}
	if cfg.SecretID == "" {
		return nil, fmt.Errorf("belvo.secret_id is not set (env BELVO_SECRET_ID)")
	}
	if cfg.SecretPassword == "" {
		return nil, fmt.Errorf("belvo.secret_password is not set (env BELVO_SECRET_PASSWORD)")
	}
	if cfg.WidgetURL == "" {
		cfg.WidgetURL = DefaultWidgetURL
	}
	widget, err := httpc.CheckBaseURL("belvo.widget_url", cfg.WidgetURL)
	if err != nil {
		return nil, err
	}
	switch {
	case cfg.PageSize == 0:
		cfg.PageSize = maxPageSize
	case cfg.PageSize < 0 || cfg.PageSize > maxPageSize:
		return nil, fmt.Errorf("belvo page size %d is out of range 1…%d", cfg.PageSize, maxPageSize)
	}
	if cfg.Timeout < 0 {
		return nil, fmt.Errorf("belvo timeout %v is negative", cfg.Timeout)
	}
	if cfg.LoginRules == nil {
		cfg.LoginRules = health.DefaultLoginRules()
	}
	base.Path = strings.TrimSuffix(base.Path, "/")
	return &Client{cfg: cfg, base: base, widget: widget, http: httpc.New(cfg.Timeout), now: time.Now}, nil
}

// Name is "belvo".
func (c *Client) Name() string { return provider.Belvo }

// endpoint is the absolute URL of an API path.
func (c *Client) endpoint(path string) string {
	u := *c.base
	u.Path += path
	return u.String()
}

// send runs one API call with retries. Basic auth is added unless body is
// given (POST /api/token/ carries the keys in its body instead).
func (c *Client) send(ctx context.Context, method, target string, body []byte) (*httpc.Response, error) {
	return c.http.Do(ctx, func(ctx context.Context) (*http.Request, error) {
		var rd io.Reader
		if body != nil {
			rd = bytes.NewReader(body)
		}
		req, err := http.NewRequestWithContext(ctx, method, target, rd)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Accept", "application/json")
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		} else {
			req.SetBasicAuth(c.cfg.SecretID, c.cfg.SecretPassword)
		}
		req.Header.Set("User-Agent", "relink")
		return req, nil
	})
}
