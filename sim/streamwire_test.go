package sim_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/quantum-alpaca/quantum/internal/simtest"
	"github.com/quantum-alpaca/quantum/sim"
)

var updateWire = flag.Bool("update", false, "rewrite testdata/streamwire.golden from what the streams send")

const wireGolden = "testdata/streamwire.golden"

// wireStream is one of the broker's market-data websockets.
type wireStream struct {
	name, path string
	// subs are subscribe and unsubscribe requests, each answered by
	// exactly one frame (the echo).
	subs []map[string]any
	// closesAfterAuthFailures: the third failed auth closes the
	// connection (stocks, news); crypto keeps it open.
	closesAfterAuthFailures bool
	// basic: HTTP Basic credentials of the upgrade authenticate
	// (stocks, news); crypto reads only the key headers.
	basic bool
}

var wireStreams = []wireStream{
	{name: "stocks", path: "/v2/iex", closesAfterAuthFailures: true, basic: true, subs: []map[string]any{
		{"action": "subscribe", "trades": []string{"AAPL"}, "quotes": []string{"*"}, "bars": []string{"AAPL", "MSFT"}, "dailyBars": []string{"SPY"}, "imbalances": []string{"AAPL"}},
		{"action": "unsubscribe", "trades": []string{"AAPL"}, "quotes": []string{"*"}, "imbalances": []string{"AAPL"}},
	}},
	{name: "news", path: "/v1beta1/news", closesAfterAuthFailures: true, basic: true, subs: []map[string]any{
		{"action": "subscribe", "news": []string{"AAPL", "TSLA"}},
		{"action": "subscribe", "news": []string{"*"}},
		{"action": "unsubscribe", "news": []string{"AAPL"}},
	}},
	{name: "crypto", path: "/v1beta3/crypto/us", subs: []map[string]any{
		{"action": "subscribe", "trades": []string{"BTC/USD"}, "quotes": []string{"ETH/USD"}, "bars": []string{"BTCUSD"}, "dailyBars": []string{"*"}},
		{"action": "unsubscribe", "trades": []string{"BTC/USD"}, "dailyBars": []string{"*"}},
	}},
}

const (
	wireKey    = "PKWIRE"
	wireSecret = "wire-secret-0123456789"
)

var (
	wireGoodAuth = map[string]any{"action": "auth", "key": wireKey, "secret": wireSecret}
	wireBadAuth  = map[string]any{"action": "auth", "key": wireKey, "secret": "wrong"}
)

// wireScenario is a conversation with one stream; what the stream sends
// is compared byte for byte with the golden transcript.
type wireScenario struct {
	name   string
	header func(ws wireStream) http.Header
	run    func(c *wireClient, ws wireStream)
	// slow: the scenario waits for the server's auth timeout (10 s).
	slow bool
}

func keyHeaders(key, secret string) func(wireStream) http.Header {
	return func(wireStream) http.Header {
		h := http.Header{}
		if key != "" {
			h.Set("APCA-API-KEY-ID", key)
		}
		if secret != "" {
			h.Set("APCA-API-SECRET-KEY", secret)
		}
		return h
	}
}

var wireScenarios = []wireScenario{
	{name: "session", run: func(c *wireClient, ws wireStream) {
		c.read(1) // connected
		c.send(ws.subs[0])
		c.read(1) // not authenticated
		c.send(wireBadAuth)
		c.read(1)
		c.send(map[string]any{"action": "dance"})
		c.read(1)
		c.sendRaw(websocket.MessageText, []byte("{nope"))
		c.read(1)
		c.sendRaw(websocket.MessageBinary, []byte{0xc1})
		c.read(1)
		c.send(wireGoodAuth)
		c.read(1)
		c.send(wireGoodAuth)
		c.read(1) // already authenticated
		for _, s := range ws.subs {
			c.send(s)
			c.read(1)
		}
	}},
	{name: "auth-failures", run: func(c *wireClient, ws wireStream) {
		c.read(1)
		for range 3 {
			c.send(wireBadAuth)
			c.read(1)
		}
		if ws.closesAfterAuthFailures {
			c.readClose()
			return
		}
		c.send(wireGoodAuth)
		c.read(1)
	}},
	{name: "header-auth", header: keyHeaders(wireKey, wireSecret), run: func(c *wireClient, ws wireStream) {
		c.read(2)
		c.send(ws.subs[0])
		c.read(1)
	}},
	{name: "header-bad-secret", header: keyHeaders(wireKey, "wrong"), run: func(c *wireClient, ws wireStream) {
		c.read(2)
		c.send(ws.subs[0])
		c.read(1)
	}},
	// Only a secret: stocks and news try it (and fail); crypto needs a key.
	{name: "header-secret-only", header: keyHeaders("", wireSecret), run: func(c *wireClient, ws wireStream) {
		if ws.closesAfterAuthFailures {
			c.read(2)
		} else {
			c.read(1)
		}
		c.send(ws.subs[0])
		c.read(1)
	}},
	{name: "basic-auth", header: func(wireStream) http.Header {
		h := http.Header{}
		h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(wireKey+":"+wireSecret)))
		return h
	}, run: func(c *wireClient, ws wireStream) {
		if ws.basic {
			c.read(2)
		} else {
			c.read(1)
		}
		c.send(wireGoodAuth)
		c.read(1)
	}},
	{name: "auth-timeout", slow: true, run: func(c *wireClient, ws wireStream) {
		c.read(1)
		c.readClose()
	}},
}

