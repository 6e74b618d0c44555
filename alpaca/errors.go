package alpaca

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// Sentinels matched by *APIError.Is, so that errors.Is(err, ErrNotFound)
// works on server replies. Each one matches a class of replies; one reply
// can match several (a buying-power rejection is also ErrForbidden).
var (
	// ErrUnauthorized matches HTTP 401: missing, wrong or revoked keys.
	ErrUnauthorized = errors.New("alpaca: unauthorized")
	// ErrForbidden matches any HTTP 403.
	ErrForbidden = errors.New("alpaca: forbidden")
	// ErrInsufficientBuyingPower matches 403 code 40310000 whose message
	// mentions buying power.
	ErrInsufficientBuyingPower = errors.New("alpaca: insufficient buying power")
	// ErrInsufficientQty matches 403 code 40310000 whose message says the
	// position does not hold enough available shares.
	ErrInsufficientQty = errors.New("alpaca: insufficient qty available")
	// ErrNotFound matches HTTP 404.
	ErrNotFound = errors.New("alpaca: not found")
	// ErrValidation matches input validation failures: code 40010001
	// (sent with HTTP 422), code 40010000 and HTTP 400.
	ErrValidation = errors.New("alpaca: invalid request")
	// ErrDuplicateClientOrderID matches 422 "client_order_id must be
	// unique". SubmitOrder resolves it itself; it reaches callers only
	// within an unknown outcome: when the existing order does not match the
	// request, or cannot be found.
	ErrDuplicateClientOrderID = errors.New("alpaca: client_order_id must be unique")
	// ErrUnprocessable matches code 42210000: a well-formed request the
	// broker will not carry out (order already filled, sub-penny price).
	ErrUnprocessable = errors.New("alpaca: unprocessable request")
	// ErrRateLimited matches HTTP 429.
	ErrRateLimited = errors.New("alpaca: rate limit exceeded")
	// ErrServer matches HTTP 5xx.
	ErrServer = errors.New("alpaca: server error")

	// ErrMissingClientOrderID is returned by SubmitOrder for a request
	// without a client_order_id; see NewClientOrderID.
	ErrMissingClientOrderID = errors.New("alpaca: SubmitOrder needs a client_order_id (see NewClientOrderID)")
	// ErrOrderRejected matches *OrderRejectedError: the broker holds no
	// order for the request's client_order_id, and sending the same
	// request again cannot succeed. See SubmitOrder.
	ErrOrderRejected = errors.New("alpaca: order rejected")
	// ErrUnknownOutcome matches *UnknownOutcomeError: SubmitOrder cannot
	// say that the order is placed, nor that it never will be. See
	// SubmitOrder.
	ErrUnknownOutcome = errors.New("alpaca: order outcome unknown")
	// ErrResponseTooLarge is returned when a response body exceeds the
	// Client's bound.
	ErrResponseTooLarge = errors.New("alpaca: response body too large")
)

// Alpaca error codes seen in practice. Most are HTTP status × 100000 plus
// a sub-code; validation failures are the exception (40010001 with 422).
const (
	CodeMalformed       = 40010000
	CodeValidation      = 40010001
	CodeUnauthorized    = 40110000
	CodeForbidden       = 40310000
	CodeNotFound        = 40410000
	CodeUnprocessable   = 42210000
	CodeRateLimited     = 42910000
	CodeInternalError   = 50010000
	maxErrorBodyBytes   = 4 << 10
	maxErrorMessageSize = 512
)

// APIError is a reply with an error status from the API.
type APIError struct {
	// StatusCode is the HTTP status.
	StatusCode int
	// Code is Alpaca's numeric error code, 0 when the body had none.
	Code int
	// Message is the server's message (secrets scrubbed).
	Message string
	// RequestID is the X-Request-ID header; quote it to Alpaca support.
	RequestID string
	// Fields holds the body's other top-level fields as text, such as
	// buying_power and cost_basis on a 403.
	Fields map[string]string
	// Body is the start of the raw body (at most 4 KiB, secrets scrubbed).
	Body []byte

	kind uint8 // classify of the message before scrubbing
}

