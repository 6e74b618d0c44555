package stream_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/coder/websocket"
	"github.com/vmihailenco/msgpack/v5"
)

// fakeTradeSocket serves the trade_updates websocket at /stream. It does
// not replay: a connection sees events published while it is listening.
type fakeTradeSocket struct {
	t      testing.TB
	mu     sync.Mutex
	conns  map[*websocket.Conn]bool // value: msgpack
	noPong bool                     // stop reading after listen, so pings go unanswered
}

func newFakeTradeSocket(t testing.TB) *fakeTradeSocket {
	return &fakeTradeSocket{t: t, conns: map[*websocket.Conn]bool{}}
}

func (f *fakeTradeSocket) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer c.CloseNow()
	useMsgpack := r.Header.Get("Content-Type") == "application/msgpack"
	ctx := r.Context()
	send := func(v any) error {
		// The paper server sends JSON in binary frames; do the same.
		var b []byte
		if useMsgpack {
			b, _ = msgpack.Marshal(v)
		} else {
			b, _ = json.Marshal(v)
		}
		return c.Write(ctx, websocket.MessageBinary, b)
	}
	var authed bool
	for {
		_, msg, err := c.Read(ctx)
		if err != nil {
			return
		}
		var req struct {
			Action string `json:"action" msgpack:"action"`
			Data   struct {
				KeyID     string   `json:"key_id" msgpack:"key_id"`
				SecretKey string   `json:"secret_key" msgpack:"secret_key"`
				Streams   []string `json:"streams" msgpack:"streams"`
			} `json:"data" msgpack:"data"`
		}
		if err := decodeEither(msg, &req); err != nil {
			f.t.Errorf("fake trade socket: bad request %q: %v", msg, err)
			return
		}
		switch req.Action {
		case "authenticate":
			authed = req.Data.KeyID == testKey && req.Data.SecretKey == testSecret
			status := "authorized"
			if !authed {
				status = "unauthorized"
			}
			data := map[string]any{"action": "authenticate", "status": status}
			if !authed {
				data["message"] = "access key verification failed"
			}
			if send(map[string]any{"stream": "authorization", "data": data}) != nil || !authed {
				return
			}
		case "listen":
			if !authed {
				send(map[string]any{"stream": "authorization", "data": map[string]any{"action": "listen", "status": "unauthorized"}})
				return
			}
			// Registered before the ack, so a client that has the ack
			// gets everything published after it.
			f.mu.Lock()
			f.conns[c] = useMsgpack
			f.mu.Unlock()
			defer func() {
				f.mu.Lock()
				delete(f.conns, c)
				f.mu.Unlock()
			}()
			if send(map[string]any{"stream": "listening", "data": map[string]any{"streams": req.Data.Streams}}) != nil {
				return
			}
			if f.noPong {
				<-ctx.Done()
				return
			}
		}
	}
}

// publish sends updates to every listening connection.
func (f *fakeTradeSocket) publish(from, to int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for c, useMsgpack := range f.conns {
		for n := from; n <= to; n++ {
			frame := map[string]any{"stream": "trade_updates", "data": testUpdate(n)}
			var b []byte
			if useMsgpack {
				// Through JSON first, so the msgpack map carries the same
				// keys and string decimals a real server would send.
				j, _ := json.Marshal(frame)
				var v map[string]any
				json.Unmarshal(j, &v)
				b, _ = msgpack.Marshal(v)
			} else {
				b, _ = json.Marshal(frame)
			}
			c.Write(context.Background(), websocket.MessageBinary, b)
		}
	}
}

func (f *fakeTradeSocket) dropAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for c := range f.conns {
		c.CloseNow()
	}
}

// fakeMarketData serves the market-data websocket at /v2/{feed}.
type fakeMarketData struct {
	t  testing.TB
	mu sync.Mutex
	// current subscription per connection; requests as received, in order
	conns    map[*websocket.Conn]*fakeMDConn
	requests []map[string]any
	raw      [][]byte // the requests' bytes, as received

	authErrCode  int // reply to auth with this error code
	authErrTimes int // ... this many times (0 with a code: always)
	rejectSymbol string
	rejectCode   int
	connections  int
}

type fakeMDConn struct {
	c       *websocket.Conn
	msgpack bool
	subs    map[string]map[string]bool
}

func newFakeMarketData(t testing.TB) *fakeMarketData {
	return &fakeMarketData{t: t, conns: map[*websocket.Conn]*fakeMDConn{}}
}

var fakeMDChannels = []string{"trades", "quotes", "bars", "dailyBars", "updatedBars"}

// The crypto stream has one channel more, which its echo always names.
var fakeCryptoChannels = append(slices.Clip(fakeMDChannels), "orderbooks")

