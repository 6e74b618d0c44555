package stream

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"

	"github.com/quantum-alpaca/quantum/alpaca"
	"github.com/quantum-alpaca/quantum/alpaca/jsonscan"
)

// Market-data frames are arrays of maps keyed by the one- and two-letter
// names in the API docs. mdWire is the union of every field the client
// reads, so a whole frame decodes in one pass of encoding/json or
// msgpack into a reused slice; the T field then says which fields are
// meaningful. Two keys change type with T ("c" is conditions on trades and
// quotes but the close on bars; "i" is the trade id but a string on LULD
// messages), so they get small custom decoders, as does "t", which
// msgpack senders encode either as the timestamp extension or as an
// RFC3339 string. The crypto order book's levels ("b", "a") decode
// straight into the public type's slices, which stay nil, costing
// nothing, in every other message.
//
// Sizes and volumes are float64 because the crypto stream shares this
// decoder and sends fractional ones (0.0123 BTC); a stock's whole-share
// size converts back exactly (a float64 holds every integer below 2^53).
type mdWire struct {
	T    string  `json:"T" msgpack:"T"`
	S    string  `json:"S" msgpack:"S"`
	Time mdTime  `json:"t" msgpack:"t"`
	ID   mdInt   `json:"i" msgpack:"i"`
	X    string  `json:"x" msgpack:"x"`
	P    float64 `json:"p" msgpack:"p"`
	Size float64 `json:"s" msgpack:"s"`
	C    mdC     `json:"c" msgpack:"c"`
	Z    string  `json:"z" msgpack:"z"`
	TKS  string  `json:"tks" msgpack:"tks"` // crypto trades: the taker's side

	BX string  `json:"bx" msgpack:"bx"`
	BP float64 `json:"bp" msgpack:"bp"`
	BS float64 `json:"bs" msgpack:"bs"`
	AX string  `json:"ax" msgpack:"ax"`
	AP float64 `json:"ap" msgpack:"ap"`
	AS float64 `json:"as" msgpack:"as"`

	O  float64 `json:"o" msgpack:"o"`
	H  float64 `json:"h" msgpack:"h"`
	L  float64 `json:"l" msgpack:"l"`
	V  float64 `json:"v" msgpack:"v"`
	N  uint64  `json:"n" msgpack:"n"`
	VW float64 `json:"vw" msgpack:"vw"`

	B mdLevels `json:"b" msgpack:"b"` // crypto order book: bids
	A mdLevels `json:"a" msgpack:"a"` // ... asks
	R bool     `json:"r" msgpack:"r"` // ... a whole book, not an update

	Msg  string `json:"msg" msgpack:"msg"`
	Code int    `json:"code" msgpack:"code"`

	Trades      []string `json:"trades" msgpack:"trades"`
	Quotes      []string `json:"quotes" msgpack:"quotes"`
	Bars        []string `json:"bars" msgpack:"bars"`
	UpdatedBars []string `json:"updatedBars" msgpack:"updatedBars"`
	DailyBars   []string `json:"dailyBars" msgpack:"dailyBars"`
	Orderbooks  []string `json:"orderbooks" msgpack:"orderbooks"`
}

type mdTime time.Time

func (t *mdTime) UnmarshalJSON(b []byte) error {
	var tm time.Time
	if err := tm.UnmarshalJSON(b); err != nil {
		return err
	}
	*t = mdTime(tm.UTC())
	return nil
}

func (t *mdTime) DecodeMsgpack(d *msgpack.Decoder) error {
	c, err := d.PeekCode()
	if err != nil {
		return err
	}
	if c == msgpcode.Nil {
		return d.DecodeNil()
	}
	tm, err := d.DecodeTime()
	if err != nil {
		return err
	}
	*t = mdTime(tm.UTC())
	return nil
}

type mdInt int64

