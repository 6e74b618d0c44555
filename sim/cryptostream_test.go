package sim_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/quantum-alpaca/quantum/internal/simtest"
	"github.com/quantum-alpaca/quantum/sim"
)

// The crypto websocket speaks Alpaca's protocol: connected, auth,
// subscribe with its echo, a full order book first, and when a minute
// ends its trades, bar (the one REST serves), the new quote and the book.
func TestCryptoStream(t *testing.T) {
	srv := simtest.Start(t, sim.Config{Seed: 9, Session: sim.NYSE{}, Clock: sim.NewSteppedClock(cryptoDataAt)})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // a safety net only
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/v1beta3/crypto/us", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	read := func() []map[string]any {
		t.Helper()
		_, b, err := ws.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var out []map[string]any
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		return out
	}
	send := func(v any) {
		b, _ := json.Marshal(v)
		if err := ws.Write(ctx, websocket.MessageText, b); err != nil {
			t.Fatal(err)
		}
	}
	if m := read(); m[0]["T"] != "success" || m[0]["msg"] != "connected" {
		t.Fatalf("first: %v", m)
	}
	send(map[string]any{"action": "subscribe", "trades": []string{"BTC/USD"}})
	if m := read(); m[0]["T"] != "error" || m[0]["code"] != 401.0 {
		t.Fatalf("subscribe before auth: %v", m)
	}
	send(map[string]any{"action": "auth", "key": "PKCRYPTOWS", "secret": "crypto-secret-0123456789"})
	if m := read(); m[0]["msg"] != "authenticated" {
		t.Fatalf("auth: %v", m)
	}
	send(map[string]any{"action": "subscribe", "trades": []string{"BTC/USD"}, "bars": []string{"BTCUSD"},
		"quotes": []string{"BTC/USD"}, "orderbooks": []string{"BTC/USD"}})
	echo := read()[0]
	if echo["T"] != "subscription" || len(echo["bars"].([]any)) != 1 || echo["bars"].([]any)[0] != "BTC/USD" || len(echo["dailyBars"].([]any)) != 0 {
		t.Fatalf("echo: %v", echo)
	}
	if m := read(); m[0]["T"] != "o" || m[0]["r"] != true {
		t.Fatalf("first book: %v", m)
	}

	if _, err := srv.AdvanceClock(ctx, cryptoDataAt.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	var bar map[string]any
	for _, m := range read() {
		kinds[m["T"].(string)]++
		if m["S"] != "BTC/USD" {
			t.Errorf("message for %v", m["S"])
		}
		if m["T"] == "b" {
			bar = m
		}
	}
	if kinds["t"] < 1 || kinds["b"] != 1 || kinds["q"] != 1 || kinds["o"] != 1 {
		t.Fatalf("minute's messages: %v", kinds)
	}
	c := cryptoClient{t, srv.URL, "PKCRYPTOWS"}
	var rest struct {
		Bars map[string][]map[string]any `json:"bars"`
	}
	c.json("GET", "/v1beta3/crypto/us/bars?symbols=BTC/USD&timeframe=1Min&start=2026-11-15T14:30:00Z&end=2026-11-15T14:30:00Z", "", 200, &rest)
	want := rest.Bars["BTC/USD"][0]
	for _, k := range []string{"t", "o", "h", "l", "c", "v", "n", "vw"} {
		if bar[k] != want[k] {
			t.Errorf("bar %s: stream %v, REST %v", k, bar[k], want[k])
		}
	}
}

// With Content-Type application/msgpack (the official Go SDK) frames are
// msgpack arrays of maps whose first key is T.
func TestCryptoStreamMsgpack(t *testing.T) {
	srv := simtest.Start(t, sim.Config{Seed: 9, Clock: sim.NewSteppedClock(cryptoDataAt)})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // a safety net only
	defer cancel()
	h := http.Header{}
	h.Set("Content-Type", "application/msgpack")
	h.Set("APCA-API-KEY-ID", "PKCRYPTOMP")
	h.Set("APCA-API-SECRET-KEY", "crypto-mp-secret-0123456")
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/v1beta3/crypto/us", &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	read := func() []map[string]any {
		t.Helper()
		typ, b, err := ws.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if typ != websocket.MessageBinary {
			t.Fatalf("frame type %v", typ)
		}
		// The first key of each map is T.
		dec := msgpack.NewDecoder(strings.NewReader(string(b)))
		n, err := dec.DecodeArrayLen()
		if err != nil {
			t.Fatal(err)
		}
		var out []map[string]any
		for range n {
			if _, err := dec.DecodeMapLen(); err != nil {
				t.Fatal(err)
			}
			if k, _ := dec.DecodeString(); k != "T" {
				t.Fatalf("first key %q", k)
			}
		}
		if err := msgpack.Unmarshal(b, &out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	if m := read(); m[0]["msg"] != "connected" {
		t.Fatalf("%v", m)
	}
	if m := read(); m[0]["msg"] != "authenticated" {
		t.Fatalf("%v", m)
	}
	b, _ := msgpack.Marshal(map[string]any{"action": "subscribe", "quotes": []string{"ETH/USD"}})
	if err := ws.Write(ctx, websocket.MessageBinary, b); err != nil {
		t.Fatal(err)
	}
	if m := read(); m[0]["T"] != "subscription" {
		t.Fatalf("%v", m)
	}
	if _, err := srv.AdvanceClock(ctx, cryptoDataAt.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	m := read()
	if len(m) != 1 || m[0]["T"] != "q" || m[0]["S"] != "ETH/USD" {
		t.Fatalf("quote: %v", m)
	}
	if _, ok := m[0]["t"].(time.Time); !ok {
		t.Errorf("t is %T, want a msgpack timestamp", m[0]["t"])
	}
}