func (f *fakeMarketData) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer c.CloseNow()
	c.SetReadLimit(1 << 20)
	ctx := r.Context()
	fc := &fakeMDConn{c: c, msgpack: r.Header.Get("Content-Type") == "application/msgpack", subs: map[string]map[string]bool{}}
	channels := fakeMDChannels
	if strings.HasPrefix(r.URL.Path, "/v1beta3/crypto/") {
		channels = fakeCryptoChannels
	}
	for _, ch := range channels {
		fc.subs[ch] = map[string]bool{}
	}
	f.mu.Lock()
	f.connections++
	f.mu.Unlock()
	if fc.write(ctx, map[string]any{"T": "success", "msg": "connected"}) != nil {
		return
	}
	for {
		_, msg, err := c.Read(ctx)
		if err != nil {
			return
		}
		var req map[string]any
		if err := decodeEither(msg, &req); err != nil {
			f.t.Errorf("fake market data: bad request %q: %v", msg, err)
			return
		}
		f.mu.Lock()
		f.requests = append(f.requests, req)
		f.raw = append(f.raw, slices.Clone(msg))
		f.mu.Unlock()
		switch req["action"] {
		case "auth":
			f.mu.Lock()
			code := f.authErrCode
			if code != 0 && f.authErrTimes > 0 {
				f.authErrTimes--
				if f.authErrTimes == 0 {
					f.authErrCode = 0
				}
			}
			f.mu.Unlock()
			if code == 0 && (req["key"] != testKey || req["secret"] != testSecret) {
				code = 402
			}
			if code != 0 {
				fc.write(ctx, map[string]any{"T": "error", "code": code, "msg": fmt.Sprintf("error %d", code)})
				return
			}
			f.mu.Lock()
			f.conns[c] = fc
			f.mu.Unlock()
			defer func() {
				f.mu.Lock()
				delete(f.conns, c)
				f.mu.Unlock()
			}()
			if fc.write(ctx, map[string]any{"T": "success", "msg": "authenticated"}) != nil {
				return
			}
		case "subscribe", "unsubscribe":
			f.mu.Lock()
			reject := f.rejectSymbol
			rejectCode := f.rejectCode
			f.mu.Unlock()
			rejected := false
			for _, ch := range channels {
				list, _ := req[ch].([]any)
				for _, s := range list {
					if s == reject && req["action"] == "subscribe" {
						rejected = true
					}
				}
			}
			if rejected {
				fc.write(ctx, map[string]any{"T": "error", "code": rejectCode, "msg": "rejected"})
				continue
			}
			echo := map[string]any{"T": "subscription"}
			f.mu.Lock()
			for _, ch := range channels {
				list, _ := req[ch].([]any)
				for _, s := range list {
					if req["action"] == "subscribe" {
						fc.subs[ch][s.(string)] = true
					} else {
						delete(fc.subs[ch], s.(string))
					}
				}
				syms := []string{}
				for s := range fc.subs[ch] {
					syms = append(syms, s)
				}
				slices.Sort(syms)
				echo[ch] = syms
			}
			f.mu.Unlock()
			if fc.write(ctx, echo) != nil {
				return
			}
		}
	}
}

// write sends messages as one array frame in the connection's codec.
func (fc *fakeMDConn) write(ctx context.Context, msgs ...map[string]any) error {
	var b []byte
	if fc.msgpack {
		b, _ = msgpack.Marshal(msgs)
		return fc.c.Write(ctx, websocket.MessageBinary, b)
	}
	b, _ = json.Marshal(msgs)
	return fc.c.Write(ctx, websocket.MessageText, b)
}

// push sends one frame of messages to every authenticated connection.
func (f *fakeMarketData) push(msgs ...map[string]any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, fc := range f.conns {
		fc.write(context.Background(), msgs...)
	}
}

func (f *fakeMarketData) dropAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for c := range f.conns {
		c.CloseNow()
	}
}

func (f *fakeMarketData) subscribeRequests() []map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []map[string]any
	for _, r := range f.requests {
		if r["action"] != "auth" {
			out = append(out, r)
		}
	}
	return out
}

// rawSubscribeRequests returns the bytes of the requests other than auth.
func (f *fakeMarketData) rawSubscribeRequests() [][]byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out [][]byte
	for i, r := range f.requests {
		if r["action"] != "auth" {
			out = append(out, f.raw[i])
		}
	}
	return out
}

// decodeEither decodes a JSON or msgpack request, telling them apart the
// way the client does.
func decodeEither(msg []byte, v any) error {
	if b := bytes.TrimSpace(msg); len(b) > 0 && (b[0] == '{' || b[0] == '[') {
		return json.Unmarshal(b, v)
	}
	return msgpack.Unmarshal(msg, v)
}
