// Package strategy holds what every strategy shares, built in or not: the
// Spec that makes it known by name to a config file (its parameters and a
// constructor), the Registry of Specs, and typed access to the string
// parameters a tenant's config gives its strategy, with errors that name
// the parameter. The built-in strategies live in the subpackages.
package strategy

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// Params are a strategy's parameters as written in the config file.
type Params map[string]string

// ParamError names the parameter that is wrong.
type ParamError struct {
	Param string
	Value string
	Err   error
	// Known lists the parameters the strategy reads, when Param is one it
	// does not: Spec.Verify compares it with the declared Params.
	Known []string
}

// Error implements error.
func (e *ParamError) Error() string {
	if e.Value == "" {
		return fmt.Sprintf("param %s: %v", e.Param, e.Err)
	}
	return fmt.Sprintf("param %s: %q: %v", e.Param, e.Value, e.Err)
}

// Unwrap returns the cause.
func (e *ParamError) Unwrap() error { return e.Err }

// Reader reads Params, remembering the first error and which keys were
// read, so that a strategy can parse all its parameters and then report
// one error (and any parameter it does not know) with Err.
type Reader struct {
	p    Params
	used map[string]bool
	err  error
}

// NewReader returns a Reader over p.
func NewReader(p Params) *Reader { return &Reader{p: p, used: map[string]bool{}} }

func (r *Reader) get(key string, required bool) (string, bool) {
	r.used[key] = true
	v, ok := r.p[key]
	v = strings.TrimSpace(v)
	if (!ok || v == "") && required {
		r.fail(key, "", fmt.Errorf("required"))
	}
	return v, ok && v != ""
}

func (r *Reader) fail(key, val string, err error) {
	if r.err == nil {
		r.err = &ParamError{Param: key, Value: val, Err: err}
	}
}

// String returns the parameter, or def when absent (required when def is
// empty and required is set).
func (r *Reader) String(key, def string, required bool) string {
	v, ok := r.get(key, required)
	if !ok {
		return def
	}
	return v
}

// Symbol returns an upper-cased ticker.
func (r *Reader) Symbol(key string) string {
	v, ok := r.get(key, true)
	if !ok {
		return ""
	}
	return strings.ToUpper(v)
}

// PositiveDecimal returns a decimal > 0, or def when absent and def > 0.
func (r *Reader) PositiveDecimal(key string, def decimal.Decimal) decimal.Decimal {
	v, ok := r.get(key, !def.IsPositive())
	if !ok {
		return def
	}
	d, err := decimal.NewFromString(v)
	if err != nil {
		r.fail(key, v, fmt.Errorf("not a number"))
		return def
	}
	if !d.IsPositive() {
		r.fail(key, v, fmt.Errorf("must be positive"))
	}
	return d
}

// Duration returns a positive duration ("10ms", "1m").
func (r *Reader) Duration(key string, def time.Duration) time.Duration {
	v, ok := r.get(key, def <= 0)
	if !ok {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		r.fail(key, v, fmt.Errorf("not a duration (like 10ms, 5s, 1m)"))
		return def
	}
	if d <= 0 {
		r.fail(key, v, fmt.Errorf("must be positive"))
	}
	return d
}

// Int returns an integer >= min.
func (r *Reader) Int(key string, def, min int, required bool) int {
	v, ok := r.get(key, required)
	if !ok {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		r.fail(key, v, fmt.Errorf("not an integer"))
		return def
	}
	if n < min {
		r.fail(key, v, fmt.Errorf("must be at least %d", min))
	}
	return n
}

// Used returns, sorted, the keys read so far, present or not.
func (r *Reader) Used() []string {
	keys := make([]string, 0, len(r.used))
	for k := range r.used {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Err returns the first problem, or an error naming an unknown
// parameter (a typo would otherwise silently fall back to a default).
func (r *Reader) Err() error {
	if r.err != nil {
		return r.err
	}
	var unknown []string
	for k := range r.p {
		if !r.used[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		known := r.Used()
		return &ParamError{Param: unknown[0], Err: fmt.Errorf("unknown parameter (known: %s)", strings.Join(known, ", ")), Known: known}
	}
	return nil
}
