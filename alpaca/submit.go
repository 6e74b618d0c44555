package alpaca

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/quantum-alpaca/quantum/alpaca/backoff"
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
// must be set (ErrMissingClientOrderID otherwise, before anything is
// sent). It is the one place that decides whether an order reached the
// broker; a caller maps its answer and needs no look-up of its own. The
// answer is exactly one of:
//
//   - The order, when the broker holds it: accepted now, or found by a
//     look-up after a failure that left it in doubt.
//   - An error matching ErrOrderRejected (an *OrderRejectedError that
//     carries the broker's *APIError) when the broker certainly holds no
//     order with this ClientOrderID and sending the same request again
//     cannot succeed: insufficient buying power, a validation failure, an
//     asset that cannot be traded. errors.Is also matches the reply's own
//     sentinels (ErrInsufficientBuyingPower, ErrValidation, ...).
//   - An error matching ErrUnknownOutcome (an *UnknownOutcomeError) in
//     every other case: the broker may hold the order, or it holds none
//     but the same request may yet succeed (credentials refused with 401,
//     a rate limit that outlasted the retry budget, a broker that cannot
//     be reached). Record the intent as unknown and settle it later with
//     GetOrderByClientOrderID, or send the same request again, which is
//     safe: the broker refuses a second order with the same id, and
//     SubmitOrder then adopts the first.
//   - The context's error, when ctx ended before the order could have
//     reached the broker (before anything was sent, or while waiting out
//     429s): the order was not placed.
//
// The request is never blindly resent. Each failure is classified by what
// it proves:
//
//   - 429: Alpaca's rate limiter answers before the order service sees
//     the request, so it is resent after the wait the server asks for,
//     within the Client's retry budget. The same holds for a connection
//     that could not be established. When the budget runs out, the
//     outcome is unknown.
//   - 401: the credentials were refused before the order was looked at;
//     unknown, because the same request succeeds once they work.
//   - 422: it may be the broker refusing a duplicate client_order_id, the
//     mark of an earlier attempt (or an earlier process) that landed,
//     whether or not the message says so. The order is looked up. Found:
//     it is returned. Not found: a 422 that does not claim a duplicate is
//     a refusal; one that does ("client_order_id must be unique") is
//     resent like an ambiguous failure, and stays unknown if the order
//     never turns up. A failed look-up leaves the outcome unknown.
//   - Any other 4xx except 408: a refusal. After an earlier ambiguous send
//     the order is looked up first, because that send may have landed.
//   - 5xx, 408, a per-attempt timeout, a dropped connection or an
//     unreadable 200: ambiguous. The order is looked up with GET
//     /v2/orders:by_client_order_id (itself retried). Found: it is
//     returned as if the POST had succeeded. Not found: the same body with
//     the same id is sent again, up to Options.SubmitRounds sends; if the
//     first one lands meanwhile, the broker refuses the copy as a
//     duplicate and the next round adopts the first.
//
// An order found under the id whose symbol, side or quantity differ from
// req is a different order that reused the id. The error then matches
// ErrDuplicateClientOrderID as well as ErrUnknownOutcome: the broker does
// hold an order under this id, but not this one.
func (c *Client) SubmitOrder(ctx context.Context, req OrderRequest) (*Order, error) {
	if req.ClientOrderID == "" {
		return nil, ErrMissingClientOrderID
	}
	body, err := encodeBody(&req)
	if err != nil {
		return nil, err
	}
	id := req.ClientOrderID
	landed := false // some send of this call may have been acted on
	var lastErr error
	for round := 1; ; round++ {
		order := new(Order)
		res, err := c.do(ctx, &call{method: http.MethodPost, route: "/v2/orders", path: "/v2/orders",
			body: body, submit: true, out: order})
		if err == nil {
			return order, nil
		}
		earlier := landed // before this round
		landed = landed || res.reached
		lastErr = err
		if ctx.Err() != nil {
			if !landed {
				return nil, contextError(ctx, err)
			}
			return nil, c.unknown(ctx, id, round, err)
		}

		kind := classifySend(err, res)
		switch {
		case kind == sendTurnedAway && !earlier:
			return nil, c.unknown(ctx, id, round, err) // not placed, but a resend may succeed
		case kind == sendRefused && !earlier:
			return nil, rejected(id, err)
		case kind == sendAmbiguous && c.log != nil:
			c.log.LogAttrs(ctx, slog.LevelWarn, "alpaca: order submission ambiguous, looking it up",
				slog.String("client_order_id", id), slog.Int("round", round),
				slog.String("error", err.Error()))
		}

		found, lerr := c.GetOrderByClientOrderID(ctx, id)
		switch {
		case lerr == nil:
			if cerr := conflicting(&req, found); cerr != nil {
				return nil, c.unknown(ctx, id, round, cerr)
			}
			if c.log != nil {
				c.log.LogAttrs(ctx, slog.LevelInfo, "alpaca: adopted existing order",
					slog.String("client_order_id", id), slog.String("order_id", found.ID),
					slog.Int("round", round))
			}
			return found, nil
		case !errors.Is(lerr, ErrNotFound):
			return nil, c.unknown(ctx, id, round, fmt.Errorf("%w; look-up: %w", err, lerr))
		case kind == sendRefused || kind == sendUnprocessable:
			return nil, rejected(id, err) // refused, and nothing earlier landed
		}

		// 404: the broker does not hold it (yet). Resending the same id is
		// safe either way: if an earlier request lands first, the broker
		// refuses this copy as a duplicate and the next round adopts.
		if round >= c.opts.SubmitRounds {
			return nil, c.unknown(ctx, id, round, lastErr)
		}
		a := &Attempt{Method: http.MethodPost, Route: "/v2/orders", Number: round, Now: time.Now()}
		var apiErr *APIError
		if errors.As(err, &apiErr) {
			a.StatusCode = apiErr.StatusCode
		}
		wait := c.opts.Backoff(a, c.opts.RetryBaseDelay, c.opts.RetryMaxDelay, c.opts.MaxServerWait)
		if backoff.Sleep(ctx, wait) != nil {
			return nil, c.unknown(ctx, id, round, lastErr)
		}
	}
}

