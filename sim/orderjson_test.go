package sim

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/quantum-alpaca/quantum/sim/match"
)

// The hand-written encoder must agree with encoding/json on wireOrder for
// every field shape: nulls, legs, odd strings.
func TestAppendOrderMatchesEncodingJSON(t *testing.T) {
	ts := match.Stamp(time.Date(2026, 11, 23, 15, 1, 2, 123456789, time.UTC))
	ts2 := match.Stamp(time.Date(2026, 11, 23, 15, 1, 3, 0, time.UTC))
	full := match.Order{
		ID: match.UUID{1, 2, 3, 4, 5, 6, 0x47, 8, 0x89, 10, 11, 12, 13, 14, 15, 16}, ClientOrderID: "cid <&> \"q\" \\ \n\t\x01 é \u2028",
		Symbol: "AAPL", Side: match.Sell, Type: match.TrailingStop, TimeInForce: match.GTC, Class: match.Bracket,
		Status: match.StatusPartiallyFilled, PositionIntent: match.SellToClose, ExtendedHours: true,
		Qty: 12_500_000_000, FilledQty: 3_000_000_000, FilledAvgPrice: 230_123_456_789, LimitPrice: 2301700, StopPrice: 2290000,
		TrailPrice: 15000, TrailPercent: 12345, HWM: 2310000, Replaces: match.UUID{9: 1}, ReplacedBy: match.UUID{3: 7},
		CreatedAt: ts, UpdatedAt: ts2, SubmittedAt: ts, FilledAt: ts2, ExpiresAt: ts2,
	}
	full.Legs = []match.Order{{ID: match.UUID{5: 5}, Symbol: "AAPL", Status: match.StatusHeld, CreatedAt: ts}}
	for name, o := range map[string]match.Order{
		"zero":     {},
		"notional": {Notional: 10_050, Symbol: "MSFT", CreatedAt: ts, Status: match.StatusNew, Type: match.Market},
		"full":     full,
	} {
		want, err := json.Marshal(wireOrder(&o))
		if err != nil {
			t.Fatal(err)
		}
		got := appendOrder(nil, &o)
		if !bytes.Equal(got, want) {
			t.Errorf("%s:\n got %s\nwant %s", name, got, want)
		}
	}
}

func BenchmarkAppendOrder(b *testing.B) {
	o := match.Order{ID: match.UUID{1}, ClientOrderID: "st-17-421", Symbol: "AAPL", Qty: 1e9, FilledQty: 1e9, FilledAvgPrice: 230e9,
		CreatedAt: match.Stamp(time.Now()), SubmittedAt: match.Stamp(time.Now()), Status: match.StatusFilled}
	buf := make([]byte, 0, 2048)
	b.ReportAllocs()
	for b.Loop() {
		buf = appendOrder(buf[:0], &o)
	}
}

func BenchmarkEncodingJSONOrder(b *testing.B) {
	o := match.Order{ID: match.UUID{1}, ClientOrderID: "st-17-421", Symbol: "AAPL", Qty: 1e9, FilledQty: 1e9, FilledAvgPrice: 230e9,
		CreatedAt: match.Stamp(time.Now()), SubmittedAt: match.Stamp(time.Now()), Status: match.StatusFilled}
	b.ReportAllocs()
	for b.Loop() {
		_, _ = json.Marshal(wireOrder(&o))
	}
}
