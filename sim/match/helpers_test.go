package match_test

import (
	"errors"
	"testing"
	"time"

	"github.com/quantum-alpaca/quantum/sim/match"
	"github.com/shopspring/decimal"
)

// t0 is a Monday.
var t0 = time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC)

func dec(s string) *decimal.Decimal {
	v := decimal.RequireFromString(s)
	return &v
}

func px(s string) match.Price {
	p, ok := match.ParsePrice(decimal.RequireFromString(s))
	if !ok {
		panic("bad price " + s)
	}
	return p
}

func qty(s string) match.Qty {
	q, ok := match.ParseQty(decimal.RequireFromString(s))
	if !ok {
		panic("bad qty " + s)
	}
	return q
}

func money(s string) match.Money {
	m, ok := match.ParseMoney(decimal.RequireFromString(s))
	if !ok {
		panic("bad money " + s)
	}
	return m
}

// env is an account under test with its event log.
type env struct {
	t   testing.TB
	a   *match.Account
	now time.Time
	ev  []match.Event
}

// MustEnv returns a deterministic account: always open, no random partial
// fills, seed 1, $100k cash account, unless mut changes the config.
func MustEnv(tb testing.TB, mut func(*match.Config)) *env {
	tb.Helper()
	cfg := match.DefaultConfig()
	cfg.PartialFillRate = 0
	cfg.Seed = 1
	if mut != nil {
		mut(&cfg)
	}
	a, err := match.NewAccount(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return &env{t: tb, a: a, now: t0}
}

func (e *env) tick(d time.Duration) { e.now = e.now.Add(d) }

// quote sends a quote and returns the events it caused.
func (e *env) quote(sym, bid, ask string) []match.Event {
	n := len(e.ev)
	q := match.Quote{}
	if bid != "" {
		q.Bid = px(bid)
	}
	if ask != "" {
		q.Ask = px(ask)
	}
	e.ev = e.a.OnQuote(e.now, sym, q, e.ev)
	return e.ev[n:]
}

func (e *env) submit(r match.OrderRequest) (match.Order, []match.Event, error) {
	n := len(e.ev)
	var o match.Order
	var err error
	o, e.ev, err = e.a.Submit(e.now, &r, e.ev)
	return o, e.ev[n:], err
}

func (e *env) mustSubmit(r match.OrderRequest) (match.Order, []match.Event) {
	e.t.Helper()
	o, ev, err := e.submit(r)
	if err != nil {
		e.t.Fatalf("submit %+v: %v", r, err)
	}
	return o, ev
}

func (e *env) submitErr(r match.OrderRequest) *match.Error {
	e.t.Helper()
	_, _, err := e.submit(r)
	if err == nil {
		e.t.Fatalf("submit %+v: want error, got none", r)
	}
	var me *match.Error
	if !errors.As(err, &me) {
		e.t.Fatalf("error %T is not *match.Error", err)
	}
	return me
}

func (e *env) cancel(id match.UUID) ([]match.Event, error) {
	n := len(e.ev)
	var err error
	e.ev, err = e.a.Cancel(e.now, id.String(), e.ev)
	return e.ev[n:], err
}

func (e *env) replace(id match.UUID, r match.ReplaceRequest) (match.Order, []match.Event, error) {
	n := len(e.ev)
	var o match.Order
	var err error
	o, e.ev, err = e.a.Replace(e.now, id.String(), &r, e.ev)
	return o, e.ev[n:], err
}

func (e *env) order(id match.UUID) match.Order {
	e.t.Helper()
	o, err := e.a.Order(id.String(), false)
	if err != nil {
		e.t.Fatal(err)
	}
	return o
}

func (e *env) pos(sym string) match.Qty {
	p, err := e.a.Position(sym, nil)
	if err != nil {
		return 0
	}
	return p.Qty
}

func (e *env) check() {
	e.t.Helper()
	if err := e.a.CheckInvariants(); err != nil {
		e.t.Fatal(err)
	}
}

func types(ev []match.Event) []string {
	out := make([]string, len(ev))
	for i, x := range ev {
		out[i] = string(x.Type)
	}
	return out
}

func eqStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func (e *env) wantEvents(got []match.Event, want ...string) {
	e.t.Helper()
	if g := types(got); !eqStrings(g, want) {
		e.t.Fatalf("events: got %v, want %v", g, want)
	}
}

func mkt(sym string, side match.Side, q string) match.OrderRequest {
	return match.OrderRequest{Symbol: sym, Side: side, Type: match.Market, TimeInForce: match.Day, Qty: dec(q)}
}

func lmt(sym string, side match.Side, q, limit string) match.OrderRequest {
	return match.OrderRequest{Symbol: sym, Side: side, Type: match.Limit, TimeInForce: match.Day, Qty: dec(q), LimitPrice: dec(limit)}
}
