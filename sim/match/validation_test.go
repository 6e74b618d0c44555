package match_test

import (
	"math"
	"strings"
	"testing"

	"github.com/quantum-alpaca/quantum/sim/match"
	"github.com/shopspring/decimal"
)

func TestSubPenny(t *testing.T) {
	tests := []struct {
		price string
		ok    bool
	}{
		{"1", true}, {"1.01", true}, {"290.12", true}, {"290.10000", true},
		{"290.123", false}, {"1.001", false}, {"0.9999", true}, {"0.0001", true},
		{"0.12345", false}, {"0.99999", false}, {"1.0001", false},
	}
	for _, tt := range tests {
		e := MustEnv(t, nil)
		e.quote("X", "0.5", "0.5")
		_, _, err := e.submit(lmt("X", match.Buy, "1", tt.price))
		if tt.ok != (err == nil) {
			t.Errorf("limit_price %s: got %v", tt.price, err)
			continue
		}
		if err != nil {
			want := "invalid limit_price " + tt.price + ". sub-penny increment does not fulfill minimum pricing criteria"
			if me := err.(*match.Error); me.Kind != match.KindUnprocessable || me.Message != want {
				t.Errorf("limit_price %s: got %+v", tt.price, me)
			}
		}
	}
	e := MustEnv(t, nil)
	e.quote("X", "100", "100")
	r := match.OrderRequest{Symbol: "X", Side: match.Buy, Type: match.Stop, TimeInForce: match.Day, Qty: dec("1"), StopPrice: dec("101.005")}
	if err := e.submitErr(r); !strings.HasPrefix(err.Message, "invalid stop_price 101.005.") {
		t.Fatalf("stop: %v", err)
	}
}

func TestRequestValidation(t *testing.T) {
	base := func() match.OrderRequest { return lmt("X", match.Buy, "1", "10") }
	with := func(f func(*match.OrderRequest)) match.OrderRequest { r := base(); f(&r); return r }
	huge := decimal.New(1, 400)
	tests := map[string]struct {
		r    match.OrderRequest
		kind match.Kind
	}{
		"no symbol":          {with(func(r *match.OrderRequest) { r.Symbol = "" }), match.KindValidation},
		"long symbol":        {with(func(r *match.OrderRequest) { r.Symbol = strings.Repeat("A", 65) }), match.KindValidation},
		"no side":            {with(func(r *match.OrderRequest) { r.Side = "" }), match.KindValidation},
		"bad side":           {with(func(r *match.OrderRequest) { r.Side = "hold" }), match.KindValidation},
		"bad type":           {with(func(r *match.OrderRequest) { r.Type = "iceberg" }), match.KindValidation},
		"bad tif":            {with(func(r *match.OrderRequest) { r.TimeInForce = "gtd" }), match.KindValidation},
		"bad class":          {with(func(r *match.OrderRequest) { r.OrderClass = "mleg" }), match.KindValidation},
		"bad intent":         {with(func(r *match.OrderRequest) { r.PositionIntent = "hodl" }), match.KindValidation},
		"no qty":             {with(func(r *match.OrderRequest) { r.Qty = nil }), match.KindValidation},
		"zero qty":           {with(func(r *match.OrderRequest) { r.Qty = dec("0") }), match.KindValidation},
		"negative qty":       {with(func(r *match.OrderRequest) { r.Qty = dec("-1") }), match.KindValidation},
		"absurd qty":         {with(func(r *match.OrderRequest) { r.Qty = dec("1000000001") }), match.KindValidation},
		"huge qty":           {with(func(r *match.OrderRequest) { r.Qty = &huge }), match.KindValidation},
		"10 decimals":        {with(func(r *match.OrderRequest) { r.Qty = dec("1.0000000001") }), match.KindValidation},
		"no limit":           {with(func(r *match.OrderRequest) { r.LimitPrice = nil }), match.KindValidation},
		"zero limit":         {with(func(r *match.OrderRequest) { r.LimitPrice = dec("0") }), match.KindValidation},
		"negative limit":     {with(func(r *match.OrderRequest) { r.LimitPrice = dec("-5") }), match.KindValidation},
		"absurd limit":       {with(func(r *match.OrderRequest) { r.LimitPrice = dec("10000000.01") }), match.KindValidation},
		"huge limit":         {with(func(r *match.OrderRequest) { r.LimitPrice = &huge }), match.KindValidation},
		"absurd notional":    {match.OrderRequest{Symbol: "X", Side: match.Buy, Type: match.Market, TimeInForce: match.Day, Notional: dec("1000000000000.01")}, match.KindValidation},
		"stop needs stop":    {match.OrderRequest{Symbol: "X", Side: match.Buy, Type: match.Stop, TimeInForce: match.Day, Qty: dec("1")}, match.KindValidation},
		"trail needs trail":  {match.OrderRequest{Symbol: "X", Side: match.Sell, Type: match.TrailingStop, TimeInForce: match.Day, Qty: dec("1")}, match.KindValidation},
		"both trails":        {match.OrderRequest{Symbol: "X", Side: match.Sell, Type: match.TrailingStop, TimeInForce: match.Day, Qty: dec("1"), TrailPrice: dec("1"), TrailPercent: dec("1")}, match.KindValidation},
		"trail percent 100":  {match.OrderRequest{Symbol: "X", Side: match.Sell, Type: match.TrailingStop, TimeInForce: match.Day, Qty: dec("1"), TrailPercent: dec("100")}, match.KindValidation},
		"unknown asset":      {with(func(r *match.OrderRequest) { r.Symbol = "NOPE" }), match.KindValidation},
		"untradable asset":   {with(func(r *match.OrderRequest) { r.Symbol = "HALT" }), match.KindUnprocessable},
		"position too large": {with(func(r *match.OrderRequest) { r.Qty = dec("1000000000"); r.LimitPrice = dec("0.0001") }), match.KindUnprocessable},
	}
	for name, tt := range tests {
		e := MustEnv(t, func(c *match.Config) {
			c.Cash = match.MaxNotional
			c.Asset = func(s string) (match.Asset, bool) {
				return match.Asset{Tradable: s != "HALT", Fractionable: true}, s != "NOPE"
			}
		})
		e.quote("X", "0.0001", "0.0001")
		if name == "position too large" {
			for i := 0; i < 4; i++ {
				e.mustSubmit(tt.r)
			}
		}
		if err := e.submitErr(tt.r); err.Kind != tt.kind {
			t.Errorf("%s: got %v (%s), want %s", name, err, err.Kind, tt.kind)
		}
	}
	if _, _, err := MustEnv(t, nil).a.Submit(t0, nil, nil); err == nil {
		t.Error("nil request accepted")
	}
}

