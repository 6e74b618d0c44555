package market_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"

	"github.com/quantum-alpaca/quantum/sim/market"
)

// wsClient is a raw websocket client speaking JSON or msgpack.
type wsClient struct {
	tb   testing.TB
	conn *websocket.Conn
	mp   bool
}

func onlyKS(key, secret string) bool { return key == "k" && secret == "s" }

func dialStream(tb testing.TB, h *harness, path string, mp bool, hdr http.Header) *wsClient {
	tb.Helper()
	if hdr == nil {
		hdr = http.Header{}
	}
	if mp {
		hdr.Set("Content-Type", "application/msgpack")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(h.srv.URL, "http")+path, &websocket.DialOptions{HTTPHeader: hdr})
	if err != nil {
		tb.Fatal(err)
	}
	conn.SetReadLimit(-1)
	tb.Cleanup(func() { _ = conn.CloseNow() })
	return &wsClient{tb: tb, conn: conn, mp: mp}
}

func (c *wsClient) send(v any) {
	c.tb.Helper()
	var data []byte
	var err error
	typ := websocket.MessageText
	if c.mp {
		data, err = msgpack.Marshal(v)
		typ = websocket.MessageBinary
	} else {
		data, err = json.Marshal(v)
	}
	if err != nil {
		c.tb.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.conn.Write(ctx, typ, data); err != nil {
		c.tb.Fatal(err)
	}
}

func (c *wsClient) readRaw() ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	typ, data, err := c.conn.Read(ctx)
	if err == nil {
		if want := map[bool]websocket.MessageType{false: websocket.MessageText, true: websocket.MessageBinary}[c.mp]; typ != want {
			c.tb.Fatalf("frame type %v, want %v", typ, want)
		}
	}
	return data, err
}

// read returns the next frame's messages, checking that each map's first
// key is "T" (the official SDK's requirement).
func (c *wsClient) read() []map[string]any {
	c.tb.Helper()
	data, err := c.readRaw()
	if err != nil {
		c.tb.Fatal(err)
	}
	return c.decode(data)
}

func (c *wsClient) decode(data []byte) []map[string]any {
	c.tb.Helper()
	var msgs []map[string]any
	if !c.mp {
		if err := json.Unmarshal(data, &msgs); err != nil {
			c.tb.Fatalf("frame %s: %v", data, err)
		}
		for i, raw := range splitJSONArray(c.tb, data) {
			if !bytes.HasPrefix(raw, []byte(`{"T":`)) {
				c.tb.Fatalf("message %d does not start with T: %s", i, raw)
			}
		}
		return msgs
	}
	d := msgpack.NewDecoder(bytes.NewReader(data))
	n, err := d.DecodeArrayLen()
	if err != nil {
		c.tb.Fatal(err)
	}
	for range n {
		nk, err := d.DecodeMapLen()
		if err != nil {
			c.tb.Fatal(err)
		}
		m := map[string]any{}
		for k := range nk {
			key, err := d.DecodeString()
			if err != nil {
				c.tb.Fatal(err)
			}
			if k == 0 && key != "T" {
				c.tb.Fatalf("first key %q", key)
			}
			if key == "t" && k > 0 {
				code, _ := d.PeekCode()
				if !msgpcode.IsExt(code) {
					c.tb.Fatalf("timestamp is not an extension (code %x)", code)
				}
			}
			v, err := d.DecodeInterface()
			if err != nil {
				c.tb.Fatal(err)
			}
			m[key] = v
		}
		msgs = append(msgs, m)
	}
	return msgs
}

func splitJSONArray(tb testing.TB, data []byte) []json.RawMessage {
	var raws []json.RawMessage
	if err := json.Unmarshal(data, &raws); err != nil {
		tb.Fatal(err)
	}
	return raws
}

// expect reads one frame and requires it to be exactly want (JSON).
func (c *wsClient) expect(want string) {
	c.tb.Helper()
	data, err := c.readRaw()
	if err != nil {
		c.tb.Fatal(err)
	}
	if c.mp {
		var got, w any
		_ = msgpack.Unmarshal(data, &got)
		_ = json.Unmarshal([]byte(want), &w)
		gj, _ := json.Marshal(got)
		wj, _ := json.Marshal(w)
		if !bytes.Equal(gj, wj) {
			c.tb.Fatalf("got %s, want %s", gj, wj)
		}
		c.decode(data) // key order
		return
	}
	if string(data) != want {
		c.tb.Fatalf("got %s, want %s", data, want)
	}
}

const (
	msgConnected     = `[{"T":"success","msg":"connected"}]`
	msgAuthenticated = `[{"T":"success","msg":"authenticated"}]`
)

