package sim_test

import (
	"context"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alpacahq/alpaca-trade-api-go/v3/marketdata/stream"
	"github.com/coder/websocket"

	"github.com/quantum-alpaca/quantum/internal/simtest"
	"github.com/quantum-alpaca/quantum/sim"
)

type restNews struct {
	ID        int       `json:"id"`
	Headline  string    `json:"headline"`
	Summary   string    `json:"summary"`
	Author    string    `json:"author"`
	Content   string    `json:"content"`
	URL       string    `json:"url"`
	CreatedAt time.Time `json:"created_at"`
	Symbols   []string  `json:"symbols"`
}

// listNews reads every article GET /v1beta1/news lists for the query,
// page by page, oldest first.
func listNews(t *testing.T, c cryptoClient, q url.Values) []restNews {
	t.Helper()
	q.Set("sort", "asc")
	q.Set("limit", "50")
	q.Set("include_content", "true")
	var all []restNews
	for {
		var page struct {
			News []restNews `json:"news"`
			Next *string    `json:"next_page_token"`
		}
		c.json("GET", "/v1beta1/news?"+q.Encode(), "", 200, &page)
		all = append(all, page.News...)
		if page.Next == nil {
			return all
		}
		q.Set("page_token", *page.Next)
	}
}

// The news websocket at /v1beta1/news, through the official Go SDK's
// news client: as the stepped clock passes each article's created_at, the
// stream sends it, and what a client got over a window is exactly what
// the REST listing shows for that window, for "*" and for a list of
// symbols (issue 9). The stream is in none of Alpaca's OpenAPI files; the
// SDK's decoder (marketdata/stream, v3.9.1: T first, msgpack timestamps,
// stream.News) is the check of its messages, and RawProtocol reads the
// JSON wire.
func TestSDKNewsStream(t *testing.T) {
	start := time.Date(2026, 11, 16, 13, 0, 0, 0, time.UTC)
	clk := sim.NewSteppedClock(start)
	b := simtest.Start(t, sim.Config{Seed: 11, Clock: clk})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second) // a safety net only
	defer cancel()
	rest := cryptoClient{t, b.URL, "PKNEWSREST"}

	type client struct {
		mu   sync.Mutex
		got  []stream.News
		note chan struct{}
		sc   *stream.NewsClient
	}
	connect := func(t *testing.T, key string, symbols ...string) *client {
		c := &client{note: make(chan struct{}, 1)}
		c.sc = stream.NewNewsClient(
			stream.WithBaseURL(b.URL+"/v1beta1/news"),
			stream.WithCredentials(key, key+"-secret"),
			stream.WithReconnectSettings(1, 0),
			stream.WithNews(func(n stream.News) {
				c.mu.Lock()
				c.got = append(c.got, n)
				c.mu.Unlock()
				select {
				case c.note <- struct{}{}:
				default:
				}
			}, symbols...),
		)
		// Connect returns once the subscription has been echoed: the
		// articles of any later step reach this client.
		if err := c.sc.Connect(ctx); err != nil {
			t.Fatal(err)
		}
		return c
	}
	// wait returns what c got once it has n articles.
	wait := func(t *testing.T, c *client, n int) []stream.News {
		t.Helper()
		for {
			c.mu.Lock()
			got := slices.Clone(c.got)
			c.mu.Unlock()
			if len(got) >= n {
				return got
			}
			select {
			case <-c.note:
			case err := <-c.sc.Terminated():
				t.Fatalf("stream ended after %d of %d articles: %v", len(got), n, err)
			case <-ctx.Done():
				t.Fatalf("%d of %d articles", len(got), n)
			}
		}
	}
	same := func(t *testing.T, got []stream.News, want []restNews) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("stream sent %d articles, REST lists %d", len(got), len(want))
		}
		for i := range want {
			g, w := got[i], want[i]
			if g.ID != w.ID || g.Headline != w.Headline || g.Summary != w.Summary || g.Author != w.Author || g.Content != w.Content ||
				g.URL != w.URL || !g.CreatedAt.Equal(w.CreatedAt) || !slices.Equal(g.Symbols, w.Symbols) {
				t.Fatalf("article %d: stream %+v, REST %+v", i, g, w)
			}
		}
	}

	all := connect(t, "PKNEWSALL", "*")
	some := []string{"AAPL", "MSFT", "NVDA", "AMZN", "GOOGL", "META", "TSLA", "JPM", "XOM", "SPY", "QQQ", "KO", "PEP", "WMT", "DIS"}
	few := connect(t, "PKNEWSFEW", some...)

	// The clock moves in three steps over seven hours, crossing a
	// six-hour slot of the wire.
	for _, d := range []time.Duration{10 * time.Minute, 3 * time.Hour, 7 * time.Hour} {
		if _, err := b.AdvanceClock(ctx, start.Add(d)); err != nil {
			t.Fatal(err)
		}
	}
	window := url.Values{"start": {start.Add(time.Nanosecond).Format(time.RFC3339Nano)}, "end": {start.Add(7 * time.Hour).Format(time.RFC3339Nano)}}
	want := listNews(t, rest, window)
	if len(want) < 10 {
		t.Fatalf("only %d articles in seven hours", len(want))
	}
	t.Run("All", func(t *testing.T) {
		same(t, wait(t, all, len(want)), want)
	})
	t.Run("Symbols", func(t *testing.T) {
		q := url.Values{"symbols": {strings.Join(some, ",")}}
		for k, v := range window {
			q[k] = v
		}
		wantFew := listNews(t, rest, q)
		if len(wantFew) == 0 {
			t.Fatal("no article for the listed symbols in seven hours")
		}
		same(t, wait(t, few, len(wantFew)), wantFew)
	})
	t.Run("LongJump", func(t *testing.T) {
		// Four days at one go: a step's articles travel as one frame, so
		// a jump does not overrun a client's queue.
		c := connect(t, "PKNEWSJUMP", "*")
		from := clk.Now()
		if _, err := b.AdvanceClock(ctx, from.Add(96*time.Hour)); err != nil {
			t.Fatal(err)
		}
		want := listNews(t, rest, url.Values{"start": {from.Add(time.Nanosecond).Format(time.RFC3339Nano)}, "end": {from.Add(96 * time.Hour).Format(time.RFC3339Nano)}})
		if len(want) < 100 {
			t.Fatalf("only %d articles in four days", len(want))
		}
		t.Logf("%d articles in four days", len(want))
		same(t, wait(t, c, len(want)), want)
	})
	t.Run("RawProtocol", func(t *testing.T) {
		// The wire itself, in JSON: connected, auth, the echo, and the
		// article of a later step as {"T":"n", ...}.
		ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(b.URL, "http")+"/v1beta1/news", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer ws.CloseNow()
		read := func() []map[string]any {
			t.Helper()
			_, data, err := ws.Read(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var out []map[string]any
			if err := json.Unmarshal(data, &out); err != nil {
				t.Fatalf("%s: %v", data, err)
			}
			return out
		}
		send := func(s string) {
			if err := ws.Write(ctx, websocket.MessageText, []byte(s)); err != nil {
				t.Fatal(err)
			}
		}
		if m := read(); m[0]["msg"] != "connected" {
			t.Fatalf("first: %v", m)
		}
		send(`{"action":"subscribe","news":["*"]}`)
		if m := read(); m[0]["T"] != "error" || m[0]["code"] != 401.0 {
			t.Fatalf("subscribe before auth: %v", m)
		}
		send(`{"action":"auth","key":"PKNEWSRAW","secret":"news-raw-secret"}`)
		if m := read(); m[0]["msg"] != "authenticated" {
			t.Fatalf("auth: %v", m)
		}
		send(`{"action":"subscribe","news":["*"]}`)
		if m := read(); m[0]["T"] != "subscription" || len(m[0]["news"].([]any)) != 1 {
			t.Fatalf("echo: %v", m)
		}
		from := clk.Now()
		if _, err := b.AdvanceClock(ctx, from.Add(2*time.Hour)); err != nil {
			t.Fatal(err)
		}
		next := listNews(t, rest, url.Values{"start": {from.Add(time.Nanosecond).Format(time.RFC3339Nano)}, "end": {from.Add(2 * time.Hour).Format(time.RFC3339Nano)}})
		if len(next) == 0 {
			t.Fatal("no article in two hours")
		}
		m := read()
		if m[0]["T"] != "n" || m[0]["id"] != float64(next[0].ID) || m[0]["headline"] != next[0].Headline {
			t.Fatalf("article: %v, want %+v", m[0], next[0])
		}
	})
}
