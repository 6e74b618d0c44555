package sim

import (
	"bytes"
	"encoding/json"
	"io"

	"github.com/shopspring/decimal"
)

// decodeOrderBody decodes POST /v2/orders. The common body (a flat object
// of known keys with plain strings, numbers, booleans and nulls) is parsed
// by a small scanner; anything else (nested legs, escapes, unknown keys,
// errors) goes to encoding/json, so the result and every error message
// are exactly encoding/json's. A fuzz test holds the two to that.
func decodeOrderBody(data []byte, body *orderBody) error {
	if fastOrderBody(data, body) {
		return nil
	}
	*body = orderBody{}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(body); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errTrailingData
	}
	return nil
}

const errTrailingData = simError("trailing data after the JSON value")

type scanner struct {
	b []byte
	i int
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) peek() byte {
	s.ws()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// raw reads a string without escapes or control characters; ok is false
// for anything the fast path leaves to encoding/json.
func (s *scanner) raw() ([]byte, bool) {
	if s.peek() != '"' {
		return nil, false
	}
	start := s.i + 1
	for j := start; j < len(s.b); j++ {
		c := s.b[j]
		if c == '"' {
			s.i = j + 1
			return s.b[start:j], true
		}
		if c == '\\' || c < 0x20 || c >= 0x80 {
			return nil, false
		}
	}
	return nil, false
}

func (s *scanner) str() (string, bool) {
	b, ok := s.raw()
	return string(b), ok
}

// enum reads a string field whose common values are interned, so that
// decoding "buy" or "market" does not allocate.
func (s *scanner) enum(dst *string) bool {
	if s.peek() == 'n' {
		return s.lit("null") // encoding/json leaves the field as it was
	}
	b, ok := s.raw()
	if !ok {
		return false
	}
	for _, v := range enumValues {
		if string(b) == v {
			*dst = v
			return true
		}
	}
	*dst = string(b)
	return true
}

var enumValues = [...]string{"buy", "sell", "market", "limit", "stop", "stop_limit", "trailing_stop",
	"day", "gtc", "opg", "cls", "ioc", "fok", "", "simple", "bracket", "oco", "oto",
	"buy_to_open", "buy_to_close", "sell_to_open", "sell_to_close"}

func (s *scanner) lit(w string) bool {
	s.ws()
	if bytes.HasPrefix(s.b[s.i:], []byte(w)) {
		s.i += len(w)
		return true
	}
	return false
}

// num reads a JSON number's text.
func (s *scanner) num() (string, bool) {
	s.ws()
	start := s.i
	for s.i < len(s.b) {
		c := s.b[s.i]
		if c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E' {
			s.i++
			continue
		}
		break
	}
	if s.i == start {
		return "", false
	}
	raw := string(s.b[start:s.i])
	return raw, json.Valid([]byte(raw))
}

// decimalValue reads a decimal field: null, a string or a number.
func (s *scanner) decimalValue() (*decimal.Decimal, bool) {
	switch c := s.peek(); {
	case c == 'n':
		return nil, s.lit("null")
	case c == '"':
		v, ok := s.str()
		if !ok {
			return nil, false
		}
		d, err := decimal.NewFromString(v)
		return &d, err == nil
	default:
		v, ok := s.num()
		if !ok {
			return nil, false
		}
		d, err := decimal.NewFromString(v)
		return &d, err == nil
	}
}

// stringValue reads a string field; null leaves it empty, as
// encoding/json does.
func (s *scanner) stringValue() (string, bool) {
	if s.peek() == 'n' {
		return "", s.lit("null")
	}
	return s.str()
}

func fastOrderBody(data []byte, body *orderBody) bool {
	s := scanner{b: data}
	if !s.lit("{") {
		return false
	}
	r := &body.OrderRequest
	if s.peek() == '}' {
		s.i++
	} else {
		for {
			key, ok := s.str()
			if !ok || !s.lit(":") {
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
				switch {
				case s.lit("true"):
					r.ExtendedHours = true
				case s.lit("false"):
					r.ExtendedHours = false
				default:
					ok = s.lit("null")
				}
			case "take_profit", "stop_loss":
				// Only their null form is common enough to bother with.
				ok = s.lit("null")
			case "legs", "advanced_instructions", "subtag", "source":
				// Raw fields hold the literal null, as encoding/json leaves it.
				ok = s.lit("null")
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
			if s.lit(",") {
				continue
			}
			if s.lit("}") {
				break
			}
			return false
		}
	}
	s.ws()
	return s.i == len(s.b)
}