func (n *mdInt) UnmarshalJSON(b []byte) error {
	if len(b) == 0 || b[0] == '"' || b[0] == 'n' {
		return nil
	}
	v, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return fmt.Errorf("decode i: %w", err)
	}
	*n = mdInt(v)
	return nil
}

func (n *mdInt) DecodeMsgpack(d *msgpack.Decoder) error {
	c, err := d.PeekCode()
	if err != nil {
		return err
	}
	if msgpcode.IsString(c) || c == msgpcode.Nil {
		return d.Skip()
	}
	v, err := d.DecodeInt64()
	*n = mdInt(v)
	return err
}

type mdC struct {
	conds []string
	num   float64
}

func (c *mdC) UnmarshalJSON(b []byte) error {
	if len(b) == 0 || b[0] == 'n' {
		return nil
	}
	if b[0] == '[' {
		// Condition codes are short plain strings ("@", "F", "T"): the
		// shared scanner reads them; anything else is encoding/json's.
		s := jsonscan.New(b)
		if conds, ok := s.Strings(); ok && s.End() {
			c.conds = conds
			return nil
		}
		return json.Unmarshal(b, &c.conds)
	}
	v, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return fmt.Errorf("decode c: %w", err)
	}
	c.num = v
	return nil
}

func (c *mdC) DecodeMsgpack(d *msgpack.Decoder) error {
	code, err := d.PeekCode()
	if err != nil {
		return err
	}
	switch {
	case code == msgpcode.Nil:
		return d.DecodeNil()
	case msgpcode.IsFixedArray(code) || code == msgpcode.Array16 || code == msgpcode.Array32:
		n, err := d.DecodeArrayLen()
		if err != nil || n <= 0 {
			return err
		}
		c.conds = make([]string, n)
		for i := range c.conds {
			if c.conds[i], err = d.DecodeString(); err != nil {
				return err
			}
		}
		return nil
	default:
		c.num, err = d.DecodeFloat64()
		return err
	}
}

// mdLevels is an order book side. JSON decodes it by the public type's
// tags; msgpack, which does not read json tags, by hand. Each decode
// makes a new slice, so a delivered book never shares memory with the
// decoder.
type mdLevels []alpaca.CryptoOrderbookEntry

func (l *mdLevels) DecodeMsgpack(d *msgpack.Decoder) error {
	n, err := d.DecodeArrayLen()
	if err != nil || n < 0 {
		return err // n < 0: nil
	}
	out := make(mdLevels, n)
	for i := range out {
		m, err := d.DecodeMapLen()
		if err != nil {
			return fmt.Errorf("decode order book level: %w", err)
		}
		for range max(m, 0) {
			k, err := d.DecodeString()
			if err != nil {
				return fmt.Errorf("decode order book level: %w", err)
			}
			switch k {
			case "p":
				out[i].Price, err = d.DecodeFloat64()
			case "s":
				out[i].Size, err = d.DecodeFloat64()
			default:
				err = d.Skip()
			}
			if err != nil {
				return fmt.Errorf("decode order book level %q: %w", k, err)
			}
		}
	}
	*l = out
	return nil
}

// mdDecoder decodes market-data frames, reusing its buffers between
// frames. It belongs to one reader goroutine.
type mdDecoder struct {
	wire []mdWire
	br   bytes.Reader
	dec  *msgpack.Decoder
}

