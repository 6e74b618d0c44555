package alpaca

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Order status filters for ListOrdersRequest.Status.
const (
	OrdersOpen   = "open"
	OrdersClosed = "closed"
	OrdersAll    = "all"
)

// Sort directions.
const (
	Asc  = "asc"
	Desc = "desc"
)

// ListOrdersRequest filters GET /v2/orders. Zero fields are not sent, so
// the server's defaults apply (open orders, 50, newest first).
type ListOrdersRequest struct {
	// Status is OrdersOpen, OrdersClosed or OrdersAll.
	Status string
	// Limit is the maximum number of orders (server max 500).
	Limit int
	// After and Until bound the submission time (both exclusive).
	After, Until time.Time
	// Direction is Asc or Desc.
	Direction string
	// Nested rolls multi-leg orders' children into their parent's Legs.
	Nested bool
	// Symbols restricts the list to these symbols.
	Symbols []string
	// Side restricts the list to one side.
	Side Side
}

// ListOrders lists orders (GET /v2/orders). Alpaca has no page token for
// orders: page with After/Until.
func (c *Client) ListOrders(ctx context.Context, req ListOrdersRequest) ([]Order, error) {
	q := url.Values{}
	setNonEmpty(q, "status", req.Status)
	if req.Limit > 0 {
		q.Set("limit", strconv.Itoa(req.Limit))
	}
	setTime(q, "after", req.After)
	setTime(q, "until", req.Until)
	setNonEmpty(q, "direction", req.Direction)
	if req.Nested {
		q.Set("nested", "true")
	}
	if len(req.Symbols) > 0 {
		q.Set("symbols", strings.Join(req.Symbols, ","))
	}
	setNonEmpty(q, "side", string(req.Side))
	var out []Order
	if err := c.get(ctx, "/v2/orders", "/v2/orders", q, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// GetOrder returns the order with the broker's id (GET
// /v2/orders/{order_id}, nested).
func (c *Client) GetOrder(ctx context.Context, orderID string) (*Order, error) {
	var o Order
	q := url.Values{"nested": {"true"}}
	if err := c.get(ctx, "/v2/orders/{order_id}", "/v2/orders/"+seg(orderID), q, &o); err != nil {
		return nil, err
	}
	return &o, nil
}

// GetOrderByClientOrderID returns the order with the caller's id (GET
// /v2/orders:by_client_order_id); an error matching ErrNotFound means the
// broker does not hold it.
func (c *Client) GetOrderByClientOrderID(ctx context.Context, clientOrderID string) (*Order, error) {
	var o Order
	q := url.Values{"client_order_id": {clientOrderID}}
	if err := c.get(ctx, "/v2/orders:by_client_order_id", "/v2/orders:by_client_order_id", q, &o); err != nil {
		return nil, err
	}
	return &o, nil
}

// ReplaceOrder replaces an open order (PATCH /v2/orders/{order_id}) and
// returns the new order. Like SubmitOrder it is retried only on 429 or a
// failed connect; after an ambiguous failure, set req.ClientOrderID and
// look the new order up with GetOrderByClientOrderID.
func (c *Client) ReplaceOrder(ctx context.Context, orderID string, req ReplaceRequest) (*Order, error) {
	body, err := encodeBody(&req)
	if err != nil {
		return nil, err
	}
	var o Order
	_, err = c.do(ctx, &call{method: http.MethodPatch, route: "/v2/orders/{order_id}",
		path: "/v2/orders/" + seg(orderID), body: body, submit: true, out: &o})
	if err != nil {
		return nil, err
	}
	return &o, nil
}

// CancelOrder requests cancellation of an open order (DELETE
// /v2/orders/{order_id}); cancellation completes asynchronously, so watch
// trade updates or the order's status. Cancelling is idempotent and
// retried; if a retry finds the order already canceled or pending cancel,
// the earlier attempt worked and nil is returned.
func (c *Client) CancelOrder(ctx context.Context, orderID string) error {
	res, err := c.send(ctx, http.MethodDelete, "/v2/orders/{order_id}", "/v2/orders/"+seg(orderID), nil, nil, nil, true)
	var apiErr *APIError
	if err != nil && res.attempts > 1 && errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusUnprocessableEntity {
		m := apiErr.Message
		if strings.Contains(m, `"canceled"`) || strings.Contains(m, `"pending_cancel"`) {
			return nil
		}
	}
	return err
}

// CancelAllOrders requests cancellation of every open order (DELETE
// /v2/orders) and returns the per-order results of the 207 reply.
func (c *Client) CancelAllOrders(ctx context.Context) ([]CancelResult, error) {
	var out []CancelResult
	if _, err := c.send(ctx, http.MethodDelete, "/v2/orders", "/v2/orders", nil, nil, &out, true); err != nil {
		return nil, err
	}
	return out, nil
}
