package match_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/quantum-alpaca/quantum/sim/match"
)

func TestReplace(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		e := MustEnv(t, nil)
		e.quote("X", "100", "100.05")
		o, _ := e.mustSubmit(lmt("X", match.Buy, "10", "90"))
		e.tick(1)
		n, ev, err := e.replace(o.ID, match.ReplaceRequest{LimitPrice: dec("91"), ClientOrderID: "new-cid"})
		if err != nil {
			t.Fatal(err)
		}
		e.wantEvents(ev, "replaced", "new")
		old := e.order(o.ID)
		if old.Status != match.StatusReplaced || old.ReplacedBy != n.ID || old.ReplacedAt.IsZero() {
			t.Fatalf("old %+v", old)
		}
		if n.ID == o.ID || n.Replaces != o.ID || n.LimitPrice != px("91") || n.Qty != qty("10") || n.ClientOrderID != "new-cid" {
			t.Fatalf("new %+v", n)
		}
		if got := e.a.Snapshot(e.now, nil).ReservedForOrders; got != money("910") {
			t.Fatalf("reserved %s", got)
		}
		// Terminal orders never change again.
		if _, _, err := e.replace(o.ID, match.ReplaceRequest{LimitPrice: dec("92")}); err == nil ||
			err.Error() != `order is already in "replaced" state` {
			t.Fatalf("replace replaced: %v", err)
		}
		// A marketable replacement fills at once.
		_, ev, err = e.replace(n.ID, match.ReplaceRequest{LimitPrice: dec("101"), Qty: dec("4")})
		if err != nil {
			t.Fatal(err)
		}
		e.wantEvents(ev, "replaced", "new", "fill")
		if e.pos("X") != qty("4") {
			t.Fatalf("pos %s", e.pos("X"))
		}
		e.check()
	})
	t.Run("qty is the new order's total; omitted qty carries the unfilled rest", func(t *testing.T) {
		e := MustEnv(t, func(c *match.Config) { c.PartialFillRate = 1 })
		e.quote("X", "100", "100.05")
		o, _ := e.mustSubmit(lmt("X", match.Buy, "10", "100.05"))
		rest := o.Qty - o.FilledQty
		n, _, err := e.replace(o.ID, match.ReplaceRequest{LimitPrice: dec("90")})
		if err != nil {
			t.Fatal(err)
		}
		if n.Qty != rest || n.FilledQty != 0 {
			t.Fatalf("new qty %s, want %s", n.Qty, rest)
		}
		n2, _, err := e.replace(n.ID, match.ReplaceRequest{Qty: dec("3")})
		if err != nil || n2.Qty != qty("3") {
			t.Fatalf("%v %+v", err, n2)
		}
	})
	t.Run("errors", func(t *testing.T) {
		e := MustEnv(t, nil)
		e.quote("X", "100", "100.05")
		o, _ := e.mustSubmit(lmt("X", match.Buy, "10", "90"))
		for name, c := range map[string]struct {
			r    match.ReplaceRequest
			kind match.Kind
			msg  string
		}{
			"unchanged":      {match.ReplaceRequest{LimitPrice: dec("90")}, match.KindForbidden, "order parameters are not changed"},
			"nothing":        {match.ReplaceRequest{}, match.KindForbidden, "order parameters are not changed"},
			"stop on limit":  {match.ReplaceRequest{StopPrice: dec("80")}, match.KindUnprocessable, ""},
			"sub-penny":      {match.ReplaceRequest{LimitPrice: dec("90.001")}, match.KindUnprocessable, "invalid limit_price 90.001. sub-penny increment does not fulfill minimum pricing criteria"},
			"fractional qty": {match.ReplaceRequest{Qty: dec("1.5")}, match.KindValidation, "qty must be integer"},
			"bad tif":        {match.ReplaceRequest{TimeInForce: "week"}, match.KindValidation, ""},
			"buying power":   {match.ReplaceRequest{Qty: dec("100000")}, match.KindForbidden, "insufficient buying power"},
			"duplicate cid":  {match.ReplaceRequest{LimitPrice: dec("89"), ClientOrderID: o.ClientOrderID}, match.KindDuplicate, "client_order_id must be unique"},
			"cid too long":   {match.ReplaceRequest{LimitPrice: dec("89"), ClientOrderID: strings.Repeat("x", 129)}, match.KindValidation, ""},
			"trail on limit": {match.ReplaceRequest{Trail: dec("1")}, match.KindUnprocessable, ""},
		} {
			_, _, err := e.replace(o.ID, c.r)
			var me *match.Error
			if !errors.As(err, &me) || me.Kind != c.kind || c.msg != "" && me.Message != c.msg {
				t.Errorf("%s: got %v", name, err)
			}
		}
		if e.order(o.ID).Status != match.StatusNew {
			t.Fatal("failed replaces must not touch the order")
		}
		if _, _, err := e.replace(match.UUID{}, match.ReplaceRequest{LimitPrice: dec("1")}); !errors.Is(err, match.ErrNotFound) {
			t.Fatalf("unknown: %v", err)
		}
	})
	t.Run("bracket leg price", func(t *testing.T) {
		e := MustEnv(t, nil)
		e.quote("X", "100", "100.05")
		o, _ := e.mustSubmit(bracket(match.Buy, "10", "101", "105", "95"))
		n, _, err := e.replace(o.Legs[0].ID, match.ReplaceRequest{LimitPrice: dec("106")})
		if err != nil {
			t.Fatal(err)
		}
		p, _ := e.a.Order(o.ID.String(), true)
		if p.Legs[0].ID != n.ID || n.ParentID != o.ID {
			t.Fatalf("leg not swapped into the group: %+v", p.Legs)
		}
		if _, _, err := e.replace(n.ID, match.ReplaceRequest{LimitPrice: dec("94")}); err == nil {
			t.Fatal("take profit below stop loss accepted")
		}
		e.wantEvents(e.quote("X", "94", "94.1"), "fill", "canceled")
		if got := e.order(n.ID); got.Status != match.StatusCanceled {
			t.Fatalf("replaced tp %s", got.Status)
		}
	})
	t.Run("trailing stop trail", func(t *testing.T) {
		e := MustEnv(t, nil)
		e.quote("X", "100", "100.05")
		e.mustSubmit(mkt("X", match.Buy, "1"))
		o, _ := e.mustSubmit(match.OrderRequest{Symbol: "X", Side: match.Sell, Type: match.TrailingStop, TimeInForce: match.Day, Qty: dec("1"), TrailPercent: dec("5")})
		n, _, err := e.replace(o.ID, match.ReplaceRequest{Trail: dec("1")})
		if err != nil {
			t.Fatal(err)
		}
		if n.TrailPercent != 10000 || n.TrailPrice != 0 || n.HWM != px("100") || n.StopPrice != px("99") {
			t.Fatalf("new %+v", n)
		}
	})
}

