package market

import (
	"testing"
	"time"
)

// BenchmarkEncodeBatch measures what a tick costs the stream side: encoding
// every symbol's quote and trade once per codec and framing them for one
// connection subscribed to everything.
func BenchmarkEncodeBatch(b *testing.B) {
	m, err := New(Config{HistoryDays: 1, Now: func() time.Time { return time.Unix(1_773_000_000, 0) }})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	var items []item
	for i, s := range m.syms {
		q, _ := m.Quote(s.Symbol)
		t, _ := m.LatestTrade(s.Symbol)
		items = append(items, item{kind: 't', sym: i, trade: t}, item{kind: 'q', sym: i, quote: q})
	}
	sel := make([]int, len(items))
	for i := range sel {
		sel[i] = i
	}
	for _, codec := range []struct {
		name string
		c    int
	}{{"JSON", codecJSON}, {"Msgpack", codecMsgpack}} {
		b.Run(codec.name, func(b *testing.B) {
			var frame []byte
			b.ReportAllocs()
			for b.Loop() {
				bt := &batch{items: items}
				frame = appendFrame(frame[:0], codec.c, bt.encoded(codec.c, m.syms), sel)
			}
			b.SetBytes(int64(len(frame)))
		})
	}
}