// readData reads frames until one holds data messages and returns them.
func (c *wsClient) readData() []map[string]any {
	c.tb.Helper()
	for {
		msgs := c.read()
		if len(msgs) > 0 && msgs[0]["T"] != "subscription" && msgs[0]["T"] != "success" {
			return msgs
		}
	}
}

func TestStream(t *testing.T) {
	for _, mp := range []bool{false, true} {
		name := "JSON"
		if mp {
			name = "Msgpack"
		}
		t.Run(name, func(t *testing.T) {
			// Every tick is queued for the connection, which filters it
			// when it writes: the buffer holds the 600 ticks stepped at
			// once below, however far the writer lags behind under load.
			h := MustHarness(t, market.Config{HistoryDays: 1, Auth: onlyKS, StreamBuffer: 1024})
			c := dialStream(t, h, "/v2/iex", mp, nil)
			c.expect(msgConnected)

			c.send(map[string]any{"action": "subscribe", "trades": []string{"AAPL"}})
			c.expect(`[{"T":"error","code":401,"msg":"not authenticated"}]`)
			c.send(map[string]any{"action": "auth", "key": "k", "secret": "wrong"})
			c.expect(`[{"T":"error","code":402,"msg":"auth failed"}]`)
			c.send(map[string]any{"action": "dance"})
			c.expect(`[{"T":"error","code":400,"msg":"invalid syntax"}]`)
			if !mp {
				if err := c.conn.Write(context.Background(), websocket.MessageText, []byte("{nope")); err != nil {
					t.Fatal(err)
				}
				c.expect(`[{"T":"error","code":400,"msg":"invalid syntax"}]`)
			}
			c.send(map[string]any{"action": "auth", "key": "k", "secret": "s"})
			c.expect(msgAuthenticated)
			c.send(map[string]any{"action": "auth", "key": "k", "secret": "s"})
			c.expect(`[{"T":"error","code":403,"msg":"already authenticated"}]`)

			c.send(map[string]any{"action": "subscribe", "trades": []string{"AAPL"}, "quotes": []string{"*"}, "bars": []string{"AAPL", "MSFT"}, "dailyBars": []string{"SPY"}, "orderbooks": []string{}})
			c.expect(`[{"T":"subscription","trades":["AAPL"],"quotes":["*"],"bars":["AAPL","MSFT"],"updatedBars":[],"dailyBars":["SPY"],"statuses":[],"lulds":[],"corrections":["AAPL"],"cancelErrors":["AAPL"]}]`)

			// One step: quotes for every listed symbol but the test one,
			// trades for AAPL only.
			h.step(1, 100*time.Millisecond)
			msgs := c.readData()
			quotes := map[string]bool{}
			for _, m := range msgs {
				switch m["T"] {
				case "q":
					quotes[m["S"].(string)] = true
					for _, k := range []string{"bx", "bp", "bs", "ax", "ap", "as", "c", "t", "z"} {
						if _, ok := m[k]; !ok {
							t.Fatalf("quote lacks %s: %v", k, m)
						}
					}
				case "t":
					if m["S"] != "AAPL" {
						t.Fatalf("unsubscribed trade %v", m)
					}
				default:
					t.Fatalf("unexpected %v", m)
				}
			}
			if len(quotes) != len(h.m.Symbols())-1 || quotes[market.TestSymbol] {
				t.Fatalf("quotes for %d symbols (%v)", len(quotes), quotes)
			}

			// Narrow to AAPL quotes, then cross a minute: bars arrive.
			c.send(map[string]any{"action": "unsubscribe", "quotes": []string{"*"}, "trades": []string{"AAPL"}})
			c.expect(`[{"T":"subscription","trades":[],"quotes":[],"bars":["AAPL","MSFT"],"updatedBars":[],"dailyBars":["SPY"],"statuses":[],"lulds":[],"corrections":[],"cancelErrors":[]}]`)
			h.step(600, 100*time.Millisecond)
			msgs = c.readData()
			kinds := map[string]int{}
			for _, m := range msgs {
				kinds[m["T"].(string)+":"+m["S"].(string)]++
				if m["T"] == "b" {
					for _, k := range []string{"o", "h", "l", "c", "v", "n", "vw", "t"} {
						if _, ok := m[k]; !ok {
							t.Fatalf("bar lacks %s: %v", k, m)
						}
					}
				}
			}
			if kinds["b:AAPL"] != 1 || kinds["b:MSFT"] != 1 || kinds["d:SPY"] != 1 || len(kinds) != 3 {
				t.Fatalf("after a minute: %v", kinds)
			}
		})
	}
}

