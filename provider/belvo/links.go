package belvo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/relink/relink/health"
	"github.com/relink/relink/provider"
)

// link is the part of Belvo's Link object relink reads (BELVO.md §4.1).
// Belvo's Link carries no last error message, so polls cannot refine
// "invalid" beyond login_required; LINK webhooks can.
type link struct {
	ID          string `json:"id"`
	Institution string `json:"institution"`
	Status      string `json:"status"`
}

// page is one answer of GET /api/links/.
type page struct {
	Count   *int    `json:"count"`
	Next    *string `json:"next"`
	Results []link  `json:"results"`
}

const listCall = "GET /api/links/"

// Sync lists every link of the account, following `next` until it is null,
// and emits one poll observation per link. conns is not needed: Belvo can
// list links. Belvo has no change cursor; cursor is returned unchanged.
func (c *Client) Sync(ctx context.Context, _ iter.Seq[provider.Conn], cursor string, emit func(provider.Observation) error) (string, error) {
	next := c.endpoint("/api/links/") + "?" + url.Values{"page_size": {strconv.Itoa(c.cfg.PageSize)}}.Encode()
	seen := map[string]bool{}
	for n := 1; next != ""; n++ {
		if seen[next] {
			return cursor, fmt.Errorf("belvo: listing links: page %d repeats an earlier page's URL; stopping", n)
		}
		seen[next] = true
		p, err := c.listPage(ctx, next)
		if err != nil {
			return cursor, err
		}
		at := c.now()
		for i, l := range p.Results {
			if l.ID == "" || l.Status == "" {
				return cursor, c.malformed(listCall, http.StatusOK,
					fmt.Errorf("link %d of page %d has no id or status", i+1, n))
			}
			if err := emit(c.observe(l, at)); err != nil {
				return cursor, fmt.Errorf("belvo: recording link %s: %w", l.ID, err)
			}
		}
		if next, err = c.nextPage(next, p.Next); err != nil {
			return cursor, err
		}
	}
	return cursor, nil
}

func (c *Client) listPage(ctx context.Context, target string) (*page, error) {
	r, err := c.send(ctx, http.MethodGet, target, nil)
	if err != nil {
		return nil, c.transportFailure(listCall, err)
	}
	if r.Status != http.StatusOK {
		return nil, c.apiFailure(listCall, r)
	}
	var p page
	if err := json.Unmarshal(r.Body, &p); err != nil {
		return nil, c.malformed(listCall, r.Status, fmt.Errorf("decoding the page: %w", err))
	}
	if p.Count == nil || p.Results == nil {
		return nil, c.malformed(listCall, r.Status, errors.New("no count or results in the page"))
	}
	return &p, nil
}

// nextPage resolves `next` against the current page. It must stay on the
// configured host: the keys go with every request.
func (c *Client) nextPage(current string, next *string) (string, error) {
	if next == nil || *next == "" {
		return "", nil
	}
	cur, _ := url.Parse(current)
	u, err := cur.Parse(*next)
	if err != nil {
		return "", c.malformed(listCall, http.StatusOK, fmt.Errorf("next page URL %q: %w", *next, err))
	}
	if u.Scheme != c.base.Scheme || u.Host != c.base.Host {
		return "", c.malformed(listCall, http.StatusOK,
			fmt.Errorf("next page URL points at %s://%s, not belvo.base_url; refusing to send the keys there", u.Scheme, u.Host))
	}
	return u.String(), nil
}

func (c *Client) observe(l link, at time.Time) provider.Observation {
	return provider.Observation{ProviderID: l.ID, Institution: l.Institution, Kind: "poll",
		Signal: health.BelvoLink(l.Status, "", c.cfg.LoginRules, at)}
}

// Check reads one link (GET /api/links/{id}/). When Belvo answers with an
// error, the *provider.Error is returned together with an "api_error"
// observation of its signal (e.g. not_found for a deleted link).
func (c *Client) Check(ctx context.Context, conn provider.Conn) (provider.Observation, error) {
	const call = "GET /api/links/{id}/"
	if conn.ProviderID == "" {
		return provider.Observation{}, errors.New("belvo: checking a link: no link id")
	}
	r, err := c.send(ctx, http.MethodGet, c.endpoint("/api/links/"+url.PathEscape(conn.ProviderID)+"/"), nil)
	var pe *provider.Error
	switch {
	case err != nil:
		pe = c.transportFailure(call, err)
	case r.Status != http.StatusOK:
		pe = c.apiFailure(call, r)
	default:
		var l link
		if err := json.Unmarshal(r.Body, &l); err != nil {
			pe = c.malformed(call, r.Status, fmt.Errorf("decoding the link: %w", err))
		} else if l.ID == "" || l.Status == "" {
			pe = c.malformed(call, r.Status, errors.New("the link has no id or status"))
		} else {
			return c.observe(l, c.now()), nil
		}
	}
	obs := provider.Observation{ProviderID: conn.ProviderID, Kind: "api_error"}
	if pe.Signal != nil {
		obs.Signal = *pe.Signal
	}
	return obs, pe
}
