package alpaca

import (
	"bytes"
	"encoding/json"
	"time"

	"github.com/shopspring/decimal"
)

// Orders are what a trading engine decodes most, so an order reply is read
// by a small scanner for the shape Alpaca sends (a flat object of known
// keys, legs nested, plain strings). Anything else (an unknown key, an
// escape, a number where a string belongs) goes to encoding/json, so the
// result, including every error, is always exactly encoding/json's; a fuzz
// test holds the two to that.

func decodeReply(data []byte, out any) error {
	switch v := out.(type) {
	case *Order:
		var o Order
		if s := (orderScanner{b: data}); s.order(&o) && s.end() {
			*v = o
			return nil
		}
	case *[]Order:
		var os []Order
		if s := (orderScanner{b: data}); s.orders(&os) && s.end() {
			*v = os
			return nil
		}
	}
	return json.Unmarshal(data, out)
}

type orderScanner struct {
	b []byte
	i int
}

func (s *orderScanner) ws() {
	for s.i < len(s.b) && (s.b[s.i] == ' ' || s.b[s.i] == '\n' || s.b[s.i] == '\t' || s.b[s.i] == '\r') {
		s.i++
	}
}

func (s *orderScanner) end() bool { s.ws(); return s.i == len(s.b) }

func (s *orderScanner) lit(w string) bool {
	s.ws()
	if bytes.HasPrefix(s.b[s.i:], []byte(w)) {
		s.i += len(w)
		return true
	}
	return false
}

