package notify_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/quantum-alpaca/quantum/notify"
	"github.com/quantum-alpaca/quantum/trading"
)

// The tests post over real HTTP on 127.0.0.1: httptest servers are the
// webhook receivers, and a closed port is a receiver that is down.

// secretPath is what a webhook URL's path holds in these tests; it must
// never show in a log line or an error.
const secretPath = "/services/T0SECRET1/B0SECRET2/xoxSecretToken123"

var (
	t0   = time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC)
	fill = trading.Activity{Time: t0, Kind: trading.ActivityFill, Tenant: "t1", ClientOrderID: "t1-0007",
		Symbol: "AAPL", Side: trading.Buy, Type: trading.Market, Qty: decimal.RequireFromString("2"), Price: decimal.RequireFromString("187.25")}
	rejected = trading.Activity{Time: t0, Kind: trading.ActivityRiskRejected, Tenant: "t2", ClientOrderID: "t2-0001",
		Symbol: "MSFT", Side: trading.Sell, Type: trading.Limit, Qty: decimal.RequireFromString("5"), Price: decimal.RequireFromString("410.5"),
		Status: trading.StatusRiskRejected, Reason: "trading state is HALTED"}
	start = trading.Activity{Time: t0, Kind: trading.ActivityEngineStart, Reason: "2 tenants"}
)

// receiver is a webhook receiver: it records every request and answers
// with reply (200 when nil).
type receiver struct {
	*httptest.Server
	requests atomic.Int64
	bodies   chan received
	reply    func(n int64, w http.ResponseWriter, r *http.Request)
}

type received struct {
	contentType string
	body        []byte
}

func newReceiver(t *testing.T, reply func(n int64, w http.ResponseWriter, r *http.Request)) *receiver {
	t.Helper()
	rc := &receiver{bodies: make(chan received, 1000), reply: reply}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := rc.requests.Add(1)
		b, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPost {
			http.Error(w, "want POST", http.StatusMethodNotAllowed)
			return
		}
		if rc.reply != nil {
			rc.reply(n, w, r)
			return
		}
		rc.bodies <- received{r.Header.Get("Content-Type"), b}
	}))
	t.Cleanup(rc.Close)
	return rc
}

// next returns the next body the receiver accepted.
func (rc *receiver) next(t *testing.T) received {
	t.Helper()
	select {
	case r := <-rc.bodies:
		return r
	case <-time.After(30 * time.Second):
		t.Fatal("the receiver got nothing")
		return received{}
	}
}

// downURL is a webhook URL on a port nothing listens on.
func downURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr + secretPath
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// countingTransport counts the requests that leave the notifier.
type countingTransport struct{ n atomic.Int64 }

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return http.DefaultTransport.RoundTrip(r)
}

// mustOpen returns an open notifier for target with millisecond backoff,
// logging at debug level into the returned buffer.
func mustOpen(t *testing.T, target notify.Target, adjust ...func(*notify.Notifier)) (*notify.Notifier, *syncBuffer) {
	t.Helper()
	n, err := notify.New(target)
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	n.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	n.MinBackoff, n.MaxBackoff = time.Millisecond, 5*time.Millisecond
	for _, f := range adjust {
		f(n)
	}
	if err := n.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Close(context.Background()) })
	return n, logs
}

// flush closes n with no deadline: everything queued is sent or given up.
func flush(t *testing.T, n *notify.Notifier) notify.Stats {
	t.Helper()
	if err := n.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	return n.Stats()
}

