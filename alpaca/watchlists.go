package alpaca

import (
	"context"
	"net/http"
	"net/url"
)

// Watchlist calls. Creating a watchlist or adding a symbol is not
// idempotent (a repeat fails on the duplicate), so those are retried only
// on 429 or a failed connect; the rest are retried like reads.

// ListWatchlists returns the account's watchlists, without their assets
// (GET /v2/watchlists).
func (c *Client) ListWatchlists(ctx context.Context) ([]Watchlist, error) {
	var out []Watchlist
	if err := c.get(ctx, "/v2/watchlists", "/v2/watchlists", nil, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// CreateWatchlist creates a watchlist (POST /v2/watchlists).
func (c *Client) CreateWatchlist(ctx context.Context, req WatchlistRequest) (*Watchlist, error) {
	return c.watchlist(ctx, http.MethodPost, "/v2/watchlists", "/v2/watchlists", nil, &req, false)
}

// GetWatchlist returns a watchlist with its assets (GET
// /v2/watchlists/{watchlist_id}).
func (c *Client) GetWatchlist(ctx context.Context, id string) (*Watchlist, error) {
	return c.watchlist(ctx, http.MethodGet, "/v2/watchlists/{watchlist_id}", "/v2/watchlists/"+seg(id), nil, nil, true)
}

// UpdateWatchlist replaces a watchlist's name and symbols (PUT
// /v2/watchlists/{watchlist_id}).
func (c *Client) UpdateWatchlist(ctx context.Context, id string, req WatchlistRequest) (*Watchlist, error) {
	return c.watchlist(ctx, http.MethodPut, "/v2/watchlists/{watchlist_id}", "/v2/watchlists/"+seg(id), nil, &req, true)
}

// AddAssetToWatchlist appends a symbol (POST
// /v2/watchlists/{watchlist_id}).
func (c *Client) AddAssetToWatchlist(ctx context.Context, id, symbol string) (*Watchlist, error) {
	return c.watchlist(ctx, http.MethodPost, "/v2/watchlists/{watchlist_id}", "/v2/watchlists/"+seg(id), nil,
		&symbolBody{Symbol: symbol}, false)
}

// RemoveAssetFromWatchlist removes a symbol and returns the updated
// watchlist (DELETE /v2/watchlists/{watchlist_id}/{symbol}).
func (c *Client) RemoveAssetFromWatchlist(ctx context.Context, id, symbol string) (*Watchlist, error) {
	return c.watchlist(ctx, http.MethodDelete, "/v2/watchlists/{watchlist_id}/{symbol}",
		"/v2/watchlists/"+seg(id)+"/"+seg(symbol), nil, nil, true)
}

// DeleteWatchlist deletes a watchlist (DELETE
// /v2/watchlists/{watchlist_id}).
func (c *Client) DeleteWatchlist(ctx context.Context, id string) error {
	_, err := c.send(ctx, http.MethodDelete, "/v2/watchlists/{watchlist_id}", "/v2/watchlists/"+seg(id), nil, nil, nil, true)
	return err
}

// GetWatchlistByName returns a watchlist by name (GET
// /v2/watchlists:by_name).
func (c *Client) GetWatchlistByName(ctx context.Context, name string) (*Watchlist, error) {
	return c.watchlist(ctx, http.MethodGet, "/v2/watchlists:by_name", "/v2/watchlists:by_name", byName(name), nil, true)
}

// UpdateWatchlistByName replaces a watchlist found by name (PUT
// /v2/watchlists:by_name).
func (c *Client) UpdateWatchlistByName(ctx context.Context, name string, req WatchlistRequest) (*Watchlist, error) {
	return c.watchlist(ctx, http.MethodPut, "/v2/watchlists:by_name", "/v2/watchlists:by_name", byName(name), &req, true)
}

// AddAssetToWatchlistByName appends a symbol to a watchlist found by name
// (POST /v2/watchlists:by_name).
func (c *Client) AddAssetToWatchlistByName(ctx context.Context, name, symbol string) (*Watchlist, error) {
	return c.watchlist(ctx, http.MethodPost, "/v2/watchlists:by_name", "/v2/watchlists:by_name", byName(name),
		&symbolBody{Symbol: symbol}, false)
}

// DeleteWatchlistByName deletes a watchlist found by name (DELETE
// /v2/watchlists:by_name).
func (c *Client) DeleteWatchlistByName(ctx context.Context, name string) error {
	_, err := c.send(ctx, http.MethodDelete, "/v2/watchlists:by_name", "/v2/watchlists:by_name", byName(name), nil, nil, true)
	return err
}

type symbolBody struct {
	Symbol string `json:"symbol"`
}

func byName(name string) url.Values { return url.Values{"name": {name}} }

func (c *Client) watchlist(ctx context.Context, method, route, path string, q url.Values, in any, idempotent bool) (*Watchlist, error) {
	var w Watchlist
	if _, err := c.send(ctx, method, route, path, q, in, &w, idempotent); err != nil {
		return nil, err
	}
	return &w, nil
}