func (s *orderScanner) peek() byte {
	s.ws()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// raw returns a string's bytes when it has no escapes and is plain ASCII.
func (s *orderScanner) raw() ([]byte, bool) {
	if s.peek() != '"' {
		return nil, false
	}
	start := s.i + 1
	for j := start; j < len(s.b); j++ {
		switch c := s.b[j]; {
		case c == '"':
			s.i = j + 1
			return s.b[start:j], true
		case c == '\\' || c < 0x20 || c >= 0x80:
			return nil, false
		}
	}
	return nil, false
}

func (s *orderScanner) str(dst *string) bool {
	if s.peek() == 'n' {
		return s.lit("null") // encoding/json leaves the field as it was
	}
	b, ok := s.raw()
	if ok {
		*dst = internWire(b)
	}
	return ok
}

// internWire returns the shared string for the enumeration values that
// recur in every order, so decoding them does not allocate.
func internWire(b []byte) string {
	for _, v := range wireWords {
		if string(b) == v {
			return v
		}
	}
	return string(b)
}

var wireWords = [...]string{"", "us_equity", "buy", "sell", "market", "limit", "stop", "stop_limit", "trailing_stop",
	"day", "gtc", "opg", "cls", "ioc", "fok", "simple", "bracket", "oco", "oto",
	"new", "accepted", "pending_new", "partially_filled", "filled", "canceled", "expired", "replaced",
	"held", "rejected", "done_for_day", "pending_cancel", "pending_replace",
	"buy_to_open", "buy_to_close", "sell_to_open", "sell_to_close"}

func (s *orderScanner) boolean(dst *bool) bool {
	switch {
	case s.lit("true"):
		*dst = true
	case s.lit("false"):
		*dst = false
	default:
		return s.lit("null")
	}
	return true
}

// dec reads a decimal that Alpaca sends as a string; a bare number or
// anything odd is left to encoding/json.
func (s *orderScanner) dec(dst *decimal.Decimal) bool {
	b, ok := s.raw()
	if !ok {
		return false
	}
	d, err := decimal.NewFromString(string(b))
	if err != nil {
		return false
	}
	*dst = d
	return true
}

func (s *orderScanner) decPtr(dst **decimal.Decimal) bool {
	if s.peek() == 'n' {
		*dst = nil
		return s.lit("null")
	}
	var d decimal.Decimal
	if !s.dec(&d) {
		return false
	}
	*dst = &d
	return true
}

func (s *orderScanner) timeVal(dst *time.Time) bool {
	if s.peek() == 'n' {
		return s.lit("null")
	}
	b, ok := s.raw()
	if !ok {
		return false
	}
	// UnmarshalText applies exactly the RFC 3339 checks encoding/json does.
	var t time.Time
	if t.UnmarshalText(b) != nil {
		return false
	}
	*dst = t
	return true
}

func (s *orderScanner) timePtr(dst **time.Time) bool {
	if s.peek() == 'n' {
		*dst = nil
		return s.lit("null")
	}
	var t time.Time
	if !s.timeVal(&t) {
		return false
	}
	*dst = &t
	return true
}

func (s *orderScanner) strPtr(dst **string) bool {
	if s.peek() == 'n' {
		*dst = nil
		return s.lit("null")
	}
	b, ok := s.raw()
	if ok {
		v := string(b)
		*dst = &v
	}
	return ok
}

func (s *orderScanner) orders(dst *[]Order) bool {
	if s.peek() == 'n' {
		*dst = nil
		return s.lit("null")
	}
	if !s.lit("[") {
		return false
	}
	out := []Order{}
	if s.lit("]") {
		*dst = out
		return true
	}
	for {
		var o Order
		if !s.order(&o) {
			return false
		}
		out = append(out, o)
		if s.lit(",") {
			continue
		}
		if s.lit("]") {
			*dst = out
			return true
		}
		return false
	}
}

func (s *orderScanner) order(o *Order) bool {
	if !s.lit("{") {
		return false
	}
	if s.lit("}") {
		return true
	}
	for {
		key, ok := s.raw()
		if !ok || !s.lit(":") {
			return false
		}
		switch string(key) {
		case "id":
			ok = s.str(&o.ID)
		case "client_order_id":
			ok = s.str(&o.ClientOrderID)
		case "created_at":
			ok = s.timeVal(&o.CreatedAt)
		case "updated_at":
			ok = s.timePtr(&o.UpdatedAt)
		case "submitted_at":
			ok = s.timePtr(&o.SubmittedAt)
		case "filled_at":
			ok = s.timePtr(&o.FilledAt)
		case "expired_at":
			ok = s.timePtr(&o.ExpiredAt)
		case "canceled_at":
			ok = s.timePtr(&o.CanceledAt)
		case "failed_at":
			ok = s.timePtr(&o.FailedAt)
		case "replaced_at":
			ok = s.timePtr(&o.ReplacedAt)
		case "expires_at":
			ok = s.timePtr(&o.ExpiresAt)
		case "replaced_by":
			ok = s.strPtr(&o.ReplacedBy)
		case "replaces":
			ok = s.strPtr(&o.Replaces)
		case "subtag":
			ok = s.strPtr(&o.Subtag)
		case "source":
			ok = s.strPtr(&o.Source)
		case "asset_id":
			ok = s.str(&o.AssetID)
		case "symbol":
			ok = s.str(&o.Symbol)
		case "asset_class":
			ok = s.str(&o.AssetClass)
		case "notional":
			ok = s.decPtr(&o.Notional)
		case "qty":
			ok = s.decPtr(&o.Qty)
		case "filled_qty":
			ok = s.peek() != 'n' && s.dec(&o.FilledQty)
		case "filled_avg_price":
			ok = s.decPtr(&o.FilledAvgPrice)
		case "limit_price":
			ok = s.decPtr(&o.LimitPrice)
		case "stop_price":
			ok = s.decPtr(&o.StopPrice)
		case "trail_percent":
			ok = s.decPtr(&o.TrailPercent)
		case "trail_price":
			ok = s.decPtr(&o.TrailPrice)
		case "hwm":
			ok = s.decPtr(&o.HWM)
		case "order_class":
			ok = s.str((*string)(&o.OrderClass))
		case "order_type":
			ok = s.str((*string)(&o.OrderType))
		case "type":
			ok = s.str((*string)(&o.Type))
		case "side":
			ok = s.str((*string)(&o.Side))
		case "position_intent":
			ok = s.str((*string)(&o.PositionIntent))
		case "time_in_force":
			ok = s.str((*string)(&o.TimeInForce))
		case "status":
			ok = s.str((*string)(&o.Status))
		case "extended_hours":
			ok = s.boolean(&o.ExtendedHours)
		case "legs":
			ok = s.orders(&o.Legs)
		default:
			return false
		}
		if !ok {
			return false
		}
		if s.lit(",") {
			continue
		}
		return s.lit("}")
	}
}