func TestFormats(t *testing.T) {
	for _, tc := range []struct {
		format notify.Format
		chatID string
		want   string
	}{
		{notify.FormatSlack, "", `{"text":"t1: fill buy 2 AAPL @ 187.25 (t1-0007)"}`},
		{notify.FormatDiscord, "", `{"content":"t1: fill buy 2 AAPL @ 187.25 (t1-0007)","allowed_mentions":{"parse":[]}}`},
		{notify.FormatTelegram, "-100123", `{"chat_id":"-100123","text":"t1: fill buy 2 AAPL @ 187.25 (t1-0007)"}`},
		{notify.FormatJSON, "", `{"time":"2025-03-14T15:09:26Z","kind":"fill","tenant":"t1","client_order_id":"t1-0007","symbol":"AAPL","side":"buy","type":"market","qty":"2","price":"187.25","text":"t1: fill buy 2 AAPL @ 187.25 (t1-0007)"}`},
		{"", "", `{"time":"2025-03-14T15:09:26Z","kind":"fill","tenant":"t1","client_order_id":"t1-0007","symbol":"AAPL","side":"buy","type":"market","qty":"2","price":"187.25","text":"t1: fill buy 2 AAPL @ 187.25 (t1-0007)"}`},
	} {
		t.Run("Format="+string(tc.format), func(t *testing.T) {
			rc := newReceiver(t, nil)
			n, _ := mustOpen(t, notify.Target{URL: rc.URL + "/hook", Format: tc.format, ChatID: tc.chatID, Events: []trading.ActivityKind{trading.ActivityFill}})
			if !n.Publish(fill) {
				t.Fatal("fill not queued")
			}
			got := rc.next(t)
			if got.contentType != "application/json" {
				t.Errorf("Content-Type %q", got.contentType)
			}
			if string(got.body) != tc.want {
				t.Errorf("body\n got %s\nwant %s", got.body, tc.want)
			}
			if s := flush(t, n); s.Sent != 1 || s.Attempts != 1 {
				t.Errorf("stats %+v, want 1 sent in 1 attempt", s)
			}
		})
	}
}

func TestBodyEscapesMarkup(t *testing.T) {
	a := trading.Activity{Kind: trading.ActivityFailed, Tenant: "t1", Reason: "<!channel> & @everyone"}
	slack, err := notify.Body(notify.FormatSlack, "", a)
	if err != nil {
		t.Fatal(err)
	}
	var s struct{ Text string }
	if err := json.Unmarshal(slack, &s); err != nil || s.Text != "t1: tenant failed: &lt;!channel&gt; &amp; @everyone" {
		t.Errorf("slack text %q (%v)", s.Text, err)
	}
	discord, _ := notify.Body(notify.FormatDiscord, "", a)
	if !strings.Contains(string(discord), `"allowed_mentions":{"parse":[]}`) {
		t.Errorf("discord body allows mentions: %s", discord)
	}
}

func TestText(t *testing.T) {
	for _, tc := range []struct {
		a    trading.Activity
		want string
	}{
		{fill, "t1: fill buy 2 AAPL @ 187.25 (t1-0007)"},
		{rejected, "t2: risk rejected sell 5 MSFT limit 410.5 (t2-0001): trading state is HALTED"},
		{trading.Activity{Kind: trading.ActivityOrder, Tenant: "t1", ClientOrderID: "c1", Symbol: "NVDA", Side: trading.Buy, Type: trading.Market,
			Notional: decimal.RequireFromString("500"), Reason: "rebalance"}, "t1: order buy $500 of NVDA (c1): rebalance"},
		{trading.Activity{Kind: trading.ActivityCanceled, Tenant: "t1", ClientOrderID: "c2", Symbol: "JPM", Side: trading.Sell,
			Qty: decimal.RequireFromString("1"), Status: trading.StatusExpired}, "t1: expired sell 1 JPM (c2)"},
		{trading.Activity{Kind: trading.ActivityState, Tenant: "t1", State: trading.Halted, Reason: "ops API"}, "t1: trading state HALTED: ops API"},
		{trading.Activity{Kind: trading.ActivityBreaker, Tenant: "t3", Reason: "broker errors"}, "t3: circuit breaker open: broker errors"},
		{trading.Activity{Kind: trading.ActivityRecovered, Tenant: "t3"}, "t3: tenant recovered"},
		{start, "engine started (2 tenants)"},
		{trading.Activity{Kind: trading.ActivityEngineStop}, "engine stopped"},
	} {
		if got := notify.Text(tc.a); got != tc.want {
			t.Errorf("Text(%s)\n got %q\nwant %q", tc.a.Kind, got, tc.want)
		}
	}
	long := notify.Text(trading.Activity{Kind: trading.ActivityFailed, Tenant: "t1", Reason: strings.Repeat("x", 5000)})
	if n := len([]rune(long)); n > 2000 {
		t.Errorf("a long reason gives %d characters; Discord takes 2000", n)
	}
}

