package sim_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/quantum-alpaca/quantum/alpaca"
	"github.com/quantum-alpaca/quantum/internal/simtest"
	"github.com/quantum-alpaca/quantum/sim"
)

// caLast is the New York midnight by which both the first split and the
// first dividend of caStart's market have taken effect.
func caLast(split, div map[string]any) time.Time {
	last := nyMidnight(split["ex_date"].(string))
	if pay := nyMidnight(div["payable_date"].(string)); pay.After(last) {
		last = pay
	}
	return last
}

// corpTail checks that list is the deposit, two fills, then only SPLIT
// and DIV activities, at least one of each, and returns those.
func corpTail(t *testing.T, list []alpaca.Activity) []alpaca.Activity {
	t.Helper()
	var kinds []string
	for _, a := range list {
		kinds = append(kinds, a.ActivityType)
	}
	if len(list) < 5 || strings.Join(kinds[:3], ",") != "CSD,FILL,FILL" ||
		!slices.Contains(kinds[3:], "SPLIT") || !slices.Contains(kinds[3:], "DIV") {
		t.Fatalf("activities %v, want CSD,FILL,FILL then SPLIT and DIV", kinds)
	}
	for _, k := range kinds[3:] {
		if k != "SPLIT" && k != "DIV" {
			t.Fatalf("activities %v, want only SPLIT and DIV after the fills", kinds)
		}
	}
	return list[3:]
}

// The SPLIT and DIV activities of corporate actions are on the activity
// stream where they happened among the others: live as the clock passes
// them, replayed from since, since_id and until_id, with the REST
// listing's ids, and a fill after them comes after them (issue 9).
func TestCorporateActionActivityStream(t *testing.T) {
	srv := simtest.Start(t, sim.Config{Seed: 21, Clock: sim.NewSteppedClock(caStart)})
	c := caClient{t: t, base: srv.URL}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second) // a safety net only
	defer cancel()
	auth := func(r *http.Request) {
		r.Header.Set("APCA-API-KEY-ID", "PKCORPACTIONS")
		r.Header.Set("APCA-API-SECRET-KEY", "secret")
	}
	split := c.firstAction("forward_split", "forward_splits")
	div := c.firstAction("cash_dividend", "cash_dividends")
	buy := func(sym string) string {
		var o alpaca.Order
		c.json("POST", "/v2/orders", map[string]any{"symbol": sym, "qty": "10", "side": "buy", "type": "market", "time_in_force": "day"}, http.StatusOK, &o)
		return o.ID
	}
	buy(split["symbol"].(string))
	buy(div["symbol"].(string))

	live, resp := openActivities(t, ctx, srv.URL, "?since=2026-02-02", auth)
	if live == nil {
		t.Fatalf("status %d", resp.StatusCode)
	}
	for range 3 { // the deposit and the two fills
		live.must()
	}
	c.advanceTo(caLast(split, div).Add(time.Minute))
	var rest []alpaca.Activity
	c.json("GET", "/v2/account/activities?direction=asc", nil, http.StatusOK, &rest)
	corp := corpTail(t, rest)
	for _, want := range corp {
		if ev := live.must(); ev.ID != want.ID || ev.ActivityType != want.ActivityType || ev.Symbol != want.Symbol {
			t.Errorf("live: %+v, want %s %s", ev, want.ActivityType, want.ID)
		}
	}
	later := buy("SPY")
	c.json("GET", "/v2/account/activities?direction=asc", nil, http.StatusOK, &rest)
	if ev := live.must(); ev.OrderID != later || ev.ID != rest[len(rest)-1].ID {
		t.Errorf("after the corporate actions: %+v, want the fill of %s", ev, later)
	}
	ids := make([]string, len(live.raw))
	for i, r := range live.raw {
		ids[i] = r["event_id"].(string)
		if i > 0 && ids[i] <= ids[i-1] {
			t.Errorf("event ids out of order: %s then %s", ids[i-1], ids[i])
		}
	}
	if len(ids) != len(rest) {
		t.Fatalf("%d events, %d activities", len(ids), len(rest))
	}

	t.Run("SinceID", func(t *testing.T) {
		s, _ := openActivities(t, ctx, srv.URL, "?since_id="+ids[2], auth)
		for _, want := range ids[3:] {
			if ev := s.must(); ev.EventID != want {
				t.Fatalf("resumed at %s, want %s", ev.EventID, want)
			}
		}
	})
	t.Run("UntilID", func(t *testing.T) {
		s, _ := openActivities(t, ctx, srv.URL, "?since_id="+ids[2]+"&until_id="+ids[3], auth)
		if ev := s.must(); ev.EventID != ids[3] || ev.ID != corp[0].ID {
			t.Fatalf("got %+v, want %s", ev, ids[3])
		}
		s.ended()
	})
	t.Run("Since", func(t *testing.T) {
		// From the first action's date: it comes first, the fills of the
		// first day not at all.
		s, _ := openActivities(t, ctx, srv.URL, "?since="+corp[0].Date, auth)
		for i, want := range ids[3:] {
			if ev := s.must(); ev.EventID != want || ev.ID != rest[3+i].ID {
				t.Fatalf("got %+v, want %s", ev, want)
			}
		}
	})
}

