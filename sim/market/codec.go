package market

import (
	"bytes"
	"strconv"
	"sync"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/quantum-alpaca/quantum/alpaca"
)

// Stream codecs.
const (
	codecJSON = iota
	codecMsgpack
)

// enc writes one stream message in either codec through the same calls.
// Maps are written key by key in call order because the official Go SDK
// requires "T" to be the first key of every msgpack map, which neither
// encoding/json on a map nor msgpack on a Go map guarantees.
type enc struct {
	mp    bool
	buf   bytes.Buffer
	me    *msgpack.Encoder
	first bool
}

func newEnc(codec int) *enc {
	e := &enc{mp: codec == codecMsgpack}
	if e.mp {
		e.me = msgpack.NewEncoder(&e.buf)
	}
	return e
}

func (e *enc) bytes() []byte { return append([]byte(nil), e.buf.Bytes()...) }

func (e *enc) obj(n int) {
	if e.mp {
		_ = e.me.EncodeMapLen(n)
		return
	}
	e.buf.WriteByte('{')
	e.first = true
}

func (e *enc) end() {
	if !e.mp {
		e.buf.WriteByte('}')
	}
}

func (e *enc) arr(n int) {
	if e.mp {
		_ = e.me.EncodeArrayLen(n)
		return
	}
	e.buf.WriteByte('[')
}

func (e *enc) arrEnd() {
	if !e.mp {
		e.buf.WriteByte(']')
	}
}

func (e *enc) key(k string) {
	if e.mp {
		_ = e.me.EncodeString(k)
		return
	}
	if !e.first {
		e.buf.WriteByte(',')
	}
	e.first = false
	e.jsonString(k)
	e.buf.WriteByte(':')
}

func (e *enc) str(s string) {
	if e.mp {
		_ = e.me.EncodeString(s)
		return
	}
	e.jsonString(s)
}

func (e *enc) strs(ss []string) {
	if e.mp {
		_ = e.me.EncodeArrayLen(len(ss))
		for _, s := range ss {
			_ = e.me.EncodeString(s)
		}
		return
	}
	e.buf.WriteByte('[')
	for i, s := range ss {
		if i > 0 {
			e.buf.WriteByte(',')
		}
		e.jsonString(s)
	}
	e.buf.WriteByte(']')
}

func (e *enc) i64(v int64) {
	if e.mp {
		_ = e.me.EncodeInt(v)
		return
	}
	e.buf.Write(strconv.AppendInt(e.buf.AvailableBuffer(), v, 10))
}

func (e *enc) u64(v uint64) {
	if e.mp {
		_ = e.me.EncodeUint(v)
		return
	}
	e.buf.Write(strconv.AppendUint(e.buf.AvailableBuffer(), v, 10))
}

func (e *enc) f64(v float64) {
	if e.mp {
		_ = e.me.EncodeFloat64(v)
		return
	}
	e.buf.Write(strconv.AppendFloat(e.buf.AvailableBuffer(), v, 'f', -1, 64))
}

// time writes a msgpack timestamp extension (what the SDK's DecodeTime
// reads fastest) or an RFC 3339 string in UTC.
func (e *enc) time(t time.Time) {
	if e.mp {
		_ = e.me.EncodeTime(t)
		return
	}
	e.buf.WriteByte('"')
	e.buf.Write(t.UTC().AppendFormat(e.buf.AvailableBuffer(), time.RFC3339Nano))
	e.buf.WriteByte('"')
}

func (e *enc) jsonString(s string) {
	const hex = "0123456789abcdef"
	e.buf.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			e.buf.WriteByte('\\')
			e.buf.WriteByte(c)
		case c < 0x20:
			e.buf.WriteString(`\u00`)
			e.buf.WriteByte(hex[c>>4])
			e.buf.WriteByte(hex[c&0xf])
		default:
			e.buf.WriteByte(c)
		}
	}
	e.buf.WriteByte('"')
}

func (e *enc) trade(sym string, t *alpaca.Trade) {
	e.obj(9)
	e.key("T")
	e.str("t")
	e.key("S")
	e.str(sym)
	e.key("i")
	e.i64(t.ID)
	e.key("x")
	e.str(t.Exchange)
	e.key("p")
	e.f64(t.Price)
	e.key("s")
	e.u64(uint64(t.Size))
	e.key("c")
	e.strs(t.Conditions)
	e.key("t")
	e.time(t.Timestamp)
	e.key("z")
	e.str(t.Tape)
	e.end()
}