// TestStreamWire pins what the three market-data websockets (stocks,
// news, crypto) send, byte for byte and in both codecs: connected, auth
// success and failure (in-band, key headers, HTTP Basic), the errors
// with their key order (crypto: T, msg, code; the others T, code, msg),
// the subscription echo, and the close codes and reasons. It talks to a
// real broker over TCP. Run with -update to rewrite the golden file.
func TestStreamWire(t *testing.T) {
	// A Sunday: the stock market is closed, so no tick interleaves with
	// the replies; the stepped clock never moves, so neither crypto nor
	// news publish.
	at := time.Date(2026, 11, 15, 14, 30, 20, 0, time.UTC)
	b := simtest.Start(t, sim.Config{Seed: 3, Session: sim.NYSE{}, Clock: sim.NewSteppedClock(at),
		Credentials: []sim.Credential{{KeyID: wireKey, Secret: wireSecret}}})
	g := loadWireGolden(t)
	for _, ws := range wireStreams {
		for _, codec := range []string{"json", "msgpack"} {
			for _, sc := range wireScenarios {
				if sc.slow && codec == "msgpack" {
					continue // one codec is enough to wait 10 s for
				}
				name := ws.name + "/" + codec + "/" + sc.name
				t.Run(ws.name+"/"+codec+"/"+sc.name, func(t *testing.T) {
					if sc.slow {
						t.Parallel()
					}
					var hdr http.Header
					if sc.header != nil {
						hdr = sc.header(ws)
					}
					c := dialWire(t, b.URL+ws.path, codec == "msgpack", hdr)
					sc.run(c, ws)
					g.check(t, name, c.transcript.String())
				})
			}
		}
	}
	// A server shutting down closes the stock stream with 1001 "server
	// shutting down". (News and crypto also close with 1001, reason "",
	// but their reads end with the server too, which may drop the
	// connection first: not pinned.)
	t.Run("stocks/json/shutdown", func(t *testing.T) {
		b := simtest.Start(t, sim.Config{Seed: 3, Session: sim.NYSE{}, Clock: sim.NewSteppedClock(at),
			Credentials: []sim.Credential{{KeyID: wireKey, Secret: wireSecret}}})
		c := dialWire(t, b.URL+"/v2/iex", false, nil)
		c.read(1)
		closed := make(chan struct{})
		go func() {
			defer close(closed)
			_ = b.Close()
		}()
		c.readClose()
		<-closed
		g.check(t, "stocks/json/shutdown", c.transcript.String())
	})
}

// wireClient is a raw websocket client that writes down what it sends
// and receives.
type wireClient struct {
	t          *testing.T
	ctx        context.Context
	conn       *websocket.Conn
	mp         bool
	transcript strings.Builder
}

func dialWire(t *testing.T, url string, mp bool, hdr http.Header) *wireClient {
	t.Helper()
	if hdr == nil {
		hdr = http.Header{}
	}
	if mp {
		hdr.Set("Content-Type", "application/msgpack")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second) // a safety net only
	t.Cleanup(cancel)
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(url, "http"), &websocket.DialOptions{HTTPHeader: hdr})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.CloseNow() })
	return &wireClient{t: t, ctx: ctx, conn: conn, mp: mp}
}

// send writes v in the connection's codec.
func (c *wireClient) send(v map[string]any) {
	c.t.Helper()
	j, err := json.Marshal(v)
	if err != nil {
		c.t.Fatal(err)
	}
	fmt.Fprintf(&c.transcript, "> %s\n", j)
	typ, data := websocket.MessageText, j
	if c.mp {
		typ = websocket.MessageBinary
		if data, err = msgpack.Marshal(v); err != nil {
			c.t.Fatal(err)
		}
	}
	if err := c.conn.Write(c.ctx, typ, data); err != nil {
		c.t.Fatal(err)
	}
}

// sendRaw writes data as it is.
func (c *wireClient) sendRaw(typ websocket.MessageType, data []byte) {
	c.t.Helper()
	fmt.Fprintf(&c.transcript, "> raw %s\n", frameText(typ, data))
	if err := c.conn.Write(c.ctx, typ, data); err != nil {
		c.t.Fatal(err)
	}
}