// Error implements error.
func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString("alpaca: ")
	if e.Message != "" {
		b.WriteString(e.Message)
	} else {
		b.WriteString(strings.ToLower(http.StatusText(e.StatusCode)))
	}
	b.WriteString(" (HTTP ")
	b.WriteString(strconv.Itoa(e.StatusCode))
	if e.Code != 0 {
		b.WriteString(", code ")
		b.WriteString(strconv.Itoa(e.Code))
	}
	if e.RequestID != "" {
		b.WriteString(", request ")
		b.WriteString(e.RequestID)
	}
	b.WriteByte(')')
	return b.String()
}

// Is matches the package's sentinels by status, code and message.
func (e *APIError) Is(target error) bool {
	kind := e.kind | classify(e.Message) // also for errors built by hand
	switch target {
	case ErrUnauthorized:
		return e.StatusCode == http.StatusUnauthorized
	case ErrForbidden:
		return e.StatusCode == http.StatusForbidden
	case ErrInsufficientBuyingPower:
		return e.StatusCode == http.StatusForbidden && (e.Code == 0 || e.Code == CodeForbidden) &&
			kind&kindBuyingPower != 0
	case ErrInsufficientQty:
		return e.StatusCode == http.StatusForbidden && (e.Code == 0 || e.Code == CodeForbidden) &&
			kind&kindInsufficientQty != 0
	case ErrNotFound:
		return e.StatusCode == http.StatusNotFound
	case ErrValidation:
		return e.Code == CodeValidation || e.Code == CodeMalformed || e.StatusCode == http.StatusBadRequest
	case ErrDuplicateClientOrderID:
		return e.StatusCode == http.StatusUnprocessableEntity && kind&kindDuplicateID != 0
	case ErrUnprocessable:
		return e.Code == CodeUnprocessable || (e.StatusCode == http.StatusUnprocessableEntity && e.Code == 0)
	case ErrRateLimited:
		return e.StatusCode == http.StatusTooManyRequests
	case ErrServer:
		return e.StatusCode >= 500
	}
	return false
}

