package sim_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/quantum-alpaca/quantum/sim"
)

// Under auto-provisioning, MaxAccounts caps the accounts: a new key
// beyond it is refused with Alpaca's 403 body on every door (REST, market
// data, SSE, websocket), and the accounts that exist keep working.
func TestMaxAccounts(t *testing.T) {
	s, err := sim.New(sim.Config{
		AutoProvision: true,
		MaxAccounts:   2,
		Credentials:   []sim.Credential{{KeyID: "PKLISTED", Secret: "s"}}, // counts toward the cap
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	h := s.Handler()
	get := func(key, path string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", path, nil)
		r.Header.Set("APCA-API-KEY-ID", key)
		r.Header.Set("APCA-API-SECRET-KEY", "s")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	if w := get("PKNEW1", "/v2/account"); w.Code != http.StatusOK {
		t.Fatalf("first new key: %d %s", w.Code, w.Body)
	}
	for _, path := range []string{"/v2/account", "/v2/stocks/AAPL/bars/latest", "/v2/events/trades"} {
		w := get("PKNEW2", path)
		var e struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || w.Code != http.StatusForbidden || e.Code != 40310000 || !strings.Contains(e.Message, "account limit") {
			t.Errorf("%s with a key beyond the cap: %d %s, want 403 code 40310000", path, w.Code, w.Body)
		}
	}
	for _, k := range []string{"PKLISTED", "PKNEW1"} {
		if w := get(k, "/v2/account"); w.Code != http.StatusOK {
			t.Errorf("%s after the cap: %d %s", k, w.Code, w.Body)
		}
	}

	hs := httptest.NewServer(h)
	defer hs.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(hs.URL, "http")+"/stream", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	_ = c.Write(ctx, websocket.MessageText, []byte(`{"action":"auth","key":"PKNEW2","secret":"s"}`))
	_, msg, err := c.Read(ctx)
	if err != nil || !strings.Contains(string(msg), "unauthorized") || !strings.Contains(string(msg), "account limit") {
		t.Fatalf("websocket auth beyond the cap: %s %v", msg, err)
	}

	unlimited, err := sim.New(sim.Config{AutoProvision: true, MaxAccounts: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unlimited.Close() })
	for i := range 5 {
		r := httptest.NewRequest("GET", "/v2/account", nil)
		r.Header.Set("APCA-API-KEY-ID", "PKANY"+string(rune('A'+i)))
		r.Header.Set("APCA-API-SECRET-KEY", "s")
		w := httptest.NewRecorder()
		unlimited.Handler().ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			t.Fatalf("no cap, key %d: %d", i, w.Code)
		}
	}
}

// Streams outlive the server's timeouts: an SSE stream that is idle for
// longer than ReadTimeout, WriteTimeout and StreamWriteTimeout (each
// heartbeat comes after such a gap) goes on delivering, over HTTP/1.1 and
// over h2c, and so does the websocket stream. (Over HTTP/2 a write
// deadline left armed fires even when nothing is written and resets the
// stream: the SSE handler once left one armed after each write.)
func TestStreamsOutliveServerTimeouts(t *testing.T) {
	for _, tc := range []struct {
		name  string
		proto func(*http.Protocols)
		want  string
	}{
		{"HTTP1", func(p *http.Protocols) { p.SetHTTP1(true) }, "HTTP/1.1"},
		{"H2C", func(p *http.Protocols) { p.SetUnencryptedHTTP2(true) }, "HTTP/2.0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const timeout = 50 * time.Millisecond
			srv, err := sim.New(sim.Config{
				AutoProvision: true, ReadTimeout: timeout, WriteTimeout: timeout, StreamWriteTimeout: timeout,
				IdleTimeout: time.Minute, HeartbeatInterval: 4 * timeout,
			})
			if err != nil {
				t.Fatal(err)
			}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			hs := srv.HTTPServer()
			srv.Start()
			go func() { _ = hs.Serve(ln) }()
			t.Cleanup(func() { _ = srv.Close(); _ = hs.Close() })
			base := "http://" + ln.Addr().String()
			tr := &http.Transport{Protocols: new(http.Protocols)}
			tc.proto(tr.Protocols)
			hc := &http.Client{Transport: tr}
			t.Cleanup(tr.CloseIdleConnections)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // a safety net
			defer cancel()

			req, _ := http.NewRequestWithContext(ctx, "GET", base+"/v2/events/trades", nil)
			req.Header.Set("APCA-API-KEY-ID", "PKIDLE")
			req.Header.Set("APCA-API-SECRET-KEY", "s")
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.Proto != tc.want {
				t.Fatalf("stream over %s, want %s", resp.Proto, tc.want)
			}
			lines := make(chan string)
			go func() {
				defer close(lines)
				sc := bufio.NewScanner(resp.Body)
				for sc.Scan() {
					if l := sc.Text(); l != "" {
						lines <- l
					}
				}
			}()

			ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/stream", nil)
			if err != nil {
				t.Fatal(err)
			}
			defer ws.CloseNow()
			for _, m := range []string{`{"action":"auth","key":"PKIDLE","secret":"s"}`, `{"action":"listen","data":{"streams":["trade_updates"]}}`} {
				if err := ws.Write(ctx, websocket.MessageText, []byte(m)); err != nil {
					t.Fatal(err)
				}
				if _, _, err := ws.Read(ctx); err != nil {
					t.Fatal(err)
				}
			}

			next := func(prefix string) {
				t.Helper()
				for {
					select {
					case l, ok := <-lines:
						if !ok {
							t.Fatalf("stream ended waiting for %q", prefix)
						}
						if strings.HasPrefix(l, prefix) {
							return
						}
					case <-ctx.Done():
						t.Fatalf("no %q", prefix)
					}
				}
			}
			for round := range 3 {
				next(":heartbeat") // after an idle gap longer than every timeout
				body := `{"symbol":"AAPL","qty":"1","side":"buy","type":"limit","limit_price":"1","time_in_force":"gtc"}`
				req, _ := http.NewRequestWithContext(ctx, "POST", base+"/v2/orders", strings.NewReader(body))
				req.Header.Set("APCA-API-KEY-ID", "PKIDLE")
				req.Header.Set("APCA-API-SECRET-KEY", "s")
				resp, err := hc.Do(req)
				if err != nil {
					t.Fatalf("round %d: order: %v", round, err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("round %d: order: %d", round, resp.StatusCode)
				}
				next("data: ")
				if _, msg, err := ws.Read(ctx); err != nil || !strings.Contains(string(msg), "trade_updates") {
					t.Fatalf("round %d: websocket: %s %v", round, msg, err)
				}
			}
			if st := srv.StreamStats(); st.Active != 2 || st.SlowDisconnects != 0 {
				t.Fatalf("streams %+v, want 2 active and none cut off", st)
			}
		})
	}
}