func TestFilter(t *testing.T) {
	order := trading.Activity{Kind: trading.ActivityOrder, Tenant: "t1", ClientOrderID: "t1-0008", Symbol: "AAPL", Side: trading.Buy}
	stop := trading.Activity{Kind: trading.ActivityEngineStop}
	all := []trading.Activity{start, order, fill, rejected, stop}
	kinds := func(t *testing.T, target notify.Target) []string {
		t.Helper()
		rc := newReceiver(t, nil)
		target.URL = rc.URL
		n, _ := mustOpen(t, target)
		for _, a := range all {
			n.Publish(a)
		}
		s := flush(t, n)
		close(rc.bodies)
		var got []string
		for r := range rc.bodies {
			var a notify.Activity
			if err := json.Unmarshal(r.body, &a); err != nil {
				t.Fatal(err)
			}
			got = append(got, string(a.Kind)+"/"+string(a.Tenant))
		}
		if s.Sent != uint64(len(got)) {
			t.Errorf("stats %+v, receiver got %d", s, len(got))
		}
		return got
	}
	t.Run("Defaults", func(t *testing.T) {
		// Orders and fills are opt-in; alerts and start/stop are not.
		if got, want := strings.Join(kinds(t, notify.Target{}), " "), "engine_start/ risk_rejected/t2 engine_stop/"; got != want {
			t.Errorf("got %s, want %s", got, want)
		}
	})
	t.Run("Events", func(t *testing.T) {
		target := notify.Target{Events: []trading.ActivityKind{trading.ActivityOrder, trading.ActivityFill}}
		if got, want := strings.Join(kinds(t, target), " "), "order/t1 fill/t1"; got != want {
			t.Errorf("got %s, want %s", got, want)
		}
	})
	t.Run("Tenants", func(t *testing.T) {
		// Engine events concern every tenant, so a tenant filter keeps them.
		target := notify.Target{Events: notify.Kinds, Tenants: []trading.TenantID{"t2"}}
		if got, want := strings.Join(kinds(t, target), " "), "engine_start/ risk_rejected/t2 engine_stop/"; got != want {
			t.Errorf("got %s, want %s", got, want)
		}
	})
}

