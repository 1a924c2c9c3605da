// Package httpc is the HTTP plumbing every provider client shares: timeouts,
// a bounded body size, and retries of 429 and 5xx answers and transport
// failures with exponential backoff, full jitter and Retry-After.
package httpc

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// MaxBody is the largest response body a client reads.
const MaxBody = 8 << 20

// Client sends requests with retries.
type Client struct {
	HTTP       *http.Client  // with its own Timeout per attempt
	MaxRetries int           // retries after the first attempt
	BaseDelay  time.Duration // first backoff; doubles each retry
	MaxDelay   time.Duration // cap of one backoff (and of Retry-After)
}

// New returns a Client with sane defaults: 15 s per attempt, 3 retries,
// 200 ms base delay, 10 s cap.
func New(timeout time.Duration) *Client {
	if timeout <= 0 {
		timeout = 15 * time.Second
	}
	return &Client{HTTP: &http.Client{Timeout: timeout}, MaxRetries: 3, BaseDelay: 200 * time.Millisecond, MaxDelay: 10 * time.Second}
}

// Response is a fully read answer.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Do sends the request built by build (called again for every attempt, so
// bodies are fresh) and returns the last answer. A 429 or 5xx answer is
// retried while retries remain and then returned as a Response, not an
// error; err is only a transport failure or a cancelled context.
func (c *Client) Do(ctx context.Context, build func(ctx context.Context) (*http.Request, error)) (*Response, error) {
	var lastErr error
	for attempt := 0; ; attempt++ {
		req, err := build(ctx)
		if err != nil {
			return nil, fmt.Errorf("building request: %w", err)
		}
		resp, err := c.HTTP.Do(req)
		var r *Response
		if err == nil {
			r, err = read(resp)
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		retryable := err != nil || r.Status == http.StatusTooManyRequests || r.Status >= 500
		if !retryable || attempt >= c.MaxRetries {
			if err != nil {
				return nil, err
			}
			return r, nil
		}
		lastErr = err
		delay := c.backoff(attempt)
		if r != nil {
			if ra, ok := retryAfter(r.Header.Get("Retry-After")); ok {
				delay = min(ra, c.maxDelay())
			}
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			if lastErr != nil {
				return nil, lastErr
			}
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}

func (c *Client) maxDelay() time.Duration {
	if c.MaxDelay <= 0 {
		return 10 * time.Second
	}
	return c.MaxDelay
}

// backoff is full jitter: a random wait in [0, base·2^attempt], capped.
func (c *Client) backoff(attempt int) time.Duration {
	d := c.BaseDelay << attempt
	if d <= 0 || d > c.maxDelay() {
		d = c.maxDelay()
	}
	return time.Duration(rand.Int64N(int64(d) + 1))
}

func read(resp *http.Response) (*Response, error) {
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxBody+1))
	if err != nil {
		return nil, fmt.Errorf("reading response: %w", err)
	}
	if len(body) > MaxBody {
		return nil, fmt.Errorf("response larger than %d bytes", MaxBody)
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: body}, nil
}

func retryAfter(v string) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0), true
	}
	return 0, false
}

// CheckBaseURL accepts an absolute https URL, or http on loopback (the
// sandbox), without credentials in it; key names the config key in errors.
func CheckBaseURL(key, raw string) (*url.URL, error) {
	if raw == "" {
		return nil, fmt.Errorf("%s is not set", key)
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("%s %q is not an absolute URL", key, raw)
	}
	if u.User != nil {
		return nil, fmt.Errorf("%s must not hold credentials", key)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !isLoopback(u.Hostname()) {
			return nil, fmt.Errorf("%s %q: plain http is only allowed on loopback; use https", key, raw)
		}
	default:
		return nil, fmt.Errorf("%s %q: scheme must be https", key, raw)
	}
	return u, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