// quote writes a stream quote; sizes are in round lots on the stream, as
// Alpaca documents (REST reports shares).
func (e *enc) quote(sym string, q *alpaca.Quote) {
	e.obj(11)
	e.key("T")
	e.str("q")
	e.key("S")
	e.str(sym)
	e.key("bx")
	e.str(q.BidExchange)
	e.key("bp")
	e.f64(q.BidPrice)
	e.key("bs")
	e.u64(uint64(q.BidSize / 100))
	e.key("ax")
	e.str(q.AskExchange)
	e.key("ap")
	e.f64(q.AskPrice)
	e.key("as")
	e.u64(uint64(q.AskSize / 100))
	e.key("c")
	e.strs(q.Conditions)
	e.key("t")
	e.time(q.Timestamp)
	e.key("z")
	e.str(q.Tape)
	e.end()
}

func (e *enc) bar(typ, sym string, b *alpaca.Bar) {
	e.obj(10)
	e.key("T")
	e.str(typ)
	e.key("S")
	e.str(sym)
	e.key("o")
	e.f64(b.Open)
	e.key("h")
	e.f64(b.High)
	e.key("l")
	e.f64(b.Low)
	e.key("c")
	e.f64(b.Close)
	e.key("v")
	e.u64(b.Volume)
	e.key("t")
	e.time(b.Timestamp)
	e.key("n")
	e.u64(b.TradeCount)
	e.key("vw")
	e.f64(b.VWAP)
	e.end()
}

// Control frames: always an array holding exactly one message, which is
// what the SDK's connection set-up insists on.

func ctrlSuccess(codec int, msg string) []byte {
	e := newEnc(codec)
	e.arr(1)
	e.obj(2)
	e.key("T")
	e.str("success")
	e.key("msg")
	e.str(msg)
	e.end()
	e.arrEnd()
	return e.bytes()
}

func ctrlError(codec int, code int, msg string) []byte {
	e := newEnc(codec)
	e.arr(1)
	e.obj(3)
	e.key("T")
	e.str("error")
	e.key("code")
	e.i64(int64(code))
	e.key("msg")
	e.str(msg)
	e.end()
	e.arrEnd()
	return e.bytes()
}

func ctrlSubscription(codec int, s *subscriptions) []byte {
	e := newEnc(codec)
	withImbalances := s.ch[chImbalances].any()
	n := 10
	if withImbalances {
		n++
	}
	e.arr(1)
	e.obj(n)
	e.key("T")
	e.str("subscription")
	trades := s.ch[chTrades].list()
	for c := range chImbalances {
		e.key(channelNames[c])
		e.strs(s.ch[c].list())
	}
	if withImbalances {
		e.key(channelNames[chImbalances])
		e.strs(s.ch[chImbalances].list())
	}
	// Corrections and cancel errors follow the trade subscription.
	e.key("corrections")
	e.strs(trades)
	e.key("cancelErrors")
	e.strs(trades)
	e.end()
	e.arrEnd()
	return e.bytes()
}

// item is one data message of a tick.
type item struct {
	kind  byte // 't', 'q', 'b' (minute bar), 'd' (daily bar)
	sym   int
	trade alpaca.Trade
	quote alpaca.Quote
	bar   alpaca.Bar
}

// batch is everything one Step publishes to streams. It is shared by all
// connections; each message is encoded at most once per codec, lazily, by
// whichever connection's writer first needs it.
type batch struct {
	items []item
	once  [2]sync.Once
	parts [2][][]byte
}

func (b *batch) encoded(codec int, syms []Symbol) [][]byte {
	b.once[codec].Do(func() {
		e := newEnc(codec)
		parts := make([][]byte, len(b.items))
		var all []byte
		offs := make([]int, len(b.items)+1)
		for i := range b.items {
			it := &b.items[i]
			sym := syms[it.sym].Symbol
			switch it.kind {
			case 't':
				e.trade(sym, &it.trade)
			case 'q':
				e.quote(sym, &it.quote)
			case 'b':
				e.bar("b", sym, &it.bar)
			case 'd':
				e.bar("d", sym, &it.bar)
			}
			offs[i+1] = e.buf.Len()
		}
		all = e.bytes()
		for i := range parts {
			parts[i] = all[offs[i]:offs[i+1]:offs[i+1]]
		}
		b.parts[codec] = parts
	})
	return b.parts[codec]
}

// appendFrame appends the array frame of the selected parts to dst.
func appendFrame(dst []byte, codec int, parts [][]byte, sel []int) []byte {
	if codec == codecMsgpack {
		switch n := len(sel); {
		case n < 16:
			dst = append(dst, 0x90|byte(n))
		case n < 1<<16:
			dst = append(dst, 0xdc, byte(n>>8), byte(n))
		default:
			dst = append(dst, 0xdd, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
		}
		for _, i := range sel {
			dst = append(dst, parts[i]...)
		}
		return dst
	}
	dst = append(dst, '[')
	for k, i := range sel {
		if k > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, parts[i]...)
	}
	return append(dst, ']')
}
