package plaid

import (
	"context"
	"errors"

	"github.com/relink/relink/health"
	"github.com/relink/relink/provider"
)

const callItemGet = "POST /item/get"

// Check reads one Item with /item/get. A healthy or failing Item is a "poll"
// observation; a failed call that concerns the Item (ITEM_ERROR,
// INSTITUTION_ERROR, RATE_LIMIT_EXCEEDED, …) is an "api_error" observation;
// anything else (bad keys, a bad request, Plaid down, no answer) is a
// *provider.Error whose Signal says what it means.
func (c *Client) Check(ctx context.Context, conn provider.Conn) (provider.Observation, error) {
	return c.poll(ctx, conn, false)
}

// poll is Check; with record it also returns the failures that concern only
// this connection's stored token as its observation, which is what Sync wants.
func (c *Client) poll(ctx context.Context, conn provider.Conn, record bool) (provider.Observation, error) {
	fail := func(err *provider.Error) (provider.Observation, error) {
		if record && err.Signal != nil {
			return provider.Observation{ProviderID: conn.ProviderID, Kind: "api_error", Signal: *err.Signal}, nil
		}
		return provider.Observation{}, err
	}
	if conn.AccessToken == "" {
		return fail(c.localError(callItemGet, "connection "+conn.ProviderID+" has no access token",
			"re-import the connection registry with the item's access_token"))
	}
	if err := c.limits.wait(ctx, conn.ProviderID); err != nil {
		return provider.Observation{}, err
	}
	var resp itemGetResponse
	perr, err := c.post(ctx, "/item/get", itemGetRequest{AccessToken: conn.AccessToken}, &resp, conn.AccessToken)
	if perr != nil && itemScoped(perr.ErrorType) {
		return provider.Observation{ProviderID: conn.ProviderID, Kind: "api_error",
			Signal: health.PlaidErrorSignal(perr.health(), health.SourceAPIError, c.now())}, nil
	}
	if err != nil {
		var pe *provider.Error
		if perr != nil && connectionScoped(perr.ErrorCode) && errors.As(err, &pe) {
			return fail(pe)
		}
		return provider.Observation{}, err
	}
	item := resp.Item
	switch {
	case item.ItemID == "":
		return provider.Observation{}, c.malformed(callItemGet, 200, "no item.item_id")
	case conn.ProviderID != "" && item.ItemID != conn.ProviderID:
		return fail(c.localError(callItemGet, "the access token of "+conn.ProviderID+" belongs to item "+item.ItemID,
			"fix the connection registry: the access_token and provider_id rows are mixed up"))
	}
	var itemErr *health.PlaidError
	if item.Error != nil {
		e := item.Error.health()
		itemErr = &e
	}
	return provider.Observation{ProviderID: item.ItemID, Institution: deref(item.InstitutionName), Kind: "poll",
		Signal: health.PlaidItem(itemErr, item.ConsentExpirationTime, c.now())}, nil
}
