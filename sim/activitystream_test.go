package sim_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/quantum-alpaca/quantum/internal/simtest"
	"github.com/quantum-alpaca/quantum/sim"
)

// activityEvent is what the activity stream sends: the REST activity
// plus the event's envelope.
type activityEvent struct {
	ID           string `json:"id"`
	ActivityType string `json:"activity_type"`
	Symbol       string `json:"symbol"`
	Qty          string `json:"qty"`
	OrderID      string `json:"order_id"`
	AccountID    string `json:"account_id"`
	At           string `json:"at"`
	EventID      string `json:"event_id"`
}

// activitySSE is one open activity stream, read over TCP.
type activitySSE struct {
	t    *testing.T
	body io.ReadCloser
	sc   *bufio.Scanner
	// heartbeats counts the comment lines read.
	heartbeats int
	raw        []map[string]any
}

func openActivities(t *testing.T, ctx context.Context, base, query string, auth func(*http.Request)) (*activitySSE, *http.Response) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, "GET", base+"/v2beta1/events/activities"+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	auth(req)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		resp.Body = io.NopCloser(strings.NewReader(string(b)))
		return nil, resp
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("Content-Type %q", ct)
	}
	t.Cleanup(func() { resp.Body.Close() })
	sc := bufio.NewScanner(resp.Body)
	return &activitySSE{t: t, body: resp.Body, sc: sc}, resp
}

// next returns the next event, counting the heartbeats before it; ok is
// false when the stream ended.
func (s *activitySSE) next() (activityEvent, bool) {
	s.t.Helper()
	for s.sc.Scan() {
		line := s.sc.Text()
		switch {
		case strings.HasPrefix(line, ":"):
			s.heartbeats++
		case strings.HasPrefix(line, "data: "):
			var ev activityEvent
			b := []byte(strings.TrimPrefix(line, "data: "))
			if err := json.Unmarshal(b, &ev); err != nil {
				s.t.Fatalf("%s: %v", line, err)
			}
			var raw map[string]any
			_ = json.Unmarshal(b, &raw)
			s.raw = append(s.raw, raw)
			return ev, true
		}
	}
	return activityEvent{}, false
}

func (s *activitySSE) must() activityEvent {
	s.t.Helper()
	ev, ok := s.next()
	if !ok {
		s.t.Fatalf("stream ended early: %v", s.sc.Err())
	}
	return ev
}

// ended reads to the end and fails if an event comes first.
func (s *activitySSE) ended() {
	s.t.Helper()
	if ev, ok := s.next(); ok {
		s.t.Fatalf("event %+v after the end asked for", ev)
	}
}

func keyAuth(key string) func(*http.Request) {
	return func(r *http.Request) {
		r.Header.Set("APCA-API-KEY-ID", key)
		r.Header.Set("APCA-API-SECRET-KEY", "crypto-secret-0123456789")
	}
}