func TestStreamHeaderAuth(t *testing.T) {
	h := MustHarness(t, market.Config{HistoryDays: 1, Auth: onlyKS})
	hdr := http.Header{}
	hdr.Set("APCA-API-KEY-ID", "k")
	hdr.Set("APCA-API-SECRET-KEY", "s")
	c := dialStream(t, h, "/v2/sip", true, hdr)
	c.expect(msgConnected)
	c.expect(msgAuthenticated)
	c.send(map[string]any{"action": "subscribe", "quotes": []string{"TSLA"}})
	c.read()
	h.step(1, time.Second)
	if msgs := c.readData(); len(msgs) != 1 || msgs[0]["S"] != "TSLA" {
		t.Fatalf("got %v", msgs)
	}

	bad := http.Header{}
	bad.Set("APCA-API-KEY-ID", "k")
	bad.Set("APCA-API-SECRET-KEY", "nope")
	c = dialStream(t, h, "/v2/sip", false, bad)
	c.expect(msgConnected)
	c.expect(`[{"T":"error","code":402,"msg":"auth failed"}]`)
}

func TestStreamAuthTimeout(t *testing.T) {
	h := MustHarness(t, market.Config{HistoryDays: 1, AuthTimeout: 100 * time.Millisecond})
	c := dialStream(t, h, "/v2/iex", false, nil)
	c.expect(msgConnected)
	c.expect(`[{"T":"error","code":404,"msg":"auth timeout"}]`)
	if _, err := c.readRaw(); err == nil {
		t.Fatal("connection still open after auth timeout")
	}
}

func TestStreamAuthFailuresDisconnect(t *testing.T) {
	h := MustHarness(t, market.Config{HistoryDays: 1, Auth: onlyKS})
	c := dialStream(t, h, "/v2/iex", false, nil)
	c.expect(msgConnected)
	for range 3 {
		c.send(map[string]any{"action": "auth", "key": "x", "secret": "y"})
		c.expect(`[{"T":"error","code":402,"msg":"auth failed"}]`)
	}
	if _, err := c.readRaw(); err == nil {
		t.Fatal("connection open after three failed logins")
	}
}

func TestStreamTestFeed(t *testing.T) {
	h := MustHarness(t, market.Config{HistoryDays: 1})
	c := dialStream(t, h, "/v2/test", false, nil)
	c.expect(msgConnected)
	c.send(map[string]any{"action": "auth", "key": "a", "secret": "b"})
	c.expect(msgAuthenticated)
	c.send(map[string]any{"action": "subscribe", "quotes": []string{"*"}, "trades": []string{"FAKEPACA", "AAPL"}})
	c.read()
	for range 3 {
		h.step(1, 100*time.Millisecond)
		for _, m := range c.readData() {
			if m["S"] != market.TestSymbol {
				t.Fatalf("test feed sent %v", m)
			}
		}
	}
}

func TestStreamSlowClient(t *testing.T) {
	h := MustHarness(t, market.Config{HistoryDays: 1, StreamBuffer: 4})
	c := dialStream(t, h, "/v2/iex", false, nil)
	c.expect(msgConnected)
	c.send(map[string]any{"action": "auth", "key": "a", "secret": "b"})
	c.expect(msgAuthenticated)
	c.send(map[string]any{"action": "subscribe", "quotes": []string{"*"}, "trades": []string{"*"}})
	c.read()

	// The client stops reading; the ticker must keep its pace.
	start := time.Now()
	h.step(4000, 100*time.Millisecond)
	if d := time.Since(start); d > 60*time.Second {
		t.Fatalf("stepping took %v: blocked on the slow client?", d)
	}
	var last []byte
	for {
		data, err := c.readRaw()
		if err != nil {
			break
		}
		last = data
	}
	if string(last) != `[{"T":"error","code":407,"msg":"slow client"}]` {
		t.Fatalf("last frame before disconnect: %.200s", last)
	}
}

func TestCloseDisconnectsStreams(t *testing.T) {
	h := MustHarness(t, market.Config{HistoryDays: 1})
	c := dialStream(t, h, "/v2/iex", false, nil)
	c.expect(msgConnected)
	done := make(chan struct{})
	go func() {
		_ = h.m.Close()
		close(done)
	}()
	_, err := c.readRaw()
	if websocket.CloseStatus(err) != websocket.StatusGoingAway {
		t.Fatalf("read after Close: %v", err)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return")
	}
	// New connections are refused.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(h.srv.URL, "http")+"/v2/iex", nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("dial after Close: %v", errors.Join(err))
	}
}