// Retryable reports whether the same request may succeed later: the
// server was rate limiting or failing, not refusing the request itself.
// For non-idempotent requests a 5xx also means the outcome is unknown.
func (e *APIError) Retryable() bool {
	switch e.StatusCode {
	case http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// Temporary is Retryable under the name some callers look for.
func (e *APIError) Temporary() bool { return e.Retryable() }

// newAPIError builds an APIError from a reply. body is whatever was read of
// the reply (possibly truncated).
func (c *Client) newAPIError(status int, h http.Header, body []byte) *APIError {
	e := &APIError{StatusCode: status, RequestID: h.Get("X-Request-Id")}
	if len(body) > maxErrorBodyBytes {
		body = body[:maxErrorBodyBytes]
	}
	// Classify from the body as sent, then scrub: a scrubbed message can no
	// longer be matched (a short secret may occur inside ordinary words).
	trimmed := bytes.TrimSpace(body)
	parsed := false
	if len(trimmed) > 0 && trimmed[0] == '{' {
		var raw map[string]json.RawMessage
		if json.Unmarshal(trimmed, &raw) == nil {
			parsed = true
			for k, v := range raw {
				switch k {
				case "code":
					e.Code = parseCode(v)
				case "message", "msg":
					var s string
					if json.Unmarshal(v, &s) == nil {
						e.Message = s
					}
				default:
					if e.Fields == nil {
						e.Fields = make(map[string]string, len(raw))
					}
					var s string
					if json.Unmarshal(v, &s) == nil {
						e.Fields[k] = string(c.auth.scrub([]byte(s)))
					} else {
						e.Fields[k] = string(c.auth.scrub(v))
					}
				}
			}
		}
	}
	if !parsed {
		// Proxies and load balancers answer in text or HTML.
		e.Message = strings.TrimSpace(string(trimmed))
	}
	e.kind = classify(e.Message)
	e.Message = limitText(string(c.auth.scrub([]byte(e.Message))))
	e.Body = c.auth.scrub(body)
	return e
}

// Message classes that errors.Is distinguishes within one status.
const (
	kindBuyingPower = 1 << iota
	kindInsufficientQty
	kindDuplicateID
)

func classify(msg string) uint8 {
	msg = strings.ToLower(msg)
	var k uint8
	if strings.Contains(msg, "buying power") {
		k |= kindBuyingPower
	}
	if strings.Contains(msg, "insufficient qty") {
		k |= kindInsufficientQty
	}
	if strings.Contains(msg, "client_order_id must be unique") {
		k |= kindDuplicateID
	}
	return k
}

func parseCode(v json.RawMessage) int {
	var n int
	if json.Unmarshal(v, &n) == nil {
		return n
	}
	var s string
	if json.Unmarshal(v, &s) == nil {
		n, _ = strconv.Atoi(s)
	}
	return n
}

func limitText(s string) string {
	if len(s) > maxErrorMessageSize {
		s = s[:maxErrorMessageSize] + "…"
	}
	return strings.ToValidUTF8(s, "�")
}

// scrub replaces the Client's secrets in server-provided text, in case a
// server or proxy echoes request headers back in an error body.
func (a *authHeaders) scrub(b []byte) []byte {
	out := b
	redact := a.redact
	if a.tokens != nil {
		redact = a.tokens.secrets()
	}
	for _, s := range redact {
		if s != "" && bytes.Contains(out, []byte(s)) {
			out = bytes.ReplaceAll(out, []byte(s), []byte("[REDACTED]"))
		}
	}
	if len(out) > 0 && &out[0] == &b[0] {
		// Callers hand in pooled buffers; keep a copy that outlives them.
		out = bytes.Clone(out)
	}
	return out
}

// OrderRejectedError is returned by SubmitOrder when the broker refused
// the order: it holds no order with this ClientOrderID, and sending the
// same request again cannot succeed (insufficient buying power, a
// validation failure, an asset that cannot be traded). errors.Is matches
// ErrOrderRejected and, through Err, the reply's own sentinels
// (ErrInsufficientBuyingPower, ErrValidation, ...).
type OrderRejectedError struct {
	// ClientOrderID identifies the order refused.
	ClientOrderID string
	// Err is the broker's reply.
	Err *APIError
}

// Error returns the broker's reply as *APIError prints it.
func (e *OrderRejectedError) Error() string { return e.Err.Error() }

// Unwrap returns the broker's reply.
func (e *OrderRejectedError) Unwrap() error { return e.Err }

// Is matches ErrOrderRejected.
func (e *OrderRejectedError) Is(target error) bool { return target == ErrOrderRejected }

// UnknownOutcomeError is returned by SubmitOrder when it can say neither
// that the broker holds the order nor that it refused it for good: the
// submission failed ambiguously and the look-ups that followed could not
// settle it, or the request was turned away for a reason that may pass
// (401, a rate limit outlasting the retry budget, an unreachable broker),
// or the id is held by a different order. The caller should record the
// intent as unknown and reconcile it later with GetOrderByClientOrderID;
// resubmitting with the same ClientOrderID is also safe, because the
// broker refuses a duplicate id.
type UnknownOutcomeError struct {
	// ClientOrderID identifies the order in question.
	ClientOrderID string
	// Rounds is the number of send/look-up rounds made.
	Rounds int
	// Err is the last failure.
	Err error
}

// Error implements error.
func (e *UnknownOutcomeError) Error() string {
	return fmt.Sprintf("alpaca: outcome of order %q unknown after %d round(s): %v", e.ClientOrderID, e.Rounds, e.Err)
}

// Unwrap returns the last failure.
func (e *UnknownOutcomeError) Unwrap() error { return e.Err }

// Is matches ErrUnknownOutcome.
func (e *UnknownOutcomeError) Is(target error) bool { return target == ErrUnknownOutcome }

// Temporary reports true: a later reconciliation can settle the outcome.
func (e *UnknownOutcomeError) Temporary() bool { return true }

// RequestError is a failure without a usable reply: the connection failed,
// the attempt timed out, or the body could not be read or decoded.
type RequestError struct {
	// Method and Route identify the request (Route is the path template).
	Method, Route string
	// Attempts is the number of attempts made.
	Attempts int
	// StatusCode is the reply's status when one arrived (for example a
	// 200 whose body could not be decoded), else 0.
	StatusCode int
	// Err is the cause.
	Err error
}

// Error implements error.
func (e *RequestError) Error() string {
	s := "alpaca: " + e.Method + " " + e.Route
	if e.Attempts > 1 {
		s += " (" + strconv.Itoa(e.Attempts) + " attempts)"
	}
	if e.StatusCode != 0 {
		s += " HTTP " + strconv.Itoa(e.StatusCode)
	}
	return s + ": " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *RequestError) Unwrap() error { return e.Err }

// Temporary reports whether the failure was in transport (a retry may
// succeed), as opposed to an undecodable reply.
func (e *RequestError) Temporary() bool { return e.StatusCode == 0 }
