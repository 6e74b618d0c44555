package match

import "strconv"

// Kind classifies an Error; each kind maps to one HTTP status and one
// Alpaca error code, so the server needs no table of its own.
type Kind uint8

// Error kinds.
const (
	// KindValidation is malformed or missing input: HTTP 422, code 40010001.
	KindValidation Kind = iota + 1
	// KindUnprocessable is well-formed input the broker will not act on
	// (not cancelable, sub-penny, bracket rules): HTTP 422, code 42210000.
	KindUnprocessable
	// KindForbidden is a refused trade (buying power, qty, shorting, PDT,
	// unchanged replace): HTTP 403, code 40310000.
	KindForbidden
	// KindNotFound is an unknown order or position: HTTP 404, code 40410000.
	KindNotFound
	// KindDuplicate is a reused client_order_id: HTTP 422, code 40010001.
	KindDuplicate
)

// HTTPStatus returns the HTTP status Alpaca answers with for k.
func (k Kind) HTTPStatus() int {
	switch k {
	case KindForbidden:
		return 403
	case KindNotFound:
		return 404
	case KindValidation, KindUnprocessable, KindDuplicate:
		return 422
	}
	return 500
}

// Code returns Alpaca's numeric error code for k.
func (k Kind) Code() int {
	switch k {
	case KindValidation, KindDuplicate:
		return 40010001
	case KindUnprocessable:
		return 42210000
	case KindForbidden:
		return 40310000
	case KindNotFound:
		return 40410000
	}
	return 50010000
}

// String names k.
func (k Kind) String() string {
	switch k {
	case KindValidation:
		return "validation"
	case KindUnprocessable:
		return "unprocessable"
	case KindForbidden:
		return "forbidden"
	case KindNotFound:
		return "not found"
	case KindDuplicate:
		return "duplicate"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Error is every error the engine returns. Message follows Alpaca's
// wording; Fields holds the extra JSON members Alpaca adds to some bodies
// (buying_power and cost_basis; symbol, existing_qty, held_for_orders and
// available), as decimal strings.
type Error struct {
	Kind    Kind
	Message string
	Fields  map[string]string
}

// Error returns the message.
func (e *Error) Error() string { return e.Message }

// HTTPStatus returns the HTTP status to answer with.
func (e *Error) HTTPStatus() int { return e.Kind.HTTPStatus() }

// Code returns Alpaca's numeric error code.
func (e *Error) Code() int { return e.Kind.Code() }

// Is matches a target *Error with the same Kind and either an empty or an
// equal Message, so the Err* sentinels work with errors.Is.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Kind == e.Kind && (t.Message == "" || t.Message == e.Message)
}

// Sentinels for errors.Is; they match any error of their kind.
var (
	ErrValidation    = &Error{Kind: KindValidation}
	ErrUnprocessable = &Error{Kind: KindUnprocessable}
	ErrForbidden     = &Error{Kind: KindForbidden}
	ErrNotFound      = &Error{Kind: KindNotFound}
	ErrDuplicate     = &Error{Kind: KindDuplicate}
)

func errf(k Kind, msg string) *Error { return &Error{Kind: k, Message: msg} }

func errNotCancelable(s Status) *Error {
	return errf(KindUnprocessable, `order is already in "`+string(s)+`" state`)
}

func errInsufficientQty(symbol string, requested, existing, held Qty) *Error {
	avail := existing - held
	if avail < 0 {
		avail = 0
	}
	return &Error{
		Kind:    KindForbidden,
		Message: "insufficient qty available for order (requested: " + requested.String() + ", available: " + avail.String() + ")",
		Fields: map[string]string{
			"symbol":          symbol,
			"existing_qty":    existing.String(),
			"held_for_orders": held.String(),
			"available":       avail.String(),
		},
	}
}

func errBuyingPower(bp, cost Money) *Error {
	if bp < 0 {
		bp = 0
	}
	return &Error{
		Kind:    KindForbidden,
		Message: "insufficient buying power",
		Fields:  map[string]string{"buying_power": bp.String(), "cost_basis": cost.String()},
	}
}