// The Broker API's activity routes list a customer's SPLIT and DIV
// activities as the Trading API's do: merged in time order, paged the
// same in both directions, by type and by date; and the firm's activity
// streams carry them (issue 9).
func TestCorporateActionActivitiesBrokerAPI(t *testing.T) {
	srv := simtest.Start(t, sim.Config{Seed: 21, Clock: sim.NewSteppedClock(caStart), BrokerKey: firmKey, BrokerSecret: firmSecret})
	spec := specRouter(t, "broker", srv.URL)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second) // a safety net only
	defer cancel()
	c := caClient{t: t, base: srv.URL}
	split := c.firstAction("forward_split", "forward_splits")
	div := c.firstAction("cash_dividend", "cash_dividends")
	acct, _ := brokerSpecCall(t, spec, srv.URL, "POST", "/v1/accounts", customerApplication("ca@example.com"), 200, false).(map[string]any)
	id, _ := acct["id"].(string)
	if id == "" {
		t.Fatalf("account: %v", acct)
	}
	for _, sym := range []string{split["symbol"].(string), div["symbol"].(string)} {
		brokerSpecCall(t, spec, srv.URL, "POST", "/v1/trading/accounts/"+id+"/orders", map[string]any{
			"symbol": sym, "qty": "10", "side": "buy", "type": "market", "time_in_force": "day"}, 200, false)
	}
	firm := func(r *http.Request) { r.SetBasicAuth(firmKey, firmSecret) }
	one, _ := openActivities(t, ctx, srv.URL, "?since=2026-02-02&account_id="+id, firm)
	all, _ := openActivities(t, ctx, srv.URL, "", firm)
	if one == nil || all == nil {
		t.Fatal("activity streams refused")
	}
	if _, err := srv.AdvanceClock(ctx, caLast(split, div).Add(time.Minute)); err != nil {
		t.Fatal(err)
	}

	// list GETs a Broker API activity route and decodes the answer.
	list := func(path string) []alpaca.Activity {
		t.Helper()
		var out []alpaca.Activity
		for _, v := range brokerSpecCall(t, spec, srv.URL, "GET", path, nil, 200, false).([]any) {
			m := v.(map[string]any)
			a := alpaca.Activity{ID: m["id"].(string), ActivityType: m["activity_type"].(string)}
			a.Symbol, _ = m["symbol"].(string)
			a.Date, _ = m["date"].(string)
			out = append(out, a)
		}
		return out
	}
	asc := list("/v1/accounts/activities?direction=asc&account_id=" + id)
	corp := corpTail(t, asc)
	desc := list("/v1/accounts/activities?account_id=" + id)
	rev := slices.Clone(asc)
	slices.Reverse(rev)
	if !slices.Equal(desc, rev) {
		t.Errorf("descending %v, ascending %v", desc, asc)
	}
	for _, dir := range []string{"asc", "desc"} {
		paged := pagedByOne("/v1/accounts/activities?direction="+dir+"&account_id="+id+"&", len(asc)+1, list,
			func(a alpaca.Activity) string { return a.ID })
		want := asc
		if dir == "desc" {
			want = desc
		}
		if !slices.Equal(paged, want) {
			t.Errorf("%s: paged %v, want %v", dir, paged, want)
		}
	}
	for _, typ := range []string{"SPLIT", "DIV"} {
		want := slices.DeleteFunc(slices.Clone(corp), func(a alpaca.Activity) bool { return a.ActivityType != typ })
		if got := list("/v1/accounts/activities/" + typ + "?direction=asc&account_id=" + id); !slices.Equal(got, want) {
			t.Errorf("%s: %v, want %v", typ, got, want)
		}
	}
	if got := list("/v1/accounts/activities/FILL?direction=asc&account_id=" + id); !slices.Equal(got, asc[1:3]) {
		t.Errorf("FILL: %v, want %v", got, asc[1:3])
	}
	day := corp[0].Date
	var want []alpaca.Activity
	for _, a := range corp {
		if a.Date == day {
			want = append(want, a)
		}
	}
	if got := list("/v1/accounts/activities?direction=asc&date=" + day + "&account_id=" + id); !slices.Equal(got, want) {
		t.Errorf("date %s: %v, want %v", day, got, want)
	}

	// The customer's stream replays the deposit and the fills and then
	// has the actions; the firm's, opened after the fills, has only the
	// actions, each naming the customer.
	for range 3 {
		one.must()
	}
	for _, a := range corp {
		if ev := one.must(); ev.ID != a.ID || ev.AccountID != id {
			t.Errorf("customer's stream: %+v, want %s %s", ev, a.ActivityType, a.ID)
		}
		if ev := all.must(); ev.ID != a.ID || ev.AccountID != id || ev.ActivityType != a.ActivityType {
			t.Errorf("firm's stream: %+v, want %s %s", ev, a.ActivityType, a.ID)
		}
	}
}