func TestRetry(t *testing.T) {
	t.Run("ServerErrorThenOK", func(t *testing.T) {
		rc := newReceiver(t, func(n int64, w http.ResponseWriter, r *http.Request) {
			if n < 3 {
				http.Error(w, "upstream hiccup", http.StatusInternalServerError)
				return
			}
			w.WriteHeader(http.StatusOK)
		})
		n, _ := mustOpen(t, notify.Target{URL: rc.URL})
		n.Publish(start)
		if s := flush(t, n); s.Sent != 1 || s.Failed != 0 || s.Attempts != 3 {
			t.Errorf("stats %+v, want sent after 3 attempts", s)
		}
		if got := rc.requests.Load(); got != 3 {
			t.Errorf("receiver got %d requests, want 3", got)
		}
	})
	t.Run("GivesUp", func(t *testing.T) {
		rc := newReceiver(t, func(n int64, w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusBadGateway)
		})
		n, logs := mustOpen(t, notify.Target{URL: rc.URL + secretPath}, func(n *notify.Notifier) { n.MaxAttempts = 4 })
		n.Publish(start)
		if s := flush(t, n); s.Sent != 0 || s.Failed != 1 || s.Attempts != 4 {
			t.Errorf("stats %+v, want failed after 4 attempts", s)
		}
		if got := rc.requests.Load(); got != 4 {
			t.Errorf("receiver got %d requests, want 4", got)
		}
		if !strings.Contains(logs.String(), "level=WARN msg=\"alert dropped\"") || !strings.Contains(logs.String(), "502 Bad Gateway") {
			t.Errorf("no WARN naming the status:\n%s", logs)
		}
	})
	t.Run("ClientErrorNotRetried", func(t *testing.T) {
		// The reply quotes the URL back, as some receivers' errors do.
		rc := newReceiver(t, func(n int64, w http.ResponseWriter, r *http.Request) {
			http.Error(w, "invalid_token for "+r.URL.Path, http.StatusForbidden)
		})
		n, logs := mustOpen(t, notify.Target{URL: rc.URL + secretPath})
		n.Publish(start)
		if s := flush(t, n); s.Failed != 1 || s.Attempts != 1 {
			t.Errorf("stats %+v, want failed after 1 attempt", s)
		}
		if !strings.Contains(logs.String(), "403 Forbidden: invalid_token") {
			t.Errorf("the log does not say why:\n%s", logs)
		}
		assertNoSecret(t, logs.String())
	})
	t.Run("RetryAfterHonouredAndBounded", func(t *testing.T) {
		// An hour asked for, at most 20ms waited: the debug line shows the
		// wait came from Retry-After (capped), not from the 1-5ms backoff.
		rc := newReceiver(t, func(n int64, w http.ResponseWriter, r *http.Request) {
			if n == 1 {
				w.Header().Set("Retry-After", "3600")
				w.WriteHeader(http.StatusTooManyRequests)
				return
			}
			w.WriteHeader(http.StatusNoContent)
		})
		n, logs := mustOpen(t, notify.Target{URL: rc.URL}, func(n *notify.Notifier) { n.MaxRetryAfter = 20 * time.Millisecond })
		n.Publish(start)
		if s := flush(t, n); s.Sent != 1 || s.Attempts != 2 {
			t.Errorf("stats %+v, want sent after 2 attempts", s)
		}
		if !strings.Contains(logs.String(), "wait=20ms") || !strings.Contains(logs.String(), "429 Too Many Requests") {
			t.Errorf("retry not logged with the capped Retry-After:\n%s", logs)
		}
	})
	t.Run("Timeout", func(t *testing.T) {
		// A receiver that accepts and never answers costs one timeout per
		// attempt, not a stuck sender.
		rc := newReceiver(t, func(n int64, w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
		n, logs := mustOpen(t, notify.Target{URL: rc.URL + secretPath}, func(n *notify.Notifier) {
			n.Timeout, n.MaxAttempts = 50*time.Millisecond, 2
		})
		n.Publish(start)
		if s := flush(t, n); s.Failed != 1 || s.Attempts != 2 {
			t.Errorf("stats %+v, want failed after 2 attempts", s)
		}
		assertNoSecret(t, logs.String())
	})
}

// TestReceiverDown is a webhook whose port is closed: attempts stay
// bounded, Publish never blocks, and every alert is accounted for.
func TestReceiverDown(t *testing.T) {
	t.Run("BoundedAttempts", func(t *testing.T) {
		ct := &countingTransport{}
		n, logs := mustOpen(t, notify.Target{URL: downURL(t), Format: notify.FormatSlack}, func(n *notify.Notifier) {
			n.MaxAttempts, n.Client = 3, &http.Client{Transport: ct}
		})
		n.Publish(start)
		s := flush(t, n)
		if s.Failed != 1 || s.Attempts != 3 || ct.n.Load() != 3 {
			t.Errorf("stats %+v, %d requests; want 1 failed after 3", s, ct.n.Load())
		}
		if !strings.Contains(logs.String(), "connection refused") {
			t.Errorf("the log does not say why:\n%s", logs)
		}
		assertNoSecret(t, logs.String())
	})
	t.Run("PublishNeverBlocks", func(t *testing.T) {
		n, logs := mustOpen(t, notify.Target{URL: downURL(t), Events: notify.Kinds}, func(n *notify.Notifier) {
			n.QueueSize, n.MaxAttempts = 16, 2
		})
		const total = 10000
		queued := 0
		for range total {
			if n.Publish(fill) {
				queued++
			}
		}
		// Reaching here is the point: 10,000 alerts to a dead receiver did
		// not wait on it.
		s := flush(t, n)
		if s.Sent+s.Failed+s.Dropped != total {
			t.Errorf("stats %+v: %d of %d accounted for", s, s.Sent+s.Failed+s.Dropped, total)
		}
		if s.Dropped != total-uint64(queued) || s.Failed != uint64(queued) || s.Attempts != 2*s.Failed {
			t.Errorf("stats %+v with %d queued: want the overflow dropped and each queued alert tried twice", s, queued)
		}
		if !strings.Contains(logs.String(), "alerts dropped") {
			t.Errorf("no warning about the full queue:\n%s", logs)
		}
		assertNoSecret(t, logs.String())
	})
	t.Run("CloseDeadline", func(t *testing.T) {
		// A receiver that hangs and a shutdown that cannot wait: Close
		// returns when its context ends, dropping what is left.
		got := make(chan struct{}, 10)
		rc := newReceiver(t, func(n int64, w http.ResponseWriter, r *http.Request) {
			got <- struct{}{}
			<-r.Context().Done()
		})
		n, _ := mustOpen(t, notify.Target{URL: rc.URL}, func(n *notify.Notifier) { n.Timeout = time.Hour })
		for range 3 {
			n.Publish(start)
		}
		<-got // the first is in flight
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := n.Close(ctx); !errors.Is(err, context.Canceled) {
			t.Errorf("Close: %v, want context.Canceled", err)
		}
		if s := n.Stats(); s.Dropped != 3 || s.Sent != 0 {
			t.Errorf("stats %+v, want 3 dropped", s)
		}
		if n.Publish(start) {
			t.Error("Publish queued after Close")
		}
	})
}

func assertNoSecret(t *testing.T, s string) {
	t.Helper()
	for _, part := range []string{"T0SECRET1", "B0SECRET2", "xoxSecretToken123"} {
		if strings.Contains(s, part) {
			t.Errorf("secret %q shown:\n%s", part, s)
		}
	}
}

func TestRedact(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"https://hooks.slack.com/services/T000/B000/XXXXXXXX", "https://hooks.slack.com/…"},
		{"https://discord.com/api/webhooks/1234567890/abcDEF-token_xyz", "https://discord.com/…"},
		{"https://api.telegram.org/bot123456:ABC-DEF1234ghIkl/sendMessage", "https://api.telegram.org/…"},
		{"https://user:s3cret@example.com", "https://example.com/…"},
		{"https://example.com/?token=s3cret", "https://example.com/…"},
		{"http://127.0.0.1:9000", "http://127.0.0.1:9000"},
		{"http://127.0.0.1:9000/", "http://127.0.0.1:9000"},
		{"not a url", "(invalid URL)"},
		{"https://exa mple.com/s3cret", "(invalid URL)"},
	} {
		if got := notify.Redact(tc.in); got != tc.want {
			t.Errorf("Redact(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestValidate(t *testing.T) {
	const slack = "https://hooks.slack.com/services/T0SECRET1/B0SECRET2/xoxSecretToken123"
	for _, tc := range []struct {
		name   string
		target notify.Target
		field  string
	}{
		{"NoURL", notify.Target{}, "url"},
		{"BadScheme", notify.Target{URL: "ftp://hooks.slack.com" + secretPath}, "url"},
		{"NoHost", notify.Target{URL: "https://" + secretPath}, "url"},
		{"Unparsable", notify.Target{URL: "https://hooks slack.com" + secretPath}, "url"},
		{"UnknownFormat", notify.Target{URL: slack, Format: "teams"}, "format"},
		{"UnknownEvent", notify.Target{URL: slack, Events: []trading.ActivityKind{"fills"}}, "events"},
		{"TelegramNoChat", notify.Target{URL: "https://api.telegram.org/bot1:x/sendMessage", Format: notify.FormatTelegram}, "chat_id"},
		{"ChatWithoutTelegram", notify.Target{URL: slack, Format: notify.FormatSlack, ChatID: "1"}, "chat_id"},
		{"BadTenant", notify.Target{URL: slack, Tenants: []trading.TenantID{""}}, "tenants"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := notify.New(tc.target)
			var te *notify.TargetError
			if !errors.As(err, &te) || te.Field != tc.field {
				t.Fatalf("err = %v, want a TargetError for %s", err, tc.field)
			}
			assertNoSecret(t, err.Error())
		})
	}
	t.Run("OK", func(t *testing.T) {
		if _, err := notify.New(notify.Target{URL: "https://api.telegram.org/bot1:x/sendMessage", Format: notify.FormatTelegram, ChatID: "42",
			Events: []trading.ActivityKind{trading.ActivityFill}, Tenants: []trading.TenantID{"t1"}}); err != nil {
			t.Fatal(err)
		}
	})
}