// read reads n frames.
func (c *wireClient) read(n int) {
	c.t.Helper()
	for range n {
		typ, data, err := c.conn.Read(c.ctx)
		if err != nil {
			c.t.Fatalf("read: %v\ntranscript so far:\n%s", err, c.transcript.String())
		}
		fmt.Fprintf(&c.transcript, "< %s\n", frameText(typ, data))
	}
}

// readClose reads frames until the connection ends, and how it ended.
func (c *wireClient) readClose() {
	c.t.Helper()
	for {
		typ, data, err := c.conn.Read(c.ctx)
		if err == nil {
			fmt.Fprintf(&c.transcript, "< %s\n", frameText(typ, data))
			continue
		}
		if c.ctx.Err() != nil {
			c.t.Fatalf("still open: %v\ntranscript so far:\n%s", err, c.transcript.String())
		}
		var ce websocket.CloseError
		if errors.As(err, &ce) {
			fmt.Fprintf(&c.transcript, "< close %d %q\n", ce.Code, ce.Reason)
		} else {
			fmt.Fprintf(&c.transcript, "< dropped without a close frame\n")
		}
		return
	}
}

// frameText is a frame for the transcript: text as it is, binary in hex
// with its msgpack decoded as JSON beside it.
func frameText(typ websocket.MessageType, data []byte) string {
	if typ == websocket.MessageText {
		return "text " + string(data)
	}
	if j, ok := msgpackJSON(data); ok {
		return fmt.Sprintf("binary %x  (%s)", data, j)
	}
	return "binary " + hex.EncodeToString(data)
}

// msgpackJSON renders a msgpack array of maps as JSON, keeping the order
// of each map's keys.
func msgpackJSON(data []byte) (string, bool) {
	d := msgpack.NewDecoder(bytes.NewReader(data))
	n, err := d.DecodeArrayLen()
	if err != nil {
		return "", false
	}
	var out strings.Builder
	out.WriteByte('[')
	for i := range n {
		nk, err := d.DecodeMapLen()
		if err != nil {
			return "", false
		}
		if i > 0 {
			out.WriteByte(',')
		}
		out.WriteByte('{')
		for k := range nk {
			key, err := d.DecodeString()
			if err != nil {
				return "", false
			}
			v, err := d.DecodeInterface()
			if err != nil {
				return "", false
			}
			kj, _ := json.Marshal(key)
			vj, err := json.Marshal(v)
			if err != nil {
				return "", false
			}
			if k > 0 {
				out.WriteByte(',')
			}
			fmt.Fprintf(&out, "%s:%s", kj, vj)
		}
		out.WriteByte('}')
	}
	out.WriteByte(']')
	return out.String(), true
}

// wireGoldenFile is the golden transcripts by subtest name.
type wireGoldenFile struct {
	mu       sync.Mutex
	sections map[string]string
	updated  bool
}

func loadWireGolden(t *testing.T) *wireGoldenFile {
	g := &wireGoldenFile{sections: map[string]string{}}
	f, err := os.Open(wireGolden)
	switch {
	case errors.Is(err, os.ErrNotExist) && *updateWire:
	case err != nil:
		t.Fatal(err)
	default:
		defer f.Close()
		var name string
		var body strings.Builder
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if n, ok := strings.CutPrefix(line, "== "); ok {
				if name != "" {
					g.sections[name] = body.String()
				}
				name = n
				body.Reset()
				continue
			}
			if line != "" {
				body.WriteString(line + "\n")
			}
		}
		if name != "" {
			g.sections[name] = body.String()
		}
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
	}
	if *updateWire {
		t.Cleanup(func() { g.write(t) })
	}
	return g
}

func (g *wireGoldenFile) check(t *testing.T, name, got string) {
	t.Helper()
	g.mu.Lock()
	defer g.mu.Unlock()
	if *updateWire {
		g.sections[name] = got
		g.updated = true
		return
	}
	want, ok := g.sections[name]
	if !ok {
		t.Fatalf("no section %q in %s (run with -update)\ngot:\n%s", name, wireGolden, got)
	}
	if got != want {
		t.Errorf("%s: got\n%s\nwant\n%s", name, got, want)
	}
}

func (g *wireGoldenFile) write(t *testing.T) {
	if !g.updated {
		return
	}
	names := make([]string, 0, len(g.sections))
	for n := range g.sections {
		names = append(names, n)
	}
	slices.Sort(names)
	var out strings.Builder
	out.WriteString("# What the market-data websockets send: TestStreamWire (streamwire_test.go).\n# > a client message (its JSON; msgpack connections send it as msgpack)\n# < a frame from the server, or how the connection ended.\n")
	for _, n := range names {
		fmt.Fprintf(&out, "\n== %s\n%s", n, g.sections[n])
	}
	if err := os.MkdirAll(filepath.Dir(wireGolden), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(wireGolden, []byte(out.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}
