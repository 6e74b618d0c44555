package match_test

import (
	"testing"
	"time"

	"github.com/quantum-alpaca/quantum/sim/match"
)

func cryptoEnv(t *testing.T) *env {
	return MustEnv(t, func(c *match.Config) {
		c.Asset = func(string) (match.Asset, bool) {
			return match.Asset{Tradable: true, Fractionable: true, Crypto: true,
				MinOrderSize: qty("0.0001"), MinTradeIncrement: qty("0.000000001")}, true
		}
	})
}

func cryptoOrder(typ match.OrderType, side match.Side, q, limit string) match.OrderRequest {
	r := match.OrderRequest{Symbol: "BTC/USD", Side: side, Type: typ, TimeInForce: match.GTC, Qty: dec(q)}
	if limit != "" {
		r.LimitPrice = dec(limit)
	}
	return r
}

// A taker buy pays 0.25% in BTC, a maker sell 0.15% in USD (tier 1), and
// each fee is a CFEE activity after its fill.
func TestCryptoFees(t *testing.T) {
	e := cryptoEnv(t)
	e.quote("BTC/USD", "80000", "80010")
	cash0 := e.a.Cash()
	buy, _ := e.mustSubmit(cryptoOrder(match.Market, match.Buy, "0.1", ""))
	if buy.Status != match.StatusFilled || buy.FilledQty != qty("0.1") {
		t.Fatalf("buy: %+v", buy)
	}
	// 0.1 × 0.25% = 0.00025 BTC.
	if got, want := e.pos("BTC/USD"), qty("0.09975"); got != want {
		t.Fatalf("position %s, want %s", got, want)
	}
	if got, want := e.a.Cash(), cash0-money("8001"); got != want {
		t.Fatalf("cash %s, want %s (the buy's fee is in BTC)", got, want)
	}

	// A limit sell above the market rests, then fills as a maker.
	sell, _ := e.mustSubmit(cryptoOrder(match.Limit, match.Sell, "0.09975", "81000"))
	if sell.Status != match.StatusNew {
		t.Fatalf("sell: %s", sell.Status)
	}
	e.tick(time.Minute)
	cash1 := e.a.Cash()
	e.quote("BTC/USD", "81000", "81010")
	if got := e.order(sell.ID); got.Status != match.StatusFilled {
		t.Fatalf("sell after the quote: %s", got.Status)
	}
	// 0.09975 × 81000 = 8079.75, fee 0.15% = 12.119625, rounded up to
	// 12.12.
	if got, want := e.a.Cash(), cash1+money("8079.75")-money("12.12"); got != want {
		t.Fatalf("cash %s, want %s", got, want)
	}
	if e.pos("BTC/USD") != 0 {
		t.Fatalf("position %s after selling all", e.pos("BTC/USD"))
	}

	acts, err := e.a.Activities(match.ActivityFilter{Direction: "asc"})
	if err != nil {
		t.Fatal(err)
	}
	if len(acts) != 4 || acts[0].Fee || !acts[1].Fee || acts[2].Fee || !acts[3].Fee {
		t.Fatalf("activities: %+v", acts)
	}
	if acts[1].Qty != qty("0.00025") || acts[1].FeeCash != 0 || acts[3].Qty != 0 || acts[3].FeeCash != money("12.12") {
		t.Fatalf("fees: %+v / %+v", acts[1], acts[3])
	}
	fills, _ := e.a.Activities(match.ActivityFilter{SkipFees: true})
	fees, _ := e.a.Activities(match.ActivityFilter{SkipFills: true})
	if len(fills) != 2 || len(fees) != 2 || fees[0].Fee != true || fills[0].Fee {
		t.Fatalf("filters: %d fills, %d fees", len(fills), len(fees))
	}
	e.check()
}

// The rate falls with 30-day volume: past $100,000 the account is in
// tier 2 (0.12% maker, 0.22% taker); volume older than 30 days no longer
// counts.
func TestCryptoFeeTiers(t *testing.T) {
	e := cryptoEnv(t)
	if m, tk := e.a.CryptoFeeRate(e.now, true), e.a.CryptoFeeRate(e.now, false); m != 15 || tk != 25 {
		t.Fatalf("tier 1: %d/%d", m, tk)
	}
	e.quote("BTC/USD", "50000", "50000")
	e.mustSubmit(cryptoOrder(match.Market, match.Buy, "1.9", ""))
	if m := e.a.CryptoFeeRate(e.now, true); m != 15 {
		t.Fatalf("after $95,000: maker %d, want 15", m)
	}
	e.mustSubmit(cryptoOrder(match.Market, match.Sell, "1", ""))
	if m, tk := e.a.CryptoFeeRate(e.now, true), e.a.CryptoFeeRate(e.now, false); m != 12 || tk != 22 {
		t.Fatalf("after $145,000: %d/%d", m, tk)
	}
	if m := e.a.CryptoFeeRate(e.now.Add(31*24*time.Hour), true); m != 15 {
		t.Fatalf("31 days later: maker %d, want 15", m)
	}
}

// Crypto orders are judged by the crypto rules: the fractional day-only
// rule does not apply, day is refused, quantities keep to the pair's
// minimum and increment.
func TestCryptoOrderRules(t *testing.T) {
	e := cryptoEnv(t)
	e.quote("BTC/USD", "80000", "80010")
	for _, c := range []struct {
		r   match.OrderRequest
		msg string
	}{
		{match.OrderRequest{Symbol: "BTC/USD", Side: match.Buy, Type: match.Market, TimeInForce: match.Day, Qty: dec("0.01")}, "invalid crypto time_in_force"},
		{cryptoOrder(match.Stop, match.Buy, "0.01", ""), "stop_price is required for stop orders"},
		{cryptoOrder(match.Market, match.Buy, "0.00005", ""), "qty must be >= 0.0001"},
	} {
		if err := e.submitErr(c.r); err == nil || err.Message != c.msg {
			t.Errorf("%+v: %v, want %q", c.r, err, c.msg)
		}
	}
	r := cryptoOrder(match.Stop, match.Buy, "0.01", "")
	r.StopPrice = dec("90000")
	if err := e.submitErr(r); err == nil || err.Message != "invalid order type for crypto order" {
		t.Errorf("stop: %v", err)
	}
	e.mustSubmit(cryptoOrder(match.Market, match.Buy, "0.0123456", ""))
	e.check()
}
