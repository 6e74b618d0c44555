package alpaca

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// NewClientOrderID returns a random client_order_id (a UUID v4, 36
// characters). Callers that journal intents before sending should derive
// ids from their journal instead, so that a restart can find them again.
func NewClientOrderID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:], b[10:])
	return string(s[:])
}

// SubmitOrder places an order at most once for its ClientOrderID, which
// must be set (ErrMissingClientOrderID otherwise).
//
// The request is never blindly retried. What happens after a failure
// depends on what the failure proves:
//
//   - 429: Alpaca's rate limiter answers before the order service sees the
//     request, so the broker did not act; the request is resent after the
//     wait the server asks for, within the Client's retry budget. The same
//     holds for a connection that could not be established.
//   - Any other 4xx except 408: the broker refused the order; the
//     *APIError is returned (errors.Is works with ErrInsufficientBuyingPower,
//     ErrValidation, ...).
//   - 5xx, 408, a per-attempt timeout, a dropped connection or an
//     unreadable 200: the outcome is unknown. SubmitOrder looks the order
//     up with GET /v2/orders:by_client_order_id (itself retried). Found: the
//     order is returned as if the POST had succeeded. 404: the same body
//     with the same id is sent again; if the first attempt does land
//     meanwhile, the broker refuses the copy as a duplicate.
//   - 422 "client_order_id must be unique": an earlier attempt (or an
//     earlier process) placed it; it is looked up and returned. If that
//     order's symbol, side or qty differ from req, the id was reused for a
//     different intent and an error matching ErrDuplicateClientOrderID is
//     returned instead.
//
// After Options.SubmitRounds sends, or when a look-up fails, or when ctx
// ends after the request may have left, SubmitOrder returns an
// *UnknownOutcomeError (errors.Is ErrUnknownOutcome): record the intent as
// unknown and reconcile it later. If ctx ends before anything was sent, the
// context's error is returned and the order was not placed.
func (c *Client) SubmitOrder(ctx context.Context, req OrderRequest) (*Order, error) {
	if req.ClientOrderID == "" {
		return nil, ErrMissingClientOrderID
	}
	body, err := encodeBody(&req)
	if err != nil {
		return nil, err
	}

	var lastErr error
	sentAny := false
	for round := 1; ; round++ {
		order := new(Order)
		res, err := c.do(ctx, &call{method: http.MethodPost, route: "/v2/orders", path: "/v2/orders",
			body: body, submit: true, out: order})
		if err == nil {
			return order, nil
		}
		sentAny = sentAny || res.sent
		lastErr = err

		duplicate, refused := false, false
		var apiErr *APIError
		switch {
		case errors.As(err, &apiErr) && apiErr.Is(ErrDuplicateClientOrderID):
			duplicate = true
		case errors.As(err, &apiErr) && (apiErr.StatusCode >= 500 || apiErr.StatusCode == http.StatusRequestTimeout):
			// unknown: the server may have stored the order before failing
		case apiErr != nil:
			if round == 1 {
				return nil, err // refused, or still rate limited: not placed
			}
			// A resend was refused, but the first, ambiguous send may have
			// landed: look once more before reporting the refusal.
			refused = apiErr.StatusCode != http.StatusTooManyRequests
		case !sentAny:
			return nil, err // never left this process
		}

		if ctx.Err() != nil {
			return nil, c.unknown(ctx, req.ClientOrderID, round, err)
		}
		if c.log != nil && !duplicate && !refused {
			c.log.LogAttrs(ctx, slog.LevelWarn, "alpaca: order submission ambiguous, looking it up",
				slog.String("client_order_id", req.ClientOrderID), slog.Int("round", round),
				slog.String("error", err.Error()))
		}
		found, lerr := c.GetOrderByClientOrderID(ctx, req.ClientOrderID)
		if lerr == nil {
			if cerr := conflicting(&req, found); cerr != nil {
				return nil, cerr
			}
			if c.log != nil {
				c.log.LogAttrs(ctx, slog.LevelInfo, "alpaca: adopted existing order",
					slog.String("client_order_id", req.ClientOrderID), slog.String("order_id", found.ID),
					slog.Int("round", round))
			}
			return found, nil
		}
		if !errors.Is(lerr, ErrNotFound) {
			return nil, c.unknown(ctx, req.ClientOrderID, round, fmt.Errorf("%w; look-up: %w", err, lerr))
		}
		if refused {
			return nil, err
		}
		// 404: the broker does not hold it (yet). Resending the same id is
		// safe either way: if the earlier request lands first, the broker
		// refuses this copy as a duplicate and the next round adopts.
		if round >= c.opts.SubmitRounds {
			return nil, c.unknown(ctx, req.ClientOrderID, round, lastErr)
		}
		a := &Attempt{Method: http.MethodPost, Route: "/v2/orders", Number: round, Now: time.Now()}
		if apiErr != nil {
			a.StatusCode = apiErr.StatusCode
		}
		wait := c.opts.Backoff(a, c.opts.RetryBaseDelay, c.opts.RetryMaxDelay, c.opts.MaxServerWait)
		if sleepCtx(ctx, wait) != nil {
			return nil, c.unknown(ctx, req.ClientOrderID, round, lastErr)
		}
	}
}

func (c *Client) unknown(ctx context.Context, id string, rounds int, err error) error {
	if ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
		err = fmt.Errorf("%w: %w", ctx.Err(), err)
	}
	if c.log != nil {
		c.log.LogAttrs(ctx, slog.LevelWarn, "alpaca: order outcome unknown",
			slog.String("client_order_id", id), slog.Int("rounds", rounds), slog.String("error", err.Error()))
	}
	return &UnknownOutcomeError{ClientOrderID: id, Rounds: rounds, Err: err}
}

// conflicting reports an error if the order found under req's id is
// evidently a different order (the id was reused).
func conflicting(req *OrderRequest, o *Order) error {
	var diffs []string
	if req.Side != "" && o.Side != "" && req.Side != o.Side {
		diffs = append(diffs, "side "+string(o.Side))
	}
	if req.Symbol != "" && o.Symbol != "" && !sameSymbol(req.Symbol, o.Symbol) && req.Symbol != o.AssetID {
		diffs = append(diffs, "symbol "+o.Symbol)
	}
	if req.Qty != nil && o.Qty != nil && !req.Qty.Equal(*o.Qty) {
		diffs = append(diffs, "qty "+o.Qty.String())
	}
	if req.Notional != nil && o.Notional != nil && !req.Notional.Equal(*o.Notional) {
		diffs = append(diffs, "notional "+o.Notional.String())
	}
	if diffs == nil {
		return nil
	}
	return fmt.Errorf("%w: order %s already uses client_order_id %q with %s",
		ErrDuplicateClientOrderID, o.ID, o.ClientOrderID, strings.Join(diffs, ", "))
}

// sameSymbol treats "BTC/USD" and "BTCUSD" as one symbol, as Alpaca does.
func sameSymbol(a, b string) bool {
	if strings.EqualFold(a, b) {
		return true
	}
	return strings.EqualFold(strings.ReplaceAll(a, "/", ""), strings.ReplaceAll(b, "/", ""))
}

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