func TestCancel(t *testing.T) {
	e := MustEnv(t, nil)
	e.quote("X", "100", "100.05")
	o, _ := e.mustSubmit(lmt("X", match.Buy, "10", "90"))
	if got := e.a.Snapshot(e.now, nil).BuyingPower; got != money("99100") {
		t.Fatalf("bp %s", got)
	}
	ev, err := e.cancel(o.ID)
	if err != nil {
		t.Fatal(err)
	}
	e.wantEvents(ev, "canceled")
	if got := e.order(o.ID); got.Status != match.StatusCanceled || got.CanceledAt.IsZero() {
		t.Fatalf("order %+v", got)
	}
	if got := e.a.Snapshot(e.now, nil).BuyingPower; got != money("100000") {
		t.Fatalf("bp after cancel %s", got)
	}
	_, err = e.cancel(o.ID)
	var me *match.Error
	if !errors.As(err, &me) || me.Message != `order is already in "canceled" state` || me.HTTPStatus() != 422 || me.Code() != 42210000 {
		t.Fatalf("second cancel: %v", err)
	}
	f, _ := e.mustSubmit(mkt("X", match.Buy, "1"))
	if _, err := e.cancel(f.ID); err == nil || err.Error() != `order is already in "filled" state` {
		t.Fatalf("cancel filled: %v", err)
	}
	if _, err := e.a.Cancel(e.now, "nope", nil); err == nil || err.Error() != "order not found for nope" {
		t.Fatalf("cancel unknown: %v", err)
	}

	e.mustSubmit(lmt("X", match.Buy, "1", "90"))
	e.mustSubmit(bracket(match.Buy, "1", "90", "95", "85"))
	res, evs := e.a.CancelAll(e.now, nil)
	if len(res) != 4 || len(evs) != 4 || e.a.OpenOrderCount() != 0 {
		t.Fatalf("cancel all: %d results, %d events, %d open", len(res), len(evs), e.a.OpenOrderCount())
	}
	e.check()
}

