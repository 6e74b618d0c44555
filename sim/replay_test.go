package sim_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/shopspring/decimal"

	"github.com/quantum-alpaca/quantum/alpaca"
	"github.com/quantum-alpaca/quantum/internal/simtest"
	"github.com/quantum-alpaca/quantum/sim"
	"github.com/quantum-alpaca/quantum/sim/market"
)

// replayStart is 09:30 New York on a Tuesday.
var replayStart = time.Date(2024, 1, 2, 14, 30, 0, 0, time.UTC)

// replayBars records n minutes of a symbol from replayStart, closing at
// closes[k] (sub-penny on purpose) with the other prices around it.
func replayBars(closes []float64) []alpaca.Bar {
	out := make([]alpaca.Bar, len(closes))
	for k, c := range closes {
		out[k] = alpaca.Bar{Timestamp: replayStart.Add(time.Duration(k) * time.Minute),
			Open: c - 0.05, High: c + 0.2, Low: c - 0.3, Close: c, Volume: 5000 + uint64(k), TradeCount: 40, VWAP: c - 0.0123}
	}
	return out
}

// replayClient talks to a broker over TCP with one account's keys.
type replayClient struct {
	t    *testing.T
	base string
}

func (c replayClient) do(method, path string, body any, out any) int {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = strings.NewReader(string(b))
	}
	req, _ := http.NewRequest(method, c.base+path, rd)
	req.Header.Set("APCA-API-KEY-ID", "PKREPLAY")
	req.Header.Set("APCA-API-SECRET-KEY", "secret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(data, out); err != nil {
			c.t.Fatalf("%s %s: %s: %v", method, path, data, err)
		}
	}
	if resp.StatusCode >= 300 && out != nil {
		c.t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, data)
	}
	return resp.StatusCode
}

type clockReply struct {
	Now     time.Time
	Stepped bool
}

func (c replayClient) advance(d string) time.Time {
	c.t.Helper()
	var r clockReply
	c.do("POST", "/sim/v1/clock", map[string]string{"advance": d}, &r)
	return r.Now
}

func (c replayClient) order(req map[string]any) alpaca.Order {
	c.t.Helper()
	var o alpaca.Order
	c.do("POST", "/v2/orders", req, &o)
	return o
}