// sendKind is what one failed send of an order proves.
type sendKind uint8

const (
	// sendAmbiguous: the broker may have acted on it; look it up.
	sendAmbiguous sendKind = iota
	// sendTurnedAway: it certainly was not acted on (429, 401, no
	// connection), but the same request may succeed later.
	sendTurnedAway
	// sendRefused: a 4xx refusal of the order itself.
	sendRefused
	// sendUnprocessable: a 422 that does not claim a duplicate id: a
	// refusal, unless it is a duplicate refusal worded unexpectedly.
	sendUnprocessable
	// sendDuplicate: a 422 "client_order_id must be unique".
	sendDuplicate
)

func classifySend(err error, res result) sendKind {
	if !res.reached {
		return sendTurnedAway
	}
	var apiErr *APIError
	if !errors.As(err, &apiErr) {
		return sendAmbiguous // transport failure after sending, unreadable reply
	}
	switch s := apiErr.StatusCode; {
	case s == http.StatusUnprocessableEntity && apiErr.Is(ErrDuplicateClientOrderID):
		return sendDuplicate
	case s == http.StatusUnprocessableEntity:
		return sendUnprocessable
	case turnedAway(s):
		// The last attempt was turned away, but an earlier one of this
		// call (retried under a custom CheckRetry) may have been acted on.
		return sendAmbiguous
	case s >= 400 && s < 500 && s != http.StatusRequestTimeout:
		return sendRefused
	}
	return sendAmbiguous
}

// rejected reports a refusal; err is the broker's *APIError.
func rejected(id string, err error) error {
	var apiErr *APIError
	if !errors.As(err, &apiErr) {
		// Unreachable: only replies are classified as refusals.
		apiErr = &APIError{Message: err.Error()}
	}
	return &OrderRejectedError{ClientOrderID: id, Err: apiErr}
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

// contextError is SubmitOrder's answer when ctx ended before the order
// could have reached the broker: the context's error, with the last
// failure kept for the record.
func contextError(ctx context.Context, err error) error {
	if errors.Is(err, ctx.Err()) {
		return err
	}
	return fmt.Errorf("%w: %w", ctx.Err(), err)
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