func TestClientOrderID(t *testing.T) {
	e := MustEnv(t, nil)
	e.quote("X", "100", "100.05")
	r := lmt("X", match.Buy, "1", "90")
	r.ClientOrderID = "mine-1"
	o, _ := e.mustSubmit(r)
	e.cancel(o.ID)
	err := e.submitErr(r) // unique for all time, terminal orders included
	if err.Kind != match.KindDuplicate || err.HTTPStatus() != 422 || err.Code() != 40010001 || err.Message != "client_order_id must be unique" {
		t.Fatalf("duplicate: %+v", err)
	}
	g, _ := e.mustSubmit(lmt("X", match.Buy, "1", "90"))
	if _, ok := match.ParseUUID(g.ClientOrderID); !ok {
		t.Fatalf("generated client id %q is not a UUID", g.ClientOrderID)
	}
	r.ClientOrderID = strings.ToUpper(g.ClientOrderID)
	e.mustSubmit(r) // ids are case-sensitive
	r.ClientOrderID = g.ClientOrderID
	if err := e.submitErr(r); err.Kind != match.KindDuplicate {
		t.Fatalf("reusing a generated id: %v", err)
	}
	for _, cid := range []string{"mine-1", g.ClientOrderID} {
		got, err := e.a.OrderByClientID(cid, false)
		if err != nil || got.ClientOrderID != cid {
			t.Fatalf("by client id %q: %v", cid, err)
		}
	}
	if _, err := e.a.OrderByClientID("nope", false); !errors.Is(err, match.ErrNotFound) {
		t.Fatalf("unknown: %v", err)
	}
	r.ClientOrderID = strings.Repeat("a", 129)
	if err := e.submitErr(r); err.Kind != match.KindValidation {
		t.Fatalf("long id: %v", err)
	}
	r.ClientOrderID = strings.Repeat("a", 128)
	e.mustSubmit(r)
}

func TestBuyingPower(t *testing.T) {
	e := MustEnv(t, func(c *match.Config) { c.Cash = money("1000") })
	e.quote("X", "100", "100")
	e.mustSubmit(lmt("X", match.Buy, "6", "90")) // reserves 540
	err := e.submitErr(lmt("X", match.Buy, "6", "90"))
	if err.Kind != match.KindForbidden || err.Message != "insufficient buying power" ||
		err.Fields["buying_power"] != "460" || err.Fields["cost_basis"] != "540" {
		t.Fatalf("got %+v", err)
	}
	// A market buy is checked at the ask plus Alpaca's collar: 4 shares at
	// 100 × 1.025 = 410 fits, 5 shares (512.5) does not.
	e.mustSubmit(mkt("X", match.Buy, "4"))
	if err := e.submitErr(mkt("X", match.Buy, "1")); err.Kind != match.KindForbidden {
		t.Fatalf("got %v", err)
	}
	if s := e.a.Snapshot(e.now, nil); s.Cash != money("600") || s.BuyingPower != money("60") || s.Equity != money("1000") {
		t.Fatalf("snapshot %+v", s)
	}
	e.check()
}

