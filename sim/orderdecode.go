package sim

import (
	"bytes"
	"encoding/json"
	"io"

	"github.com/shopspring/decimal"

	"github.com/quantum-alpaca/quantum/alpaca/jsonscan"
)

// decodeOrderBody decodes POST /v2/orders. The common body (a flat object
// of known keys with plain strings, numbers, booleans and nulls) is parsed
// by a small scanner; anything else (nested legs, escapes, unknown keys,
// which are ignored as Alpaca ignores them, errors) goes to encoding/json, so the result and every error message
// are exactly encoding/json's. A fuzz test holds the two to that.
func decodeOrderBody(data []byte, body *orderBody) error {
	if fastOrderBody(data, body) {
		return nil
	}
	*body = orderBody{}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(body); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errTrailingData
	}
	return nil
}

const errTrailingData = simError("trailing data after the JSON value")

// scanner adds the order request's field types to the shared scanner.
type scanner struct{ jsonscan.Scanner }

func (s *scanner) str() (string, bool) {
	b, ok := s.Raw()
	return string(b), ok
}

// enum reads a string field whose common values are interned, so that
// decoding "buy" or "market" does not allocate.
func (s *scanner) enum(dst *string) bool {
	if s.Peek() == 'n' {
		return s.Lit("null") // encoding/json leaves the field as it was
	}
	b, ok := s.Raw()
	if ok {
		*dst = jsonscan.Intern(b, enumValues[:])
	}
	return ok
}

var enumValues = [...]string{"buy", "sell", "market", "limit", "stop", "stop_limit", "trailing_stop",
	"day", "gtc", "opg", "cls", "ioc", "fok", "", "simple", "bracket", "oco", "oto",
	"buy_to_open", "buy_to_close", "sell_to_open", "sell_to_close"}

// decimalValue reads a decimal field: null, a string or a number.
func (s *scanner) decimalValue() (*decimal.Decimal, bool) {
	var text []byte
	switch c := s.Peek(); {
	case c == 'n':
		return nil, s.Lit("null")
	case c == '"':
		b, ok := s.Raw()
		if !ok {
			return nil, false
		}
		text = b
	default:
		b, ok := s.Number()
		if !ok {
			return nil, false
		}
		text = b
	}
	d, err := decimal.NewFromString(string(text))
	return &d, err == nil
}

// stringValue reads a string field; null leaves it empty, as
// encoding/json does.
func (s *scanner) stringValue() (string, bool) {
	if s.Peek() == 'n' {
		return "", s.Lit("null")
	}
	return s.str()
}

func fastOrderBody(data []byte, body *orderBody) bool {
	s := scanner{jsonscan.New(data)}
	if !s.Lit("{") {
		return false
	}
	r := &body.OrderRequest
	if !s.Lit("}") {
		for {
			key, ok := s.str()
			if !ok || !s.Lit(":") {
				return false
			}
			switch key {
			case "symbol":
				r.Symbol, ok = s.stringValue()
			case "qty":
				r.Qty, ok = s.decimalValue()
			case "notional":
				r.Notional, ok = s.decimalValue()
			case "limit_price":
				r.LimitPrice, ok = s.decimalValue()
			case "stop_price":
				r.StopPrice, ok = s.decimalValue()
			case "trail_price":
				r.TrailPrice, ok = s.decimalValue()
			case "trail_percent":
				r.TrailPercent, ok = s.decimalValue()
			case "side":
				ok = s.enum((*string)(&r.Side))
			case "type":
				ok = s.enum((*string)(&r.Type))
			case "time_in_force":
				ok = s.enum((*string)(&r.TimeInForce))
			case "order_class":
				ok = s.enum((*string)(&r.OrderClass))
			case "position_intent":
				ok = s.enum((*string)(&r.PositionIntent))
			case "client_order_id":
				r.ClientOrderID, ok = s.stringValue()
			case "extended_hours":
				ok = s.Bool(&r.ExtendedHours)
			case "take_profit", "stop_loss":
				// Only their null form is common enough to bother with.
				ok = s.Lit("null")
			case "legs", "advanced_instructions", "subtag", "source":
				// Raw fields hold the literal null, as encoding/json leaves it.
				ok = s.Lit("null")
				raw := json.RawMessage("null")
				switch key {
				case "legs":
					body.Legs = raw
				case "advanced_instructions":
					body.AdvancedInstructions = raw
				case "subtag":
					body.Subtag = raw
				default:
					body.Source = raw
				}
			default:
				return false
			}
			if !ok {
				return false
			}
			if s.Lit(",") {
				continue
			}
			if s.Lit("}") {
				break
			}
			return false
		}
	}
	return s.End()
}
