package alpaca

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"github.com/shopspring/decimal"
)

// ListPositions returns all open positions (GET /v2/positions).
func (c *Client) ListPositions(ctx context.Context) ([]Position, error) {
	var out []Position
	if err := c.get(ctx, "/v2/positions", "/v2/positions", nil, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// GetPosition returns the open position in a symbol or asset id (GET
// /v2/positions/{symbol_or_asset_id}); ErrNotFound when there is none.
func (c *Client) GetPosition(ctx context.Context, symbolOrAssetID string) (*Position, error) {
	var p Position
	if err := c.get(ctx, "/v2/positions/{symbol_or_asset_id}", "/v2/positions/"+seg(symbolOrAssetID), nil, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// ClosePositionRequest says how much of a position to close; at most one
// field may be set, and neither means all of it.
type ClosePositionRequest struct {
	// Qty is the number of shares to close.
	Qty *decimal.Decimal
	// Percentage (0 to 100) is the share of the position to close.
	Percentage *decimal.Decimal
}

// ClosePosition liquidates all or part of a position at market (DELETE
// /v2/positions/{symbol_or_asset_id}) and returns the closing order.
// Liquidation places an order, so it is not retried after an ambiguous
// failure (only on 429 or a failed connect): check the position and open
// orders before calling it again.
func (c *Client) ClosePosition(ctx context.Context, symbolOrAssetID string, req ClosePositionRequest) (*Order, error) {
	if req.Qty != nil && req.Percentage != nil {
		return nil, errors.New("alpaca: ClosePosition: set Qty or Percentage, not both")
	}
	q := url.Values{}
	if req.Qty != nil {
		q.Set("qty", req.Qty.String())
	}
	if req.Percentage != nil {
		q.Set("percentage", req.Percentage.String())
	}
	var o Order
	if _, err := c.send(ctx, http.MethodDelete, "/v2/positions/{symbol_or_asset_id}",
		"/v2/positions/"+seg(symbolOrAssetID), q, nil, &o, false); err != nil {
		return nil, err
	}
	return &o, nil
}

// CloseAllPositionsRequest configures CloseAllPositions.
type CloseAllPositionsRequest struct {
	// CancelOrders cancels all open orders before liquidating.
	CancelOrders bool
}

// CloseAllPositions liquidates every position (DELETE /v2/positions) and
// returns the per-symbol results of the 207 reply; a result's Body holds
// the closing order when its Status is 200. Like ClosePosition it is not
// retried after an ambiguous failure.
func (c *Client) CloseAllPositions(ctx context.Context, req CloseAllPositionsRequest) ([]CloseResult, error) {
	q := url.Values{"cancel_orders": {strconv.FormatBool(req.CancelOrders)}}
	var out []CloseResult
	if _, err := c.send(ctx, http.MethodDelete, "/v2/positions", "/v2/positions", q, nil, &out, false); err != nil {
		return nil, err
	}
	return out, nil
}