func TestShortSelling(t *testing.T) {
	t.Run("cash account cannot short", func(t *testing.T) {
		e := MustEnv(t, nil)
		e.quote("X", "100", "100")
		err := e.submitErr(mkt("X", match.Sell, "5"))
		if err.Kind != match.KindForbidden || err.Message != "insufficient qty available for order (requested: 5, available: 0)" ||
			err.Fields["symbol"] != "X" || err.Fields["existing_qty"] != "0" || err.Fields["available"] != "0" {
			t.Fatalf("got %+v", err)
		}
	})
	margin := func(t *testing.T, mut func(*match.Config)) *env {
		return MustEnv(t, func(c *match.Config) {
			c.Multiplier = 2
			if mut != nil {
				mut(c)
			}
		})
	}
	t.Run("margin account shorts and covers", func(t *testing.T) {
		e := margin(t, nil)
		e.quote("X", "100", "100.1")
		o, _ := e.mustSubmit(mkt("X", match.Sell, "5"))
		if o.PositionIntent != match.SellToOpen || e.pos("X") != -qty("5") {
			t.Fatalf("intent %s pos %s", o.PositionIntent, e.pos("X"))
		}
		p, _ := e.a.Position("X", nil)
		if p.Side() != "short" || p.CostBasis != -money("500") || p.MarketValue != -money("500.25") {
			t.Fatalf("position %+v", p)
		}
		if err := e.submitErr(mkt("X", match.Buy, "6")); err.Message != "insufficient qty available for order (requested: 6, available: 5)" {
			t.Fatalf("flip: %v", err)
		}
		c, _ := e.mustSubmit(mkt("X", match.Buy, "5"))
		if c.PositionIntent != match.BuyToClose || e.pos("X") != 0 {
			t.Fatalf("cover %+v", c)
		}
		e.check()
	})
	t.Run("shorting disabled", func(t *testing.T) {
		e := margin(t, func(c *match.Config) { c.ShortingEnabled = false })
		e.quote("X", "100", "100")
		if err := e.submitErr(mkt("X", match.Sell, "1")); err.Message != "account is not allowed to short" {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("hard to borrow", func(t *testing.T) {
		e := margin(t, func(c *match.Config) {
			c.Asset = func(string) (match.Asset, bool) {
				return match.Asset{Tradable: true, Fractionable: true, Shortable: true}, true
			}
		})
		e.quote("X", "100", "100")
		if err := e.submitErr(mkt("X", match.Sell, "1")); err.Kind != match.KindForbidden {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("no fractional shorts, no long buy while a short is pending", func(t *testing.T) {
		e := margin(t, nil)
		e.quote("X", "100", "100")
		if err := e.submitErr(mkt("X", match.Sell, "0.5")); err.Kind != match.KindForbidden {
			t.Fatalf("fractional short: %v", err)
		}
		e.mustSubmit(lmt("X", match.Sell, "1", "120"))
		if err := e.submitErr(mkt("X", match.Buy, "1")); err.Kind != match.KindForbidden {
			t.Fatalf("buy while short pending: %v", err)
		}
	})
}

func TestNoFlip(t *testing.T) {
	e := MustEnv(t, nil)
	e.quote("X", "100", "100")
	e.mustSubmit(mkt("X", match.Buy, "50"))
	e.mustSubmit(lmt("X", match.Sell, "38", "120"))
	err := e.submitErr(mkt("X", match.Sell, "13"))
	want := map[string]string{"symbol": "X", "existing_qty": "50", "held_for_orders": "38", "available": "12"}
	if err.Message != "insufficient qty available for order (requested: 13, available: 12)" || len(err.Fields) != 4 {
		t.Fatalf("got %+v", err)
	}
	for k, v := range want {
		if err.Fields[k] != v {
			t.Fatalf("field %s = %q, want %q", k, err.Fields[k], v)
		}
	}
	e.mustSubmit(mkt("X", match.Sell, "12"))
	e.check()
}

func TestPDT(t *testing.T) {
	roundTrip := func(e *env) error {
		e.mustSubmit(mkt("X", match.Buy, "1"))
		_, _, err := e.submit(mkt("X", match.Sell, "1"))
		return err
	}
	small := func(c *match.Config) { c.Cash = money("20000") }
	t.Run("fourth day trade refused under 25k", func(t *testing.T) {
		e := MustEnv(t, small)
		e.quote("X", "100", "100")
		for i := 0; i < 3; i++ {
			if err := roundTrip(e); err != nil {
				t.Fatal(err)
			}
		}
		if s := e.a.Snapshot(e.now, nil); s.DaytradeCount != 3 || s.PatternDayTrader {
			t.Fatalf("count %d", s.DaytradeCount)
		}
		err := roundTrip(e)
		var me *match.Error
		if !errors.As(err, &me) || me.Kind != match.KindForbidden || me.Message != "trade denied due to pattern day trading protection" {
			t.Fatalf("got %v", err)
		}
		// The window is five business days: Monday's trades count until
		// the next Monday, when they drop out.
		e.tick(4 * 24 * 60 * 60e9)
		if err := roundTrip(e); err == nil {
			t.Fatal("friday: still within the window")
		}
		e.tick(3 * 24 * 60 * 60e9)
		if err := roundTrip(e); err != nil {
			t.Fatalf("next monday: %v", err)
		}
	})
	t.Run("disabled or large account", func(t *testing.T) {
		for _, mut := range []func(*match.Config){
			func(c *match.Config) { small(c); c.DisablePDT = true },
			nil,
		} {
			e := MustEnv(t, mut)
			e.quote("X", "100", "100")
			for i := 0; i < 5; i++ {
				if err := roundTrip(e); err != nil {
					t.Fatal(err)
				}
			}
		}
	})
}
