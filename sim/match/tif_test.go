package match_test

import (
	"testing"
	"time"

	"github.com/quantum-alpaca/quantum/sim/match"
)

// sessionEnv is an account with real sessions, created before the open.
func sessionEnv(t *testing.T) *env {
	return MustEnv(t, func(c *match.Config) { c.AlwaysOpen = false })
}

func (e *env) open() []match.Event {
	n := len(e.ev)
	e.ev = e.a.OnOpen(e.now, e.ev)
	return e.ev[n:]
}

func (e *env) close() []match.Event {
	n := len(e.ev)
	e.ev = e.a.OnClose(e.now, e.ev)
	return e.ev[n:]
}

func (e *env) endOfDay() []match.Event {
	n := len(e.ev)
	e.ev = e.a.EndOfDay(e.now, e.ev)
	return e.ev[n:]
}

func TestTimeInForce(t *testing.T) {
	t.Run("day order submitted while closed waits as accepted, then works", func(t *testing.T) {
		e := sessionEnv(t)
		e.quote("X", "10", "10.01")
		o, ev := e.mustSubmit(mkt("X", match.Buy, "1"))
		e.wantEvents(ev, "accepted")
		if o.Status != match.StatusAccepted {
			t.Fatalf("status %s", o.Status)
		}
		e.wantEvents(e.quote("X", "10", "10.01")) // closed: nothing
		e.wantEvents(e.open(), "new", "fill")
	})
	t.Run("day order expires at the close", func(t *testing.T) {
		e := sessionEnv(t)
		e.open()
		e.quote("X", "10", "10.01")
		o, _ := e.mustSubmit(lmt("X", match.Buy, "1", "9"))
		e.wantEvents(e.close(), "expired")
		if got := e.order(o.ID); got.Status != match.StatusExpired || got.ExpiredAt.IsZero() {
			t.Fatalf("order %+v", got)
		}
	})
	t.Run("gtc order sleeps overnight and works the next day", func(t *testing.T) {
		e := sessionEnv(t)
		e.open()
		e.quote("X", "10", "10.01")
		r := lmt("X", match.Buy, "1", "9")
		r.TimeInForce = match.GTC
		o, _ := e.mustSubmit(r)
		if want := o.CreatedAt.Time().Add(90 * 24 * time.Hour); !o.ExpiresAt.Time().Equal(want) {
			t.Fatalf("expires_at %v, want %v", o.ExpiresAt.Time(), want)
		}
		e.wantEvents(e.close())
		e.wantEvents(e.quote("X", "8", "8.5")) // closed: no fill
		e.endOfDay()
		e.wantEvents(e.open(), "fill")
		if got := e.order(o.ID); got.FilledAvgPrice != match.AvgPrice(px("8.5"))*100000 {
			t.Fatalf("filled at %s", got.FilledAvgPrice)
		}
	})
	t.Run("gtc order ages out after 90 days", func(t *testing.T) {
		e := MustEnv(t, nil)
		e.quote("X", "10", "10.01")
		r := lmt("X", match.Buy, "1", "9")
		r.TimeInForce = match.GTC
		o, _ := e.mustSubmit(r)
		e.tick(89 * 24 * time.Hour)
		e.ev = e.a.ExpireAged(e.now, e.ev)
		e.tick(24 * time.Hour)
		n := len(e.ev)
		e.ev = e.a.ExpireAged(e.now, e.ev)
		e.wantEvents(e.ev[n:], "expired")
		if got := e.order(o.ID); got.Status != match.StatusExpired {
			t.Fatalf("status %s", got.Status)
		}
	})
	t.Run("extended hours limit works while closed and expires at end of day", func(t *testing.T) {
		e := sessionEnv(t)
		e.quote("X", "10", "10.01")
		r := lmt("X", match.Buy, "1", "9")
		r.ExtendedHours = true
		o, ev := e.mustSubmit(r)
		e.wantEvents(ev, "new")
		e.open()
		e.close()
		if got := e.order(o.ID); got.Status != match.StatusNew {
			t.Fatalf("status after close %s", got.Status)
		}
		e.wantEvents(e.endOfDay(), "expired")
	})
	t.Run("opg fills in the opening auction", func(t *testing.T) {
		e := sessionEnv(t)
		e.quote("X", "10", "10.01")
		r := mkt("X", match.Buy, "3")
		r.TimeInForce = match.OPG
		o, ev := e.mustSubmit(r)
		e.wantEvents(ev, "new")
		e.wantEvents(e.quote("X", "10", "10.01"))
		e.wantEvents(e.open(), "fill")
		if got := e.order(o.ID); got.Status != match.StatusFilled {
			t.Fatalf("status %s", got.Status)
		}
		if err := e.submitErr(r); err.Kind != match.KindUnprocessable {
			t.Fatalf("opg while open: %v", err)
		}
	})
	t.Run("unmarketable opg expires at the open", func(t *testing.T) {
		e := sessionEnv(t)
		e.quote("X", "10", "10.01")
		r := lmt("X", match.Buy, "3", "9")
		r.TimeInForce = match.OPG
		e.mustSubmit(r)
		e.wantEvents(e.open(), "expired")
	})
	t.Run("cls fills in the closing auction, not before", func(t *testing.T) {
		e := sessionEnv(t)
		e.open()
		e.quote("X", "10", "10.01")
		r := mkt("X", match.Buy, "3")
		r.TimeInForce = match.CLS
		o, ev := e.mustSubmit(r)
		e.wantEvents(ev, "new")
		e.wantEvents(e.quote("X", "10", "10.02"))
		e.wantEvents(e.close(), "fill")
		if got := e.order(o.ID); got.FilledAvgPrice != match.AvgPrice(px("10.02"))*100000 {
			t.Fatalf("filled at %s", got.FilledAvgPrice)
		}
		if err := e.submitErr(r); err.Kind != match.KindUnprocessable {
			t.Fatalf("cls after close: %v", err)
		}
	})
	t.Run("opg and cls work like day orders when always open", func(t *testing.T) {
		e := MustEnv(t, nil)
		e.quote("X", "10", "10.01")
		for _, tif := range []match.TimeInForce{match.OPG, match.CLS} {
			r := mkt("X", match.Buy, "1")
			r.TimeInForce = tif
			_, ev := e.mustSubmit(r)
			e.wantEvents(ev, "new", "fill")
		}
	})
	t.Run("ioc fills what it can and cancels the rest", func(t *testing.T) {
		e := MustEnv(t, func(c *match.Config) { c.PartialFillRate = 1 })
		e.quote("X", "10", "10.01")
		r := lmt("X", match.Buy, "10", "10.01")
		r.TimeInForce = match.IOC
		o, ev := e.mustSubmit(r)
		e.wantEvents(ev, "new", "partial_fill", "canceled")
		if o.Status != match.StatusCanceled || o.FilledQty != ev[1].Qty {
			t.Fatalf("order %+v", o)
		}
		r.LimitPrice = dec("9")
		_, ev = e.mustSubmit(r)
		e.wantEvents(ev, "new", "canceled")
	})
	t.Run("fok fills completely or not at all", func(t *testing.T) {
		e := MustEnv(t, func(c *match.Config) { c.PartialFillRate = 1 })
		e.quote("X", "10", "10.01")
		r := lmt("X", match.Buy, "10", "10.01")
		r.TimeInForce = match.FOK
		o, ev := e.mustSubmit(r)
		e.wantEvents(ev, "new", "fill")
		if o.FilledQty != qty("10") {
			t.Fatalf("filled %s", o.FilledQty)
		}
		r.LimitPrice = dec("9")
		o, ev = e.mustSubmit(r)
		e.wantEvents(ev, "new", "canceled")
		if o.FilledQty != 0 {
			t.Fatalf("filled %s", o.FilledQty)
		}
	})
	t.Run("restrictions", func(t *testing.T) {
		e := MustEnv(t, nil)
		e.quote("X", "10", "10.01")
		bad := []match.OrderRequest{
			{Symbol: "X", Side: match.Sell, Type: match.TrailingStop, TimeInForce: match.IOC, Qty: dec("1"), TrailPrice: dec("1")},
			{Symbol: "X", Side: match.Buy, Type: match.Stop, TimeInForce: match.FOK, Qty: dec("1"), StopPrice: dec("11")},
			{Symbol: "X", Side: match.Buy, Type: match.Market, TimeInForce: match.Day, Qty: dec("1"), ExtendedHours: true},
			{Symbol: "X", Side: match.Buy, Type: match.Limit, TimeInForce: match.GTC, Qty: dec("1"), LimitPrice: dec("9"), ExtendedHours: true},
		}
		for _, r := range bad {
			if err := e.submitErr(r); err.Kind != match.KindUnprocessable {
				t.Errorf("%+v: got %v", r, err)
			}
		}
	})
}
