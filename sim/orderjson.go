package sim

import (
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/quantum-alpaca/quantum/sim/match"
)

// appendOrder writes o as Alpaca's Order JSON, byte for byte what
// encoding/json makes of wireOrder(o) (a test holds it to that), without
// the reflection and the decimal allocations: order replies are the
// broker's hottest output.
func appendOrder(b []byte, o *match.Order) []byte {
	b = append(b, `{"id":"`...)
	b = o.ID.Append(b)
	b = append(b, `","client_order_id":`...)
	b = appendString(b, o.ClientOrderID)
	b = append(b, `,"created_at":`...)
	b = appendTime(b, o.CreatedAt, false)
	b = appendTimeField(b, `,"updated_at":`, o.UpdatedAt)
	b = appendTimeField(b, `,"submitted_at":`, o.SubmittedAt)
	b = appendTimeField(b, `,"filled_at":`, o.FilledAt)
	b = appendTimeField(b, `,"expired_at":`, o.ExpiredAt)
	b = appendTimeField(b, `,"canceled_at":`, o.CanceledAt)
	b = appendTimeField(b, `,"failed_at":`, o.FailedAt)
	b = appendTimeField(b, `,"replaced_at":`, o.ReplacedAt)
	b = appendUUIDField(b, `,"replaced_by":`, o.ReplacedBy)
	b = appendUUIDField(b, `,"replaces":`, o.Replaces)
	b = append(b, `,"asset_id":`...)
	b = appendString(b, assetIDOf(o.Symbol))
	b = append(b, `,"symbol":`...)
	b = appendString(b, o.Symbol)
	b = append(b, `,"asset_class":"`...)
	b = append(b, assetClassOf(o.Symbol)...)
	b = append(b, `","notional":`...)
	b = appendDec(b, o.Notional.String(), o.Notional != 0)
	b = append(b, `,"qty":`...)
	b = appendDec(b, o.Qty.String(), o.Qty != 0)
	b = append(b, `,"filled_qty":`...)
	b = appendDec(b, o.FilledQty.String(), true)
	b = append(b, `,"filled_avg_price":`...)
	b = appendDec(b, o.FilledAvgPrice.String(), o.FilledQty != 0)
	b = append(b, `,"order_class":`...)
	b = appendString(b, string(o.Class))
	b = append(b, `,"order_type":`...)
	b = appendString(b, string(o.Type))
	b = append(b, `,"type":`...)
	b = appendString(b, string(o.Type))
	b = append(b, `,"side":`...)
	b = appendString(b, string(o.Side))
	if o.PositionIntent != "" {
		b = append(b, `,"position_intent":`...)
		b = appendString(b, string(o.PositionIntent))
	}
	b = append(b, `,"time_in_force":`...)
	b = appendString(b, string(o.TimeInForce))
	b = append(b, `,"limit_price":`...)
	b = appendDec(b, o.LimitPrice.String(), o.LimitPrice != 0)
	b = append(b, `,"stop_price":`...)
	b = appendDec(b, o.StopPrice.String(), o.StopPrice != 0)
	b = append(b, `,"status":`...)
	b = appendString(b, string(o.Status))
	b = append(b, `,"extended_hours":`...)
	b = strconv.AppendBool(b, o.ExtendedHours)
	b = append(b, `,"legs":`...)
	if o.Legs == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range o.Legs {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendOrder(b, &o.Legs[i])
		}
		b = append(b, ']')
	}
	b = append(b, `,"trail_percent":`...)
	b = appendDec(b, o.TrailPercent.String(), o.TrailPercent != 0)
	b = append(b, `,"trail_price":`...)
	b = appendDec(b, o.TrailPrice.String(), o.TrailPrice != 0)
	b = append(b, `,"hwm":`...)
	b = appendDec(b, o.HWM.String(), o.HWM != 0)
	if !o.ExpiresAt.IsZero() {
		b = append(b, `,"expires_at":`...)
		b = appendTime(b, o.ExpiresAt, false)
	}
	return append(b, `,"subtag":null,"source":null}`...)
}

func appendTimeField(b []byte, key string, ts match.Timestamp) []byte {
	b = append(b, key...)
	return appendTime(b, ts, true)
}

func appendTime(b []byte, ts match.Timestamp, nullable bool) []byte {
	if ts.IsZero() {
		if nullable {
			return append(b, "null"...)
		}
		return append(b, `"0001-01-01T00:00:00Z"`...)
	}
	b = append(b, '"')
	b = ts.Time().AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

func appendUUIDField(b []byte, key string, u match.UUID) []byte {
	b = append(b, key...)
	if u.IsZero() {
		return append(b, "null"...)
	}
	b = append(b, '"')
	b = u.Append(b)
	return append(b, '"')
}

func appendDec(b []byte, s string, set bool) []byte {
	if !set {
		return append(b, "null"...)
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendString quotes s as encoding/json does, including its escaping of
// <, > and & for HTML safety, so both encoders agree byte for byte.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			if r == utf8.RuneError {
				b = append(b, `\ufffd`...)
			} else {
				b = append(b, `\u202`...)
				b = append(b, hex[r&0xf])
			}
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

func writeOrder(w http.ResponseWriter, o *match.Order) {
	buf := orderBufPool.Get().(*[]byte)
	b := appendOrder((*buf)[:0], o)
	b = append(b, '\n')
	writeRaw(w, http.StatusOK, b)
	*buf = b
	orderBufPool.Put(buf)
}
