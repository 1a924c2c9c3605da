package plaid

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"text/template"
	"time"

	"github.com/relink/relink/provider"
	"github.com/relink/relink/provider/httpc"
)

// Client talks to one Plaid environment with one set of keys. It is safe for
// concurrent use and implements provider.Provider.
type Client struct {
	cfg      Config
	http     *httpc.Client
	linkTmpl *template.Template // nil when HostedLink
	limits   *limits
	now      func() time.Time
}

var _ provider.Provider = (*Client)(nil)

// New checks cfg (base URL, keys, client name, link template) and returns a
// client. Defaults: language "en", country codes ["US"], Plaid's production
// rate limits, 15 s per HTTP attempt.
func New(cfg Config) (*Client, error) {
	cfg.CountryCodes = append([]string(nil), cfg.CountryCodes...)
	tmpl, err := cfg.check()
	if err != nil {
		return nil, fmt.Errorf("plaid: configuration: %w", err)
	}
	hc := httpc.New(cfg.Timeout)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 2 * syncWorkers // keep Sync's connections alive
	hc.HTTP.Transport = tr
	return &Client{
		cfg:      cfg,
		http:     hc,
		linkTmpl: tmpl,
		limits:   newLimits(cfg.PerClientPerMinute, cfg.PerItemPerMinute),
		now:      time.Now,
	}, nil
}

// Name is "plaid".
func (c *Client) Name() string { return provider.Plaid }

// post sends one API call with the keys in headers and decodes a 2xx answer
// into out. A Plaid error body is returned decoded as well as inside the
// *provider.Error, so callers can branch on error_type. token is the access
// token of the call, kept out of every error text.
func (c *Client) post(ctx context.Context, path string, in, out any, token string) (*wireError, error) {
	call := "POST " + path
	body, err := json.Marshal(in)
	if err != nil {
		return nil, fmt.Errorf("plaid: encoding the %s request: %w", call, err)
	}
	resp, err := c.http.Do(ctx, func(ctx context.Context) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.BaseURL+path, bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("PLAID-CLIENT-ID", c.cfg.ClientID)
		req.Header.Set("PLAID-SECRET", c.cfg.Secret)
		req.Header.Set("Plaid-Version", apiVersion)
		req.Header.Set("User-Agent", "relink")
		return req, nil
	})
	if err != nil {
		return nil, c.transportError(ctx, call, err)
	}
	if resp.Status < 200 || resp.Status > 299 {
		return c.apiError(call, resp, token)
	}
	if err := json.Unmarshal(resp.Body, out); err != nil {
		return nil, c.malformed(call, resp.Status, err.Error())
	}
	return nil, nil
}