// GET /v2beta1/events/activities streams an account's activities: the
// deposit and every FILL and CFEE, replayed from since or since_id and
// then live, with ULID event ids in the order things happened, the
// REST listing's ids and fields, ending at until or until_id; over real
// TCP (issue 9).
func TestActivityStream(t *testing.T) {
	start := time.Date(2026, 11, 16, 15, 0, 0, 0, time.UTC) // a Monday, in session
	zero := 0.0
	srv := simtest.Start(t, sim.Config{Seed: 3, PartialFillRate: &zero, Clock: sim.NewSteppedClock(start), HeartbeatInterval: 20 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second) // a safety net only
	defer cancel()
	const key = "PKACTIVITYSSE"
	c := cryptoClient{t, srv.URL, key}
	var acct struct {
		ID string `json:"id"`
	}
	c.json("GET", "/v2/account", "", 200, &acct)
	buy := func(t *testing.T, body string) string {
		t.Helper()
		var o cryptoOrderJSON
		cryptoClient{t, srv.URL, key}.json("POST", "/v2/orders", body, 200, &o)
		if o.Status != "filled" {
			t.Fatalf("order %+v, want filled", o)
		}
		return o.ID
	}
	first := buy(t, `{"symbol":"AAPL","qty":"1","side":"buy","type":"market","time_in_force":"day"}`)
	second := buy(t, `{"symbol":"MSFT","qty":"2","side":"buy","type":"market","time_in_force":"day"}`)

	// The replay from the start: the deposit, then the two fills, with
	// the REST listing's ids, and then live events as they happen.
	s, resp := openActivities(t, ctx, srv.URL, "?since=2026-11-16", keyAuth(key))
	if s == nil {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	var rest []activityEvent
	c.json("GET", "/v2/account/activities?direction=asc", "", 200, &rest)
	if len(rest) != 3 {
		t.Fatalf("REST has %d activities, want 3", len(rest))
	}
	var got []activityEvent
	for i := range rest {
		ev := s.must()
		if ev.ID != rest[i].ID || ev.ActivityType != rest[i].ActivityType || ev.AccountID != acct.ID || len(ev.EventID) != 26 {
			t.Errorf("event %d: %+v, REST %+v", i, ev, rest[i])
		}
		got = append(got, ev)
	}
	if got[0].ActivityType != "CSD" || got[1].OrderID != first || got[2].OrderID != second {
		t.Errorf("replay %+v", got)
	}
	third := buy(t, `{"symbol":"SPY","qty":"1","side":"buy","type":"market","time_in_force":"day"}`)
	if ev := s.must(); ev.OrderID != third || ev.ActivityType != "FILL" {
		t.Errorf("live: %+v, want the fill of %s", ev, third)
	}
	// A crypto buy is a FILL and its CFEE, the fee taken in the coin.
	btc := buy(t, `{"symbol":"BTC/USD","notional":"100","side":"buy","type":"market","time_in_force":"gtc"}`)
	fill, fee := s.must(), s.must()
	if fill.ActivityType != "FILL" || fill.OrderID != btc || fee.ActivityType != "CFEE" || fee.Symbol != "BTC/USD" || !strings.HasPrefix(fee.Qty, "-") {
		t.Errorf("crypto: %+v then %+v", fill, fee)
	}
	for i := 1; i < len(s.raw); i++ {
		a, b := s.raw[i-1]["event_id"].(string), s.raw[i]["event_id"].(string)
		if a >= b {
			t.Errorf("event ids out of order: %s then %s", a, b)
		}
	}
	sale := buy(t, `{"symbol":"AAPL","qty":"1","side":"sell","type":"market","time_in_force":"day"}`)
	if ev := s.must(); ev.ActivityType != "FILL" || ev.OrderID != sale {
		t.Errorf("sale: %+v, want the fill of %s", ev, sale)
	}

	ids := make([]string, len(s.raw))
	for i, r := range s.raw {
		ids[i] = r["event_id"].(string)
	}

	t.Run("SinceID", func(t *testing.T) {
		s, _ := openActivities(t, ctx, srv.URL, "?since_id="+ids[1], keyAuth(key))
		for _, want := range ids[2:] {
			if ev := s.must(); ev.EventID != want {
				t.Fatalf("resumed at %s, want %s", ev.EventID, want)
			}
		}
	})
	t.Run("UntilID", func(t *testing.T) {
		s, _ := openActivities(t, ctx, srv.URL, "?since_id="+ids[0]+"&until_id="+ids[2], keyAuth(key))
		for _, want := range ids[1:3] {
			if ev := s.must(); ev.EventID != want {
				t.Fatalf("got %s, want %s", ev.EventID, want)
			}
		}
		s.ended()
		// Up to the newest event, with the clock still at its
		// millisecond: the stream ends once it has sent it.
		n := len(ids)
		s, _ = openActivities(t, ctx, srv.URL, "?since_id="+ids[n-2]+"&until_id="+ids[n-1], keyAuth(key))
		if ev := s.must(); ev.EventID != ids[n-1] {
			t.Fatalf("got %s, want %s", ev.EventID, ids[n-1])
		}
		s.ended()
	})
	t.Run("SinceUntil", func(t *testing.T) {
		// All of it happened at the stepped clock's one instant: a window
		// ending before it is empty and ends at once; one around it has
		// everything.
		q := url.Values{"since": {start.Add(-time.Hour).Format(time.RFC3339)}, "until": {start.Add(-time.Minute).Format(time.RFC3339)}}
		s, _ := openActivities(t, ctx, srv.URL, "?"+q.Encode(), keyAuth(key))
		s.ended()
		if _, err := srv.AdvanceClock(ctx, start.Add(2*time.Minute)); err != nil {
			t.Fatal(err)
		}
		q.Set("until", start.Add(time.Minute).Format(time.RFC3339))
		s, _ = openActivities(t, ctx, srv.URL, "?"+q.Encode(), keyAuth(key))
		for _, want := range ids {
			if ev := s.must(); ev.EventID != want {
				t.Fatalf("got %s, want %s", ev.EventID, want)
			}
		}
		s.ended()
	})
	t.Run("LiveOnly", func(t *testing.T) {
		s, _ := openActivities(t, ctx, srv.URL, "", keyAuth(key))
		// A heartbeat shows the stream is open before the order is sent.
		for s.heartbeats == 0 {
			if !s.sc.Scan() {
				t.Fatal("stream ended")
			}
			if strings.HasPrefix(s.sc.Text(), ":") {
				s.heartbeats++
			}
		}
		id := buy(t, `{"symbol":"AAPL","qty":"1","side":"buy","type":"market","time_in_force":"day"}`)
		if ev := s.must(); ev.OrderID != id {
			t.Errorf("live only: %+v, want the fill of %s", ev, id)
		}
	})
	t.Run("Refused", func(t *testing.T) {
		for _, tc := range []struct {
			query string
			auth  func(*http.Request)
			code  int
		}{
			{"?since=2026-11-16&since_id=" + ids[0], keyAuth(key), 422},
			{"?until=2026-11-16", keyAuth(key), 422},
			{"?until_id=" + ids[0], keyAuth(key), 422},
			{"?since_id=nope", keyAuth(key), 422},
			{"?since=yesterday", keyAuth(key), 422},
			{"", func(*http.Request) {}, 401},
		} {
			if s, resp := openActivities(t, ctx, srv.URL, tc.query, tc.auth); s != nil || resp.StatusCode != tc.code {
				t.Errorf("%q: status %d, want %d", tc.query, resp.StatusCode, tc.code)
			}
		}
	})
	t.Run("Schema", func(t *testing.T) {
		// The stream is in none of Alpaca's OpenAPI files; each event's
		// activity is checked against the trading file's activity schemas,
		// as the REST listing's are.
		doc, err := openapi3.NewLoader().LoadFromFile(filepath.Join("testdata", "openapi", "trading.json"))
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range s.raw {
			name := "NonTradeActivities"
			if r["activity_type"] == "FILL" {
				name = "TradingActivities"
			}
			if err := doc.Components.Schemas[name].Value.VisitJSON(r, openapi3.MultiErrors()); err != nil {
				var me openapi3.MultiError
				if !errors.As(err, &me) {
					me = openapi3.MultiError{err}
				}
				for _, e := range me {
					// The schema types date as date-time, but its own example
					// and Alpaca's answers are dates (YYYY-MM-DD).
					if strings.Contains(e.Error(), `Error at "/date"`) && strings.Contains(e.Error(), `format "date-time"`) {
						continue
					}
					if !stale(e) {
						t.Errorf("%v: %v", r["activity_type"], oneLine(e))
					}
				}
			}
		}
	})
}

// With Broker API credentials the activity stream is every customer
// account's, each event naming its account, or one customer's with
// account_id.
func TestActivityStreamFirm(t *testing.T) {
	zero := 0.0
	srv := simtest.Start(t, sim.Config{Seed: 3, PartialFillRate: &zero, BrokerKey: firmKey, BrokerSecret: firmSecret})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second) // a safety net only
	defer cancel()
	firm := func(r *http.Request) { r.SetBasicAuth(firmKey, firmSecret) }
	call := func(method, path, body string, out any) {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, method, srv.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		firm(req)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
		}
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatal(err)
		}
	}
	open := func(email string) string {
		t.Helper()
		var acct struct {
			ID string `json:"id"`
		}
		call("POST", "/v1/accounts", `{"contact":{"email_address":"`+email+`","phone_number":"+15555550100",
			"street_address":["20 N San Mateo Dr"],"city":"San Mateo","state":"CA","postal_code":"94401"},
			"identity":{"given_name":"Ada","family_name":"Lovelace","date_of_birth":"1990-01-01","tax_id":"666-55-4321",
			"tax_id_type":"USA_SSN","country_of_tax_residence":"USA","funding_source":["employment_income"]},
			"disclosures":{"is_control_person":false,"is_affiliated_exchange_or_finra":false,"is_politically_exposed":false,
			"immediate_family_exposed":false},
			"agreements":[{"agreement":"customer_agreement","signed_at":"2026-01-05T15:00:00Z","ip_address":"127.0.0.1"}]}`, &acct)
		return acct.ID
	}
	order := func(acct, symbol string) string {
		t.Helper()
		var o struct {
			ID string `json:"id"`
		}
		call("POST", "/v1/trading/accounts/"+acct+"/orders", `{"symbol":"`+symbol+`","qty":"1","side":"buy","type":"market","time_in_force":"day"}`, &o)
		return o.ID
	}
	mustOpen := func(query string) *activitySSE {
		t.Helper()
		s, resp := openActivities(t, ctx, srv.URL, query, firm)
		if s == nil {
			b, _ := io.ReadAll(resp.Body)
			t.Fatalf("%q: status %d: %s", query, resp.StatusCode, b)
		}
		return s
	}
	one, two := open("one@example.com"), open("two@example.com")
	all := mustOpen("")
	only := mustOpen("?account_id=" + two)
	o1, o2, o3 := order(one, "AAPL"), order(two, "MSFT"), order(one, "SPY")
	for _, want := range []struct{ acct, order string }{{one, o1}, {two, o2}, {one, o3}} {
		if ev := all.must(); ev.ActivityType != "FILL" || ev.OrderID != want.order || ev.AccountID != want.acct {
			t.Errorf("firm-wide: %+v, want the fill of %s in %s", ev, want.order, want.acct)
		}
	}
	if ev := only.must(); ev.OrderID != o2 || ev.AccountID != two {
		t.Errorf("account_id: %+v, want the fill of %s in %s", ev, o2, two)
	}
	// Replayed from the start: both deposits, then the fills, in order,
	// with ids that resume.
	replay := mustOpen("?since=2000-01-01")
	var ids []string
	for _, want := range []struct{ typ, acct, order string }{{"CSD", one, ""}, {"CSD", two, ""}, {"FILL", one, o1}, {"FILL", two, o2}, {"FILL", one, o3}} {
		ev := replay.must()
		if ev.ActivityType != want.typ || ev.AccountID != want.acct || ev.OrderID != want.order {
			t.Errorf("replay: %+v, want %s of %s %s", ev, want.typ, want.acct, want.order)
		}
		if len(ids) > 0 && ev.EventID <= ids[len(ids)-1] {
			t.Errorf("event id %s after %s", ev.EventID, ids[len(ids)-1])
		}
		ids = append(ids, ev.EventID)
	}
	resumed := mustOpen("?since_id=" + ids[2] + "&until_id=" + ids[4])
	for _, want := range ids[3:] {
		if ev := resumed.must(); ev.EventID != want {
			t.Errorf("resumed: %s, want %s", ev.EventID, want)
		}
	}
	resumed.ended()
	for _, tc := range []struct {
		query string
		code  int
	}{{"?since_id=x", 422}, {"?account_id=9d4a2c1e-0000-4000-8000-000000000000", 404}} {
		if s, resp := openActivities(t, ctx, srv.URL, tc.query, firm); s != nil || resp.StatusCode != tc.code {
			t.Errorf("%q: status %d, want %d", tc.query, resp.StatusCode, tc.code)
		}
	}
}