func TestErrorKinds(t *testing.T) {
	tests := []struct {
		k            match.Kind
		status, code int
	}{
		{match.KindValidation, 422, 40010001},
		{match.KindUnprocessable, 422, 42210000},
		{match.KindForbidden, 403, 40310000},
		{match.KindNotFound, 404, 40410000},
		{match.KindDuplicate, 422, 40010001},
	}
	for _, tt := range tests {
		if tt.k.HTTPStatus() != tt.status || tt.k.Code() != tt.code {
			t.Errorf("%s: %d/%d", tt.k, tt.k.HTTPStatus(), tt.k.Code())
		}
	}
}

func TestNewAccountConfig(t *testing.T) {
	for _, mut := range []func(*match.Config){
		func(c *match.Config) { c.Multiplier = 3 },
		func(c *match.Config) { c.Cash = -1 },
		func(c *match.Config) { c.PartialFillRate = math.NaN() },
		func(c *match.Config) { c.PartialFillRate = 1.5 },
	} {
		c := match.DefaultConfig()
		mut(&c)
		if _, err := match.NewAccount(c); err == nil {
			t.Errorf("accepted %+v", c)
		}
	}
}

func TestFixedPoint(t *testing.T) {
	for _, tt := range []struct {
		in   string
		ok   bool
		want match.Qty
	}{
		{"1", true, 1e9}, {"0.000000001", true, 1}, {"1.50", true, 1.5e9}, {"-2", true, -2e9},
		{"0.0000000001", false, 0}, {"4000000001", false, 0}, {"1e3", true, 1e12},
		{"1.0000000000000000000000", true, 1e9}, {"123456789012345678901234567890", false, 0},
	} {
		got, ok := match.ParseQty(decimal.RequireFromString(tt.in))
		if ok != tt.ok || ok && got != tt.want {
			t.Errorf("ParseQty(%s) = %d, %v", tt.in, got, ok)
		}
	}
	if s := match.Qty(1500000001).String(); s != "1.500000001" {
		t.Errorf("qty string %s", s)
	}
	if s := match.Money(-12345).String(); s != "-123.45" {
		t.Errorf("money string %s", s)
	}
	if s := px("290.10").String(); s != "290.1" {
		t.Errorf("price string %s", s)
	}
	if d := px("290.10").Decimal(); d.String() != "290.1" {
		t.Errorf("price decimal %s", d)
	}
	for _, f := range []float64{math.NaN(), math.Inf(1), -1, 1e8} {
		if _, ok := match.PriceFromFloat(f); ok {
			t.Errorf("PriceFromFloat(%v) accepted", f)
		}
	}
	if p, ok := match.PriceFromFloat(123.45678); !ok || p != px("123.4568") {
		t.Errorf("PriceFromFloat = %s", p)
	}
	if v := match.Value(match.MaxPositionQty, match.MaxPrice); v <= 0 {
		t.Errorf("Value overflowed: %d", v)
	}
}

func TestUUID(t *testing.T) {
	e := MustEnv(t, nil)
	e.quote("X", "1", "1")
	o, _ := e.mustSubmit(lmt("X", match.Buy, "1", "0.5"))
	s := o.ID.String()
	if len(s) != 36 || s[14] != '4' || !strings.ContainsRune("89ab", rune(s[19])) {
		t.Fatalf("not a v4 uuid: %s", s)
	}
	u, ok := match.ParseUUID(strings.ToUpper(s))
	if !ok || u != o.ID {
		t.Fatalf("parse %s", s)
	}
	if got, err := e.a.Order(strings.ToUpper(s), false); err != nil || got.ID != o.ID {
		t.Fatalf("lookup upper-case id: %v", err)
	}
	for _, bad := range []string{"", "x", s[:35] + "g", strings.ReplaceAll(s, "-", "_")} {
		if _, ok := match.ParseUUID(bad); ok {
			t.Errorf("parsed %q", bad)
		}
	}
	// A well-formed id of no order, even one differing in the random half.
	forged := o.ID
	forged[0] ^= 1
	if _, err := e.a.Order(forged.String(), false); err == nil {
		t.Fatal("forged id found")
	}
}
