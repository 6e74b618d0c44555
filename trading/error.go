package trading

import (
	"errors"
	"fmt"
)

// Error codes. They are deliberately few: callers branch on them (the web
// layer maps each to one HTTP status), so each must mean one decision.
const (
	EINVALID      = "invalid"      // the request is malformed; retrying it unchanged cannot succeed
	ENOTFOUND     = "not_found"    // the tenant, order or event does not exist
	ECONFLICT     = "conflict"     // the request collides with existing state (e.g. a duplicate client_order_id)
	EUNAUTHORIZED = "unauthorized" // the caller may not do this
	EREJECTED     = "rejected"     // a risk check or the broker refused the order
	EUNAVAILABLE  = "unavailable"  // a store the request needs cannot be reached now; nothing changed, retry later
	EINTERNAL     = "internal"     // anything else; the details are for logs, not for users
)

// Error is a domain error: a machine-readable Code and a message meant for
// the person operating the engine. Storage and transport details never
// appear in Message; adapters wrap those as EINTERNAL.
type Error struct {
	Code    string
	Message string
}

// Error implements the error interface.
func (e *Error) Error() string {
	return fmt.Sprintf("trading error: code=%s message=%s", e.Code, e.Message)
}

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, "" for a
// nil error, and EINTERNAL for any other error, so that an unexpected
// failure is never mistaken for a client mistake.
func ErrorCode(err error) string {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the message of the first *Error in err's chain, ""
// for a nil error, and a generic text for any other error so that internal
// details are not shown to users.
func ErrorMessage(err error) string {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Message
	}
	return "Internal error."
}