// decode parses one frame, JSON or MessagePack (told apart by the first
// byte: a JSON array opens with '[', a MessagePack array with 0x90-0x9f,
// 0xdc or 0xdd). The result aliases the decoder's buffer and is valid
// until the next call.
func (d *mdDecoder) decode(frame []byte) ([]mdWire, error) {
	clear(d.wire)
	d.wire = d.wire[:0]
	b := bytes.TrimLeft(frame, " \t\r\n")
	if len(b) == 0 {
		return nil, errors.New("empty frame")
	}
	if b[0] == '[' {
		if err := json.Unmarshal(b, &d.wire); err != nil {
			return nil, fmt.Errorf("decode json frame: %w", err)
		}
		return d.wire, nil
	}
	if d.dec == nil {
		d.dec = msgpack.NewDecoder(nil)
	}
	d.br.Reset(b)
	d.dec.Reset(&d.br)
	n, err := d.dec.DecodeArrayLen()
	if err != nil {
		return nil, fmt.Errorf("decode msgpack frame: %w", err)
	}
	if n < 0 {
		return nil, nil
	}
	// Capacity beyond the previous length is already zero: every decode
	// clears what the one before it used.
	d.wire = slices.Grow(d.wire[:0], n)[:n]
	for i := range d.wire {
		if err := d.dec.Decode(&d.wire[i]); err != nil {
			return nil, fmt.Errorf("decode msgpack message %d: %w", i, err)
		}
	}
	return d.wire, nil
}

// toMessage maps a data message to the public type; ok is false for
// types the client does not deliver (corrections, cancels, statuses...).
func (w *mdWire) toMessage() (Message, bool) {
	m := Message{Symbol: w.S}
	switch w.T {
	case "t":
		m.Kind = KindTrade
		m.Trade = alpaca.Trade{
			Timestamp:  time.Time(w.Time),
			Exchange:   w.X,
			Price:      w.P,
			Size:       uint32(w.Size),
			ID:         int64(w.ID),
			Conditions: w.C.conds,
			Tape:       w.Z,
		}
	case "q":
		m.Kind = KindQuote
		m.Quote = alpaca.Quote{
			Timestamp:   time.Time(w.Time),
			BidExchange: w.BX,
			BidPrice:    w.BP,
			BidSize:     uint32(w.BS),
			AskExchange: w.AX,
			AskPrice:    w.AP,
			AskSize:     uint32(w.AS),
			Conditions:  w.C.conds,
			Tape:        w.Z,
		}
	case "b", "d", "u":
		m.Kind = barKind(w.T)
		m.Bar = alpaca.Bar{
			Timestamp:  time.Time(w.Time),
			Open:       w.O,
			High:       w.H,
			Low:        w.L,
			Close:      w.C.num,
			Volume:     uint64(w.V),
			TradeCount: w.N,
			VWAP:       w.VW,
		}
	default:
		return m, false
	}
	return m, true
}

func barKind(t string) Kind {
	switch t {
	case "d":
		return KindDailyBar
	case "u":
		return KindUpdatedBar
	}
	return KindBar
}

// toCryptoMessage maps a crypto stream's data message to the public
// type, sizes and volumes as fractional as they came; ok is false for
// types the client does not deliver.
func (w *mdWire) toCryptoMessage() (CryptoMessage, bool) {
	m := CryptoMessage{Symbol: w.S}
	switch w.T {
	case "t":
		m.Kind = KindTrade
		m.Trade = alpaca.CryptoTrade{
			Timestamp: time.Time(w.Time),
			Price:     w.P,
			Size:      w.Size,
			ID:        int64(w.ID),
			TakerSide: w.TKS,
		}
	case "q":
		m.Kind = KindQuote
		m.Quote = alpaca.CryptoQuote{
			Timestamp: time.Time(w.Time),
			BidPrice:  w.BP,
			BidSize:   w.BS,
			AskPrice:  w.AP,
			AskSize:   w.AS,
		}
	case "b", "d", "u":
		m.Kind = barKind(w.T)
		m.Bar = alpaca.CryptoBar{
			Timestamp:  time.Time(w.Time),
			Open:       w.O,
			High:       w.H,
			Low:        w.L,
			Close:      w.C.num,
			Volume:     w.V,
			TradeCount: w.N,
			VWAP:       w.VW,
		}
	case "o":
		m.Kind = KindOrderbook
		m.Orderbook = alpaca.CryptoOrderbook{
			Timestamp: time.Time(w.Time),
			Bids:      w.B,
			Asks:      w.A,
			Reset:     w.R,
		}
	default:
		return m, false
	}
	return m, true
}
