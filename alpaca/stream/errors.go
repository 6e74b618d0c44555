package stream

import (
	"errors"
	"fmt"
	"net/http"
)

// Stream state errors.
var (
	// ErrRunCalledTwice is returned by Run on a stream that has
	// already run: its output channel is closed when Run returns, so a
	// stream cannot be restarted. Build a new one instead.
	ErrRunCalledTwice = errors.New("alpaca: stream Run called twice")

	// ErrStalled is the disconnect cause when a connection went
	// silent: no SSE line (heartbeats included) within the liveness
	// timeout, or no websocket pong within the ping timeout.
	ErrStalled = errors.New("alpaca: stream stalled")

	// ErrUnauthorized matches (with errors.Is) every credential
	// rejection from any stream: HTTP 401/403 on the SSE request or the
	// websocket upgrade, an "unauthorized" reply on the trade_updates
	// websocket and market-data error 402. Such errors end Run.
	ErrUnauthorized = errors.New("alpaca: stream unauthorized")
)

// Error is an error message sent by the market-data stream
// ([{"T":"error","code":...,"msg":...}]). Use errors.Is with the
// code sentinels below (ErrAuthFailed, ErrSymbolLimit, ...), or Retryable.
type Error struct {
	Code int
	Msg  string
}

// Market-data stream error codes as sentinels; errors.Is matches on Code.
var (
	ErrInvalidSyntax            = &Error{Code: 400, Msg: "invalid syntax"}
	ErrNotAuthenticated         = &Error{Code: 401, Msg: "not authenticated"}
	ErrAuthFailed               = &Error{Code: 402, Msg: "auth failed"}
	ErrAlreadyAuthenticated     = &Error{Code: 403, Msg: "already authenticated"}
	ErrAuthTimeout              = &Error{Code: 404, Msg: "auth timeout"}
	ErrSymbolLimit              = &Error{Code: 405, Msg: "symbol limit exceeded"}
	ErrConnectionLimit          = &Error{Code: 406, Msg: "connection limit exceeded"}
	ErrSlowClient               = &Error{Code: 407, Msg: "slow client"}
	ErrInsufficientSubscription = &Error{Code: 409, Msg: "insufficient subscription"}
	ErrInvalidSubscribeAction   = &Error{Code: 410, Msg: "invalid subscribe action for this feed"}
	ErrInsufficientScope        = &Error{Code: 411, Msg: "insufficient scope"}
	ErrInternal                 = &Error{Code: 500, Msg: "internal error"}
)

// Error reports the code and the server's message.
func (e *Error) Error() string {
	return fmt.Sprintf("alpaca: stream error %d: %s", e.Code, e.Msg)
}

// Is matches another *Error with the same Code, and
// ErrUnauthorized for code 402.
func (e *Error) Is(target error) bool {
	if target == ErrUnauthorized {
		return e.Code == 402
	}
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// Retryable reports whether reconnecting can help. Auth failure (402),
// insufficient subscription (409), an action the feed does not support
// (410) and insufficient scope (411) will fail the same way every time.
func (e *Error) Retryable() bool {
	switch e.Code {
	case 402, 409, 410, 411:
		return false
	}
	return true
}

// httpError is a non-101/non-200 reply to a stream request. It is
// private because the REST side owns the public HTTP error type; the
// message carries what a caller needs.
type httpError struct {
	op     string
	status int
	body   string
}

func (e *httpError) Error() string {
	if e.body == "" {
		return fmt.Sprintf("alpaca: %s: HTTP %d", e.op, e.status)
	}
	return fmt.Sprintf("alpaca: %s: HTTP %d: %s", e.op, e.status, e.body)
}

func (e *httpError) Is(target error) bool {
	return target == ErrUnauthorized && (e.status == http.StatusUnauthorized || e.status == http.StatusForbidden)
}

// classifyStatus decides whether a failed stream request is worth
// retrying: rate limits, timeouts and server errors are; anything else in
// 4xx (bad credentials, bad parameters, wrong path) will not get better.
func classifyStatus(err *httpError) error {
	switch {
	case err.status == http.StatusTooManyRequests, err.status == http.StatusRequestTimeout, err.status >= 500:
		return err
	default:
		return fatal(err)
	}
}

// fatalError marks an error that ends Run instead of causing a
// reconnect. Run returns the wrapped error, not this wrapper.
type fatalError struct{ err error }

func (e *fatalError) Error() string { return e.err.Error() }
func (e *fatalError) Unwrap() error { return e.err }

func fatal(err error) error {
	if err == nil {
		return nil
	}
	return &fatalError{err}
}

// errEnded marks a clean end of stream that Run should treat as
// success (an SSE replay that reached until/until_id).
var errEnded = errors.New("alpaca: stream ended")