// A stepped replay: each advance publishes the recorded bar of the minute
// that ended (REST latest bar, the websocket bars channel), nothing after
// the clock is served, a market buy fills at the ask derived from the last
// close, and a resting limit order is filled by the quote of the minute
// it crosses before the advance answers.
func TestReplaySteppedClock(t *testing.T) {
	closes := []float64{185.6351, 185.80, 185.12, 184.50, 186.00}
	aapl := replayBars(closes)
	acme := replayBars([]float64{12.345, 12.40})
	clk := sim.NewSteppedClock(replayStart)
	b := simtest.Start(t, sim.Config{Recorded: map[string][]alpaca.Bar{"AAPL": aapl, "ACME": acme}, Clock: clk})
	c := replayClient{t: t, base: b.URL}

	var rc clockReply
	c.do("GET", "/sim/v1/clock", nil, &rc)
	if !rc.Now.Equal(replayStart) || !rc.Stepped {
		t.Fatalf("clock = %+v", rc)
	}
	var asset alpaca.Asset
	c.do("GET", "/v2/assets/ACME", nil, &asset)
	if !asset.Tradable || asset.Symbol != "ACME" {
		t.Fatalf("asset = %+v", asset)
	}
	if st := c.do("GET", "/v2/assets/MSFT", nil, nil); st != 404 {
		t.Fatalf("MSFT, not recorded, is an asset: %d", st)
	}
	if st := c.do("GET", "/v2/stocks/AAPL/bars/latest", nil, nil); st != 404 {
		t.Fatalf("a latest bar before any recorded bar ended: %d", st)
	}

	ws := dialMarket(t, b.URL)
	ws.send(t, map[string]any{"action": "subscribe", "bars": []string{"AAPL"}})
	ws.until(t, "subscription")

	var limitID string
	for k := range closes {
		now := c.advance("1m")
		if want := replayStart.Add(time.Duration(k+1) * time.Minute); !now.Equal(want) {
			t.Fatalf("advance %d: now %s, want %s", k, now, want)
		}
		var lb struct{ Bar alpaca.Bar }
		c.do("GET", "/v2/stocks/AAPL/bars/latest", nil, &lb)
		if !reflect.DeepEqual(lb.Bar, aapl[k]) {
			t.Fatalf("minute %d: latest bar %+v, want %+v", k, lb.Bar, aapl[k])
		}
		var bars struct{ Bars []alpaca.Bar }
		c.do("GET", "/v2/stocks/AAPL/bars?timeframe=1Min&start=2024-01-02&end=2024-01-03", nil, &bars)
		if !reflect.DeepEqual(bars.Bars, aapl[:k+1]) {
			t.Fatalf("minute %d: bars up to the clock: got %d bars, want %d", k, len(bars.Bars), k+1)
		}
		var trades struct{ Trades []alpaca.Trade }
		c.do("GET", "/v2/stocks/AAPL/trades?start=2024-01-02&end=2024-01-03&limit=10000", nil, &trades)
		if n := len(trades.Trades); n == 0 || !trades.Trades[n-1].Timestamp.Before(now) {
			t.Fatalf("minute %d: trades run up to %v, clock %s", k, trades.Trades, now)
		}
		msg := ws.until(t, "b")
		if msg["S"] != "AAPL" || msg["t"] != aapl[k].Timestamp.Format(time.RFC3339) || msg["c"] != closes[k] {
			t.Fatalf("minute %d: streamed bar %v, want %+v", k, msg, aapl[k])
		}

		bid, ask := market.QuoteAtClose(closes[k], market.RecordedSpread("AAPL", closes[k]))
		var lq struct{ Quote alpaca.Quote }
		c.do("GET", "/v2/stocks/AAPL/quotes/latest", nil, &lq)
		if lq.Quote.BidPrice != bid || lq.Quote.AskPrice != ask {
			t.Fatalf("minute %d: quote %v/%v, want %v/%v", k, lq.Quote.BidPrice, lq.Quote.AskPrice, bid, ask)
		}
		switch k {
		case 0:
			o := c.order(map[string]any{"symbol": "AAPL", "qty": "1", "side": "buy", "type": "market", "time_in_force": "day"})
			if o.Status != alpaca.StatusFilled || !o.FilledAvgPrice.Equal(decimal.NewFromFloat(ask)) {
				t.Fatalf("market buy: status %s at %v, want filled at the ask %v", o.Status, o.FilledAvgPrice, ask)
			}
			if !o.FilledAt.Equal(now) {
				t.Fatalf("filled at %v, want the replay clock %s", o.FilledAt, now)
			}
		case 1:
			// Resting: the ask now is 185.81; minute 2 closes at 185.12.
			o := c.order(map[string]any{"symbol": "AAPL", "qty": "1", "side": "buy", "type": "limit", "limit_price": "185.50", "time_in_force": "day"})
			if o.Status != alpaca.StatusNew {
				t.Fatalf("limit buy under the ask: %s", o.Status)
			}
			limitID = o.ID
		case 2:
			var o alpaca.Order
			c.do("GET", "/v2/orders/"+limitID, nil, &o)
			if o.Status != alpaca.StatusFilled || !o.FilledAvgPrice.Equal(decimal.NewFromFloat(ask)) || !o.FilledAt.Equal(now) {
				t.Fatalf("limit buy after the advance: %s at %v (%v), want filled at %v at %s", o.Status, o.FilledAvgPrice, o.FilledAt, ask, now)
			}
		}
	}

	// Past the recording the clock still moves; the last quote stays.
	now := c.advance("2h")
	if !now.Equal(replayStart.Add(time.Duration(len(closes))*time.Minute + 2*time.Hour)) {
		t.Fatalf("now %s", now)
	}
	var lb struct{ Bar alpaca.Bar }
	c.do("GET", "/v2/stocks/AAPL/bars/latest", nil, &lb)
	if !reflect.DeepEqual(lb.Bar, aapl[len(aapl)-1]) {
		t.Fatalf("latest bar after the recording: %+v", lb.Bar)
	}

	// The day ends as the clock passes New York midnight: a day order
	// expires then.
	day := c.order(map[string]any{"symbol": "AAPL", "qty": "1", "side": "buy", "type": "limit", "limit_price": "100", "time_in_force": "day"})
	var r clockReply
	c.do("POST", "/sim/v1/clock", map[string]string{"to": "2024-01-03T05:01:00Z"}, &r)
	var o alpaca.Order
	c.do("GET", "/v2/orders/"+day.ID, nil, &o)
	if o.Status != alpaca.StatusExpired || !r.Now.Equal(time.Date(2024, 1, 3, 5, 1, 0, 0, time.UTC)) {
		t.Fatalf("day order after midnight (clock %s): %s", r.Now, o.Status)
	}

	// Bad requests.
	for body, want := range map[string]int{
		`{"advance":"-1m"}`:             422,
		`{"to":"2024-01-01T00:00:00Z"}`: 422,
		`{}`:                            422,
		`{"advance":"1m","to":"2025-01-01T00:00:00Z"}`: 422,
		`{"to":"2300-01-01T00:00:00Z"}`:                422,
		`{"advance":1}`:                                400,
	} {
		req, _ := http.NewRequest("POST", b.URL+"/sim/v1/clock", strings.NewReader(body))
		req.Header.Set("APCA-API-KEY-ID", "PKREPLAY")
		req.Header.Set("APCA-API-SECRET-KEY", "secret")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("POST %s: %d, want %d", body, resp.StatusCode, want)
		}
	}
	resp, err := http.Post(b.URL+"/sim/v1/clock", "application/json", strings.NewReader(`{"advance":"1m"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("unauthenticated advance: %d", resp.StatusCode)
	}
}

// A running replay clock needs no driver; POST /sim/v1/clock is refused.
func TestReplayRunningClock(t *testing.T) {
	start := replayStart.Add(30 * time.Second)
	clk := sim.NewReplayClock(start, 600) // ten recorded minutes a second
	b := simtest.Start(t, sim.Config{Recorded: map[string][]alpaca.Bar{"AAPL": replayBars([]float64{100, 101, 102})}, Clock: clk})
	c := replayClient{t: t, base: b.URL}
	if _, err := b.AdvanceClock(context.Background(), start.Add(time.Hour)); !errors.Is(err, sim.ErrNotStepped) {
		t.Fatalf("AdvanceClock on a running clock: %v", err)
	}
	if st := c.do("POST", "/sim/v1/clock", map[string]string{"advance": "1m"}, nil); st != 409 {
		t.Fatalf("POST on a running clock: %d", st)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		var lb struct{ Bar alpaca.Bar }
		if c.do("GET", "/v2/stocks/AAPL/bars/latest", nil, nil) == 200 {
			c.do("GET", "/v2/stocks/AAPL/bars/latest", nil, &lb)
			if lb.Bar.Close == 102 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the running clock did not reach the last bar: clock %s", clk.Now())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// marketWS is a JSON market-data stream client.
type marketWS struct{ conn *websocket.Conn }

func dialMarket(t *testing.T, base string) *marketWS {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/v2/sip", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.CloseNow() })
	ws := &marketWS{conn: conn}
	ws.until(t, "success")
	ws.send(t, map[string]any{"action": "auth", "key": "PKREPLAY", "secret": "secret"})
	if m := ws.until(t, "success"); m["msg"] != "authenticated" {
		t.Fatalf("auth: %v", m)
	}
	return ws
}

func (ws *marketWS) send(t *testing.T, v any) {
	t.Helper()
	b, _ := json.Marshal(v)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := ws.conn.Write(ctx, websocket.MessageText, b); err != nil {
		t.Fatal(err)
	}
}

// until reads messages until one of type typ arrives.
func (ws *marketWS) until(t *testing.T, typ string) map[string]any {
	t.Helper()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, data, err := ws.conn.Read(ctx)
		cancel()
		if err != nil {
			t.Fatalf("waiting for %q: %v", typ, err)
		}
		var msgs []map[string]any
		if err := json.Unmarshal(data, &msgs); err != nil {
			t.Fatalf("frame %s: %v", data, err)
		}
		for _, m := range msgs {
			if m["T"] == typ {
				return m
			}
			if m["T"] == "error" {
				t.Fatalf("stream error: %v", m)
			}
		}
	}
}
