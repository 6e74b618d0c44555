package alpaca

import (
	"encoding/json"
	"time"

	"github.com/shopspring/decimal"

	"github.com/quantum-alpaca/quantum/alpaca/jsonscan"
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
		if s := (orderScanner{jsonscan.New(data)}); s.order(&o) && s.End() {
			*v = o
			return nil
		}
	case *[]Order:
		var os []Order
		if s := (orderScanner{jsonscan.New(data)}); s.orders(&os) && s.End() {
			*v = os
			return nil
		}
	}
	return json.Unmarshal(data, out)
}

// orderScanner adds the order's field types to the shared scanner.
type orderScanner struct{ jsonscan.Scanner }

func (s *orderScanner) str(dst *string) bool {
	if s.Peek() == 'n' {
		return s.Lit("null") // encoding/json leaves the field as it was
	}
	b, ok := s.Raw()
	if ok {
		*dst = jsonscan.Intern(b, wireWords[:])
	}
	return ok
}

var wireWords = [...]string{"", "us_equity", "buy", "sell", "market", "limit", "stop", "stop_limit", "trailing_stop",
	"day", "gtc", "opg", "cls", "ioc", "fok", "simple", "bracket", "oco", "oto",
	"new", "accepted", "pending_new", "partially_filled", "filled", "canceled", "expired", "replaced",
	"held", "rejected", "done_for_day", "pending_cancel", "pending_replace",
	"buy_to_open", "buy_to_close", "sell_to_open", "sell_to_close"}

// dec reads a decimal that Alpaca sends as a string; a bare number or
// anything odd is left to encoding/json.
func (s *orderScanner) dec(dst *decimal.Decimal) bool {
	b, ok := s.Raw()
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
	if s.Peek() == 'n' {
		*dst = nil
		return s.Lit("null")
	}
	var d decimal.Decimal
	if !s.dec(&d) {
		return false
	}
	*dst = &d
	return true
}

func (s *orderScanner) timeVal(dst *time.Time) bool {
	if s.Peek() == 'n' {
		return s.Lit("null")
	}
	b, ok := s.Raw()
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
	if s.Peek() == 'n' {
		*dst = nil
		return s.Lit("null")
	}
	var t time.Time
	if !s.timeVal(&t) {
		return false
	}
	*dst = &t
	return true
}

func (s *orderScanner) strPtr(dst **string) bool {
	if s.Peek() == 'n' {
		*dst = nil
		return s.Lit("null")
	}
	b, ok := s.Raw()
	if ok {
		v := string(b)
		*dst = &v
	}
	return ok
}

func (s *orderScanner) orders(dst *[]Order) bool {
	if s.Peek() == 'n' {
		*dst = nil
		return s.Lit("null")
	}
	if !s.Lit("[") {
		return false
	}
	out := []Order{}
	if s.Lit("]") {
		*dst = out
		return true
	}
	for {
		var o Order
		if !s.order(&o) {
			return false
		}
		out = append(out, o)
		if s.Lit(",") {
			continue
		}
		if s.Lit("]") {
			*dst = out
			return true
		}
		return false
	}
}

func (s *orderScanner) order(o *Order) bool {
	if !s.Lit("{") {
		return false
	}
	if s.Lit("}") {
		return true
	}
	for {
		key, ok := s.Raw()
		if !ok || !s.Lit(":") {
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
			ok = s.Peek() != 'n' && s.dec(&o.FilledQty)
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
			ok = s.Bool(&o.ExtendedHours)
		case "legs":
			ok = s.orders(&o.Legs)
		default:
			return false
		}
		if !ok {
			return false
		}
		if s.Lit(",") {
			continue
		}
		return s.Lit("}")
	}
}
