package sim_test

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/quantum-alpaca/quantum/internal/simtest"
	"github.com/quantum-alpaca/quantum/sim"
)

// firmItem is an item of a Broker API activity listing.
type firmItem struct {
	ID, Type, AccountID, OrderID, Symbol string
}

func (a firmItem) String() string { return a.Type + "/" + a.AccountID[:4] + "/" + a.ID }

// stamp is the time an activity id records, in New York.
func (a firmItem) stamp(t *testing.T) time.Time {
	t.Helper()
	st, _, _ := strings.Cut(a.ID, "::")
	at, err := time.Parse("20060102150405.000", st[:14]+"."+st[14:])
	if err != nil {
		t.Fatalf("activity id %s: %v", a.ID, err)
	}
	return at.In(newYork)
}

// Without account_id, the Broker API's activity routes list every
// customer's activities: each account's in its own listing's order,
// merged in time order with ties by account id, paged by page_token in
// both directions, by type and by date, each item naming its account
// (issue 9).
func TestFirmActivities(t *testing.T) {
	srv := simtest.Start(t, sim.Config{Seed: 21, Clock: sim.NewSteppedClock(caStart), BrokerKey: firmKey, BrokerSecret: firmSecret})
	spec := specRouter(t, "broker", srv.URL)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second) // a safety net only
	defer cancel()
	c := caClient{t: t, base: srv.URL}
	split := c.firstAction("forward_split", "forward_splits")
	sym := split["symbol"].(string)
	call := func(method, path string, body any) any {
		t.Helper()
		return brokerSpecCall(t, spec, srv.URL, method, path, body, http.StatusOK, false)
	}

	// Three customers, funded by journals (the firm's to the first, the
	// first's to the second) and a transfer (the third).
	var ids []string
	for i := range 3 {
		acct, _ := call("POST", "/v1/accounts", customerApplication(fmt.Sprintf("firm%d@example.com", i))).(map[string]any)
		id, _ := acct["id"].(string)
		if id == "" {
			t.Fatalf("account: %v", acct)
		}
		ids = append(ids, id)
	}
	call("POST", "/v1/journals", map[string]any{"entry_type": "JNLC", "from_account": srv.FirmAccountID(), "to_account": ids[0], "amount": "5000"})
	call("POST", "/v1/journals", map[string]any{"entry_type": "JNLC", "from_account": ids[0], "to_account": ids[1], "amount": "1000"})
	call("POST", "/v1/accounts/"+ids[2]+"/transfers", map[string]any{"transfer_type": "ach",
		"relationship_id": "81412018-ffa2-43f9-a3eb-d39f1c5e0f87", "amount": "250", "direction": "INCOMING", "timing": "immediate"})

	// Each buys the split's symbol; the second SPY too, and the third
	// again a day later.
	owner := map[string]string{} // order id -> account id
	buy := func(id, symbol string) {
		t.Helper()
		o, _ := call("POST", "/v1/trading/accounts/"+id+"/orders", map[string]any{
			"symbol": symbol, "qty": "3", "side": "buy", "type": "market", "time_in_force": "day"}).(map[string]any)
		oid, _ := o["id"].(string)
		owner[oid] = id
	}
	for _, id := range ids {
		buy(id, sym)
	}
	buy(ids[1], "SPY")
	advance := func(to time.Time) {
		t.Helper()
		if _, err := srv.AdvanceClock(ctx, to); err != nil {
			t.Fatal(err)
		}
	}
	advance(caStart.Add(2 * time.Hour)) // the opening fills them
	buy(ids[2], "SPY")
	ex := nyMidnight(split["ex_date"].(string))
	advance(ex.Add(time.Minute))

	list := func(path string) []firmItem {
		t.Helper()
		var out []firmItem
		for _, v := range call("GET", path, nil).([]any) {
			m := v.(map[string]any)
			a := firmItem{ID: m["id"].(string), Type: m["activity_type"].(string)}
			a.AccountID, _ = m["account_id"].(string)
			a.OrderID, _ = m["order_id"].(string)
			a.Symbol, _ = m["symbol"].(string)
			out = append(out, a)
		}
		return out
	}

	// Each customer's own listing, its items naming it, and the firm's
	// as their merge.
	var want []firmItem
	pos := map[string]int{} // activity id -> place in its account's listing
	for _, id := range ids {
		own := list("/v1/accounts/activities?direction=asc&account_id=" + id)
		var kinds []string
		for i, a := range own {
			if a.AccountID != id {
				t.Errorf("account %s lists %v", id, a)
			}
			kinds = append(kinds, a.Type)
			pos[a.ID] = i
		}
		if !slices.Contains(kinds, "CSD") || !slices.Contains(kinds, "FILL") || !slices.Contains(kinds, "SPLIT") {
			t.Fatalf("account %s: %v, want its deposit, fills and split", id, kinds)
		}
		want = append(want, own...)
	}
	slices.SortStableFunc(want, func(x, y firmItem) int {
		return cmp.Or(x.stamp(t).Compare(y.stamp(t)), strings.Compare(x.AccountID, y.AccountID), cmp.Compare(pos[x.ID], pos[y.ID]))
	})
	asc := list("/v1/accounts/activities?direction=asc")
	if !slices.Equal(asc, want) {
		t.Fatalf("firm-wide ascending:\n%v\nwant\n%v", asc, want)
	}
	for _, a := range asc {
		ok := false
		switch a.Type {
		case "CSD": // the starting deposit, or the third's transfer
			ok = strings.HasSuffix(a.ID, "::"+a.AccountID) || a.AccountID == ids[2]
		case "JNLC": // the journals of the first two
			ok = a.AccountID == ids[0] || a.AccountID == ids[1]
		case "FILL":
			ok = owner[a.OrderID] == a.AccountID
		case "SPLIT":
			ok = a.Symbol == sym && slices.Contains(ids, a.AccountID)
		}
		if !ok {
			t.Errorf("%v: not that account's (order %s, symbol %s)", a, a.OrderID, a.Symbol)
		}
	}
	t.Logf("%d activities: %v", len(asc), asc)
	desc := slices.Clone(asc)
	slices.Reverse(desc)

	t.Run("Descending", func(t *testing.T) {
		if got := list("/v1/accounts/activities"); !slices.Equal(got, desc) {
			t.Errorf("descending:\n%v\nwant\n%v", got, desc)
		}
	})
	t.Run("Paged", func(t *testing.T) {
		for _, dir := range []string{"asc", "desc"} {
			paged := pagedByOne("/v1/accounts/activities?direction="+dir+"&", len(asc)+1, list,
				func(a firmItem) string { return a.ID })
			w := asc
			if dir == "desc" {
				w = desc
			}
			if !slices.Equal(paged, w) {
				t.Errorf("%s, a page of one at a time:\n%v\nwant\n%v", dir, paged, w)
			}
		}
	})
	t.Run("ByType", func(t *testing.T) {
		for _, typ := range []string{"FILL", "SPLIT", "CSD"} {
			w := slices.DeleteFunc(slices.Clone(asc), func(a firmItem) bool { return a.Type != typ })
			if got := list("/v1/accounts/activities/" + typ + "?direction=asc"); !slices.Equal(got, w) {
				t.Errorf("%s:\n%v\nwant\n%v", typ, got, w)
			}
			slices.Reverse(w)
			if got := list("/v1/accounts/activities/" + typ); !slices.Equal(got, w) {
				t.Errorf("%s descending:\n%v\nwant\n%v", typ, got, w)
			}
		}
	})
	t.Run("ByDate", func(t *testing.T) {
		for _, day := range []string{caStart.In(newYork).Format(time.DateOnly), ex.Format(time.DateOnly)} {
			w := slices.DeleteFunc(slices.Clone(asc), func(a firmItem) bool { return a.stamp(t).Format(time.DateOnly) != day })
			if len(w) == 0 {
				t.Fatalf("nothing on %s in %v", day, asc)
			}
			if got := list("/v1/accounts/activities?direction=asc&date=" + day); !slices.Equal(got, w) {
				t.Errorf("date %s:\n%v\nwant\n%v", day, got, w)
			}
			w = slices.DeleteFunc(w, func(a firmItem) bool { return a.Type != "FILL" })
			if got := list("/v1/accounts/activities/FILL?direction=asc&date=" + day); !slices.Equal(got, w) {
				t.Errorf("fills on %s:\n%v\nwant\n%v", day, got, w)
			}
		}
		after := ex.Add(-time.Hour).UTC().Format(time.RFC3339)
		w := slices.DeleteFunc(slices.Clone(asc), func(a firmItem) bool { return a.Type != "SPLIT" })
		if got := list("/v1/accounts/activities?direction=asc&after=" + after); !slices.Equal(got, w) {
			t.Errorf("after %s:\n%v\nwant\n%v", after, got, w)
		}
	})
	t.Run("BadPageToken", func(t *testing.T) {
		brokerSpecCall(t, spec, srv.URL, "GET", "/v1/accounts/activities?page_token=20260202140000000::00000000-0000-4000-8000-000000000000", nil, http.StatusUnprocessableEntity, false)
	})
	t.Run("TradingAPIHasNoAccountID", func(t *testing.T) {
		// The Trading API's items do not name their account.
		status, body := c.do("GET", "/v2/account/activities", nil)
		if status != http.StatusOK || !strings.Contains(string(body), `"activity_type"`) || strings.Contains(string(body), "account_id") {
			t.Errorf("GET /v2/account/activities: %d %s", status, body)
		}
	})
}
