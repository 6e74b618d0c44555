package sim_test

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/quantum-alpaca/quantum/alpaca"
	"github.com/quantum-alpaca/quantum/internal/simtest"
	"github.com/quantum-alpaca/quantum/sim"
)

// cashItem is an item of a Broker API activity listing, in full.
type cashItem struct {
	alpaca.Activity
	AccountID string `json:"account_id"`
}

func (a cashItem) String() string {
	net := ""
	if a.NetAmount != nil {
		net = " " + a.NetAmount.String()
	}
	return a.ActivityType + net + "/" + a.AccountID[:4] + "/" + a.ID
}

// key is what two listings must agree on.
func (a cashItem) key() string { return a.AccountID + "/" + a.ActivityType + "/" + a.ID }

func cashKeys(list []cashItem) []string {
	out := make([]string, len(list))
	for i, a := range list {
		out[i] = a.key()
	}
	return out
}

// Cash journals and transfers record account activities (issue 9): a
// JNLC on each customer side of a journal (negative on the source,
// positive on the destination, its description naming the journal), a
// CSD for a transfer in and a CSW for one out, executed; they are listed
// among the fills in the order they happened, per account and firm-wide,
// by type, by date and by page, and they are on the activity stream, live
// and replayed. A refused journal or withdrawal records nothing.
func TestCashActivities(t *testing.T) {
	srv := simtest.Start(t, sim.Config{Seed: 21, Clock: sim.NewSteppedClock(caStart), BrokerKey: firmKey, BrokerSecret: firmSecret})
	spec := specRouter(t, "broker", srv.URL)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second) // a safety net only
	defer cancel()
	call := func(method, path string, body any, want int) any {
		t.Helper()
		return brokerSpecCall(t, spec, srv.URL, method, path, body, want, false)
	}
	list := func(path string) []cashItem {
		t.Helper()
		raw, _ := json.Marshal(call("GET", path, nil, http.StatusOK))
		var out []cashItem
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("GET %s: %s: %v", path, raw, err)
		}
		return out
	}
	field := func(v any, name string) string {
		m, _ := v.(map[string]any)
		s, _ := m[name].(string)
		return s
	}
	advance := func(to time.Time) {
		t.Helper()
		if _, err := srv.AdvanceClock(ctx, to); err != nil {
			t.Fatal(err)
		}
	}
	var ids []string
	for i := range 2 {
		id := field(call("POST", "/v1/accounts", customerApplication(fmt.Sprintf("cash%d@example.com", i)), http.StatusOK), "id")
		if id == "" {
			t.Fatal("no account id")
		}
		ids = append(ids, id)
	}
	a, b := ids[0], ids[1]
	firm := func(r *http.Request) { r.SetBasicAuth(firmKey, firmSecret) }
	open := func(query string) *activitySSE {
		t.Helper()
		s, resp := openActivities(t, ctx, srv.URL, query, firm)
		if s == nil {
			t.Fatalf("%q: status %d", query, resp.StatusCode)
		}
		return s
	}
	live, liveB := open(""), open("?account_id="+b)

	journal := func(from, to, amount, desc string) string {
		t.Helper()
		return field(call("POST", "/v1/journals", map[string]any{"entry_type": "JNLC", "from_account": from,
			"to_account": to, "amount": amount, "description": desc}, http.StatusOK), "id")
	}
	transfer := func(acct, dir, amount string, want int) string {
		t.Helper()
		return field(call("POST", "/v1/accounts/"+acct+"/transfers", map[string]any{"transfer_type": "ach",
			"relationship_id": "81412018-ffa2-43f9-a3eb-d39f1c5e0f87", "amount": amount, "direction": dir,
			"timing": "immediate"}, want), "id")
	}
	buy := func(acct, symbol string) {
		t.Helper()
		call("POST", "/v1/trading/accounts/"+acct+"/orders", map[string]any{
			"symbol": symbol, "qty": "1", "side": "buy", "type": "market", "time_in_force": "day"}, http.StatusOK)
	}

	// Day one: the firm funds a, a pays b, b deposits and a withdraws;
	// each buys, the opening fills them, then b pays a back. Day two: the
	// firm funds b. A journal and a withdrawal beyond the cash are refused.
	j1 := journal(srv.FirmAccountID(), a, "5000", "seed money")
	j2 := journal(a, b, "1000", "")
	t1 := transfer(b, "INCOMING", "250", http.StatusOK)
	t2 := transfer(a, "OUTGOING", "100", http.StatusOK)
	buy(a, "SPY")
	buy(b, "AAPL")
	advance(caStart.Add(2 * time.Hour))
	j3 := journal(b, a, "10.50", "")
	advance(caStart.Add(25 * time.Hour))
	j4 := journal(srv.FirmAccountID(), b, "20", "")
	call("POST", "/v1/journals", map[string]any{"entry_type": "JNLC", "from_account": a, "to_account": b, "amount": "1000000000"}, http.StatusForbidden)
	transfer(b, "OUTGOING", "1000000000", http.StatusForbidden)
	day1, day2 := caStart.In(newYork).Format(time.DateOnly), caStart.Add(25*time.Hour).In(newYork).Format(time.DateOnly)

	// Each account's listing, oldest first: what happened to it, in order.
	type want struct{ typ, net, ref, day string }
	wants := map[string][]want{
		a: {{"CSD", "", "", day1}, {"JNLC", "5000", j1, day1}, {"JNLC", "-1000", j2, day1}, {"CSW", "-100", t2, day1},
			{"FILL", "", "", ""}, {"JNLC", "10.5", j3, day1}},
		b: {{"CSD", "", "", day1}, {"JNLC", "1000", j2, day1}, {"CSD", "250", t1, day1}, {"FILL", "", "", ""},
			{"JNLC", "-10.5", j3, day1}, {"JNLC", "20", j4, day2}},
	}
	own := map[string][]cashItem{}
	pos := map[string]int{} // activity id -> place in its account's listing
	for _, id := range ids {
		got := list("/v1/accounts/activities?direction=asc&account_id=" + id)
		own[id] = got
		w := wants[id]
		if len(got) != len(w) {
			t.Fatalf("account %s: %v, want %v", id[:4], got, w)
		}
		for i, g := range got {
			pos[g.ID] = i
			if g.AccountID != id || g.ActivityType != w[i].typ {
				t.Errorf("account %s item %d: %v, want a %s", id[:4], i, g, w[i].typ)
			}
			if w[i].ref == "" {
				continue
			}
			if g.NetAmount == nil || !g.NetAmount.Equal(decimal.RequireFromString(w[i].net)) {
				t.Errorf("%v: net_amount, want %s", g, w[i].net)
			}
			if !strings.Contains(g.Description, w[i].ref) || g.Status != "executed" || g.Date != w[i].day {
				t.Errorf("%v: description %q, status %q, date %s; want %s named, executed, %s", g, g.Description, g.Status, g.Date, w[i].ref, w[i].day)
			}
			if st := g.ID[:8]; st != strings.ReplaceAll(g.Date, "-", "") {
				t.Errorf("%v: id's date %s, activity's %s", g, st, g.Date)
			}
		}
	}
	if d := own[a][1].Description; !strings.Contains(d, "seed money") || !strings.Contains(d, srv.FirmAccountID()) {
		t.Errorf("journal from the firm: description %q, want the firm's account and the journal's description", d)
	}

	// Firm-wide: the merge of the accounts' listings by time, then
	// account id.
	merged := append(slices.Clone(own[a]), own[b]...)
	slices.SortStableFunc(merged, func(x, y cashItem) int {
		return cmp.Or(strings.Compare(x.ID[:17], y.ID[:17]), strings.Compare(x.AccountID, y.AccountID), cmp.Compare(pos[x.ID], pos[y.ID]))
	})
	asc := list("/v1/accounts/activities?direction=asc")
	if !slices.Equal(cashKeys(asc), cashKeys(merged)) {
		t.Fatalf("firm-wide:\n%v\nwant\n%v", asc, merged)
	}
	desc := slices.Clone(asc)
	slices.Reverse(desc)
	only := func(from []cashItem, keep func(cashItem) bool) []cashItem {
		return slices.DeleteFunc(slices.Clone(from), func(x cashItem) bool { return !keep(x) })
	}
	ofType := func(types ...string) func(cashItem) bool {
		return func(x cashItem) bool { return slices.Contains(types, x.ActivityType) }
	}

	t.Run("Descending", func(t *testing.T) {
		if got := list("/v1/accounts/activities"); !slices.Equal(cashKeys(got), cashKeys(desc)) {
			t.Errorf("descending:\n%v\nwant\n%v", got, desc)
		}
	})
	t.Run("ByType", func(t *testing.T) {
		for _, tc := range []struct {
			query string
			keep  func(cashItem) bool
		}{
			{"/v1/accounts/activities/JNLC?direction=asc", ofType("JNLC")},
			{"/v1/accounts/activities/CSW?direction=asc", ofType("CSW")},
			{"/v1/accounts/activities?direction=asc&activity_types=CSD", ofType("CSD")},
			{"/v1/accounts/activities?direction=asc&activity_types=TRANS", ofType("CSD", "CSW")},
			{"/v1/accounts/activities?direction=asc&activity_types=JNLC,FILL", ofType("JNLC", "FILL")},
			{"/v1/accounts/activities?direction=asc&category=non_trade_activity", func(x cashItem) bool { return x.ActivityType != "FILL" }},
			{"/v1/accounts/activities/JNLC?direction=asc&account_id=" + b, func(x cashItem) bool { return x.ActivityType == "JNLC" && x.AccountID == b }},
		} {
			w := only(asc, tc.keep)
			if len(w) == 0 {
				t.Fatalf("%s: nothing to list in %v", tc.query, asc)
			}
			if got := list(tc.query); !slices.Equal(cashKeys(got), cashKeys(w)) {
				t.Errorf("%s:\n%v\nwant\n%v", tc.query, got, w)
			}
		}
	})
	t.Run("ByDate", func(t *testing.T) {
		for _, day := range []string{day1, day2} {
			w := only(asc, func(x cashItem) bool {
				return x.Date == day || x.Date == "" && x.TransactionTime.In(newYork).Format(time.DateOnly) == day
			})
			if got := list("/v1/accounts/activities?direction=asc&date=" + day); !slices.Equal(cashKeys(got), cashKeys(w)) {
				t.Errorf("date %s:\n%v\nwant\n%v", day, got, w)
			}
			// The spec's other form: a time, which names its New York day.
			if got := list("/v1/accounts/activities?direction=asc&date=" + day + "T17:00:00Z"); !slices.Equal(cashKeys(got), cashKeys(w)) {
				t.Errorf("date %sT17:00:00Z:\n%v\nwant\n%v", day, got, w)
			}
			w = only(w, ofType("JNLC"))
			if got := list("/v1/accounts/activities/JNLC?direction=asc&date=" + day); !slices.Equal(cashKeys(got), cashKeys(w)) {
				t.Errorf("journals on %s:\n%v\nwant\n%v", day, got, w)
			}
		}
		if got := list("/v1/accounts/activities?date=" + day2); len(got) != 1 || !strings.Contains(got[0].Description, j4) {
			t.Errorf("date %s: %v, want the one journal %s", day2, got, j4)
		}
	})
	t.Run("Paged", func(t *testing.T) {
		for _, tc := range []struct{ query, dir string }{{"/v1/accounts/activities?", "asc"}, {"/v1/accounts/activities?", "desc"},
			{"/v1/accounts/activities/JNLC?", "asc"}, {"/v1/accounts/activities/JNLC?", "desc"}} {
			w := asc
			if strings.Contains(tc.query, "JNLC") {
				w = only(asc, ofType("JNLC"))
			}
			if tc.dir == "desc" {
				w = slices.Clone(w)
				slices.Reverse(w)
			}
			paged := pagedByOne(tc.query+"direction="+tc.dir+"&", len(w)+1, list,
				func(a cashItem) string { return a.ID })
			if !slices.Equal(cashKeys(paged), cashKeys(w)) {
				t.Errorf("%s %s, a page of one at a time:\n%v\nwant\n%v", tc.query, tc.dir, paged, w)
			}
		}
	})
	t.Run("Stream", func(t *testing.T) {
		// Live, the firm's stream has every activity after the deposits in
		// the order it happened: per account its listing's order, and a
		// journal's source before its destination.
		var got []activityEvent
		for range len(asc) - 2 {
			got = append(got, live.must())
		}
		for _, id := range ids {
			var mine []string
			for _, ev := range got {
				if ev.AccountID == id {
					mine = append(mine, id+"/"+ev.ActivityType+"/"+ev.ID)
				}
			}
			if w := cashKeys(own[id][1:]); !slices.Equal(mine, w) {
				t.Errorf("live, account %s:\n%v\nwant\n%v", id[:4], mine, w)
			}
		}
		src := slices.IndexFunc(got, func(ev activityEvent) bool { return ev.ID == own[a][2].ID })
		dst := slices.IndexFunc(got, func(ev activityEvent) bool { return ev.ID == own[b][1].ID })
		if src < 0 || dst < 0 || src > dst {
			t.Errorf("journal %s: source at %d, destination at %d of the stream", j2, src, dst)
		}
		for i := 1; i < len(got); i++ {
			if got[i].EventID <= got[i-1].EventID {
				t.Errorf("event id %s after %s", got[i].EventID, got[i-1].EventID)
			}
		}
		// One customer's stream, live and replayed: its listing.
		var mineB []string
		for range len(own[b]) - 1 {
			ev := liveB.must()
			mineB = append(mineB, ev.AccountID+"/"+ev.ActivityType+"/"+ev.ID)
		}
		if w := cashKeys(own[b][1:]); !slices.Equal(mineB, w) {
			t.Errorf("live, account_id %s:\n%v\nwant\n%v", b[:4], mineB, w)
		}
		replayB := open("?account_id=" + b + "&since=2000-01-01")
		for i, w := range own[b] {
			ev := replayB.must()
			if ev.ID != w.ID || ev.ActivityType != w.ActivityType {
				t.Errorf("replayed, account_id %s, event %d: %s %s, want %v", b[:4], i, ev.ActivityType, ev.ID, w)
			}
			if net, _ := replayB.raw[len(replayB.raw)-1]["net_amount"].(string); w.NetAmount != nil && net != w.NetAmount.String() {
				t.Errorf("replayed %v: net_amount %s", w, net)
			}
		}
		// Replayed firm-wide from the start: the deposits, then what the
		// live stream had; resumed by id, the same again.
		replay := open("?since=2000-01-01")
		for range 2 {
			if ev := replay.must(); ev.ActivityType != "CSD" {
				t.Errorf("replay: %+v, want a deposit first", ev)
			}
		}
		for i, w := range got {
			if ev := replay.must(); ev != w {
				t.Errorf("replay, event %d: %+v, want %+v", i, ev, w)
			}
		}
		resumed := open("?since_id=" + got[2].EventID + "&until_id=" + got[5].EventID)
		for _, w := range got[3:6] {
			if ev := resumed.must(); ev != w {
				t.Errorf("resumed: %+v, want %+v", ev, w)
			}
		}
		resumed.ended()
	})
	t.Run("FirmAccountHasNoListing", func(t *testing.T) {
		// The firm's account is an id to journal from, with no activities.
		call("GET", "/v1/accounts/activities?account_id="+srv.FirmAccountID(), nil, http.StatusNotFound)
	})
}

