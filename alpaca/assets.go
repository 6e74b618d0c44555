package alpaca

import (
	"context"
	"net/url"
	"strings"
	"time"
)

// ListAssetsRequest filters GET /v2/assets. Zero fields are not sent.
type ListAssetsRequest struct {
	// Status is "active" or "inactive".
	Status string
	// AssetClass is "us_equity" (server default), "us_option" or "crypto".
	AssetClass string
	// Exchange is an exchange such as "NASDAQ".
	Exchange string
	// Attributes keeps assets with any of these attributes.
	Attributes []string
}

// ListAssets lists assets (GET /v2/assets).
func (c *Client) ListAssets(ctx context.Context, req ListAssetsRequest) ([]Asset, error) {
	q := url.Values{}
	setNonEmpty(q, "status", req.Status)
	setNonEmpty(q, "asset_class", req.AssetClass)
	setNonEmpty(q, "exchange", req.Exchange)
	if len(req.Attributes) > 0 {
		q.Set("attributes", strings.Join(req.Attributes, ","))
	}
	var out []Asset
	if err := c.get(ctx, "/v2/assets", "/v2/assets", q, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// GetAsset returns one asset by symbol, asset id or CUSIP (GET
// /v2/assets/{symbol_or_asset_id}).
func (c *Client) GetAsset(ctx context.Context, symbolOrAssetID string) (*Asset, error) {
	var a Asset
	if err := c.get(ctx, "/v2/assets/{symbol_or_asset_id}", "/v2/assets/"+seg(symbolOrAssetID), nil, &a); err != nil {
		return nil, err
	}
	return &a, nil
}

// GetClock returns the market clock (GET /v2/clock).
func (c *Client) GetClock(ctx context.Context) (*Clock, error) {
	var k Clock
	if err := c.get(ctx, "/v2/clock", "/v2/clock", nil, &k); err != nil {
		return nil, err
	}
	return &k, nil
}

// CalendarRequest bounds GetCalendar; dates are taken in their own
// location. Zero fields are not sent.
type CalendarRequest struct {
	Start, End time.Time
}

// GetCalendar returns the trading days between Start and End inclusive
// (GET /v2/calendar).
func (c *Client) GetCalendar(ctx context.Context, req CalendarRequest) ([]CalendarDay, error) {
	q := url.Values{}
	if !req.Start.IsZero() {
		q.Set("start", formatDate(req.Start))
	}
	if !req.End.IsZero() {
		q.Set("end", formatDate(req.End))
	}
	var out []CalendarDay
	if err := c.get(ctx, "/v2/calendar", "/v2/calendar", q, &out); err != nil {
		return nil, err
	}
	return out, nil
}