// With date, the Broker API's activity route answers every activity of
// the day in one page and takes a page_size over 100, as broker.yaml
// says; without date the default and the maximum stay 100 (issue 9).
func TestBrokerActivitiesByDateUnpaged(t *testing.T) {
	srv := simtest.Start(t, sim.Config{Seed: 21, Clock: sim.NewSteppedClock(caStart), BrokerKey: firmKey, BrokerSecret: firmSecret})
	spec := specRouter(t, "broker", srv.URL)
	call := func(method, path string, body any, want int) []any {
		t.Helper()
		out, _ := brokerSpecCall(t, spec, srv.URL, method, path, body, want, false).([]any)
		return out
	}
	raw := brokerSpecCall(t, spec, srv.URL, "POST", "/v1/accounts", customerApplication("unpaged@example.com"), http.StatusOK, false)
	id, _ := raw.(map[string]any)["id"].(string)
	const n = 120
	for range n {
		brokerSpecCall(t, spec, srv.URL, "POST", "/v1/journals", map[string]any{"entry_type": "JNLC",
			"from_account": srv.FirmAccountID(), "to_account": id, "amount": "1"}, http.StatusOK, false)
	}
	day := caStart.In(newYork).Format(time.DateOnly)
	for _, tc := range []struct {
		query string
		want  int
	}{
		{"?date=" + day, n + 1},
		{"?date=" + day + "&page_size=150", n + 1},
		{"?date=" + day + "&page_size=7", 7},
		{"/JNLC?date=" + day, n},
		{"?account_id=" + id + "&date=" + day, n + 1},
		{"", 100},
		{"?page_size=100", 100},
	} {
		if got := call("GET", "/v1/accounts/activities"+tc.query, nil, http.StatusOK); len(got) != tc.want {
			t.Errorf("%s: %d activities, want %d", tc.query, len(got), tc.want)
		}
	}
	call("GET", "/v1/accounts/activities?page_size=101", nil, http.StatusUnprocessableEntity)
}

// On the Trading API, JNLC names journals, which a Trading API account
// has none of: its starting deposit is a CSD (issue 9).
func TestTradingActivitiesJNLC(t *testing.T) {
	c := startCorp(t)
	var got []alpaca.Activity
	c.json("GET", "/v2/account/activities/JNLC", nil, http.StatusOK, &got)
	if len(got) != 0 {
		t.Errorf("JNLC: %v, want none", got)
	}
	for _, typ := range []string{"CSD", "TRANS"} {
		c.json("GET", "/v2/account/activities?activity_types="+typ, nil, http.StatusOK, &got)
		if len(got) != 1 || got[0].ActivityType != "CSD" {
			t.Errorf("%s: %v, want the deposit", typ, got)
		}
	}
}
