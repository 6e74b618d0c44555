package match_test

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/quantum-alpaca/quantum/sim/match"
	"github.com/shopspring/decimal"
)

// byteReader yields fuzz input bytes, then zeros.
type byteReader struct {
	b []byte
	i int
}

func (r *byteReader) u8() int {
	if r.i >= len(r.b) {
		return 0
	}
	v := r.b[r.i]
	r.i++
	return int(v)
}

func (r *byteReader) done() bool { return r.i >= len(r.b) }

// fuzzModel is what the harness knows independently of the engine: the
// events seen and the positions and cash they imply.
type fuzzModel struct {
	t        *testing.T
	a        *match.Account
	mult     int
	cash     match.Money
	pos      map[string]match.Qty
	filled   map[match.UUID]match.Qty
	terminal map[match.UUID]match.Order
	ids      []match.UUID
	seen     map[match.UUID]bool
	seq      uint64
}

func (m *fuzzModel) track(id match.UUID) {
	if !m.seen[id] {
		m.seen[id] = true
		m.ids = append(m.ids, id)
	}
}

func (m *fuzzModel) trackOrder(o match.Order) {
	if o.ID.IsZero() {
		return
	}
	m.track(o.ID)
	for _, l := range o.Legs {
		m.track(l.ID)
	}
}

func (m *fuzzModel) events(ev []match.Event) {
	t := m.t
	for _, e := range ev {
		m.seq++
		if e.Seq != m.seq {
			t.Fatalf("event seq %d, want %d", e.Seq, m.seq)
		}
		id := e.Order.ID
		m.track(id)
		if _, done := m.terminal[id]; done {
			t.Fatalf("event %s for order %s after it became terminal", e.Type, id)
		}
		switch e.Type {
		case match.EventFill, match.EventPartialFill:
			if e.Qty <= 0 || e.Price <= 0 {
				t.Fatalf("bad fill %+v", e)
			}
			v := match.Value(e.Qty, e.Price)
			if e.Order.Side == match.Buy {
				m.pos[e.Order.Symbol] += e.Qty
				m.cash -= v
			} else {
				m.pos[e.Order.Symbol] -= e.Qty
				m.cash += v
			}
			if e.PositionQty != m.pos[e.Order.Symbol] {
				t.Fatalf("fill position_qty %s, model %s", e.PositionQty, m.pos[e.Order.Symbol])
			}
			m.filled[id] += e.Qty
			if m.filled[id] != e.Order.FilledQty {
				t.Fatalf("fills sum %s != filled_qty %s", m.filled[id], e.Order.FilledQty)
			}
			if (e.Type == match.EventFill) != (e.Order.Status == match.StatusFilled) {
				t.Fatalf("%s event with status %s", e.Type, e.Order.Status)
			}
		}
	}
}

func (m *fuzzModel) check(now time.Time) {
	t := m.t
	if err := m.a.CheckInvariants(); err != nil {
		t.Fatal(err)
	}
	if m.a.Cash() != m.cash {
		t.Fatalf("cash %s, model %s", m.a.Cash(), m.cash)
	}
	s := m.a.Snapshot(now, nil)
	if s.BuyingPower < 0 || m.mult == 1 && s.Cash < 0 {
		t.Fatalf("snapshot %+v", s)
	}
	for sym, q := range m.pos {
		if q == 0 {
			if _, err := m.a.Position(sym, nil); err == nil {
				t.Fatalf("flat position %s still listed", sym)
			}
			continue
		}
		p, err := m.a.Position(sym, nil)
		if err != nil || p.Qty != q {
			t.Fatalf("position %s = %s (%v), model %s", sym, p.Qty, err, q)
		}
		if m.mult == 1 && q < 0 {
			t.Fatalf("cash account short %s", sym)
		}
	}
	for _, id := range m.ids {
		o, err := m.a.Order(id.String(), false)
		if err != nil {
			t.Fatal(err)
		}
		if old, ok := m.terminal[id]; ok {
			if !reflect.DeepEqual(old, o) {
				t.Fatalf("terminal order changed:\n%+v\n%+v", old, o)
			}
			continue
		}
		if o.FilledQty != m.filled[id] {
			t.Fatalf("order %s filled_qty %s, fill events %s", id, o.FilledQty, m.filled[id])
		}
		if o.Notional == 0 && o.FilledQty > o.Qty {
			t.Fatalf("overfilled %+v", o)
		}
		if o.Status.Terminal() {
			m.terminal[id] = o
		}
	}
}

var fuzzSymbols = [...]string{"AAA", "BBB", "CCC"}

// Weighted so that most decoded orders are valid.
var (
	fuzzTypes = []match.OrderType{match.Limit, match.Market, match.Limit, match.Stop, match.TrailingStop,
		match.Limit, match.StopLimit, match.Market, match.Limit, match.TrailingStop}
	fuzzTIFs = []match.TimeInForce{match.Day, match.GTC, match.Day, match.GTC, match.IOC, match.Day,
		match.GTC, match.FOK, match.Day, match.GTC, match.OPG, match.CLS}
	fuzzClasses = []match.OrderClass{"", "", "", "", match.Bracket, "", match.OCO, match.Bracket,
		match.OTO, match.Simple, "", match.Bracket, match.OCO}
)

func FuzzAccount(f *testing.F) {
	f.Add([]byte{0, 0, 1, 0, 10, 20, 1, 0, 0, 0, 0, 5, 1, 1, 1, 1, 0, 5})
	f.Add([]byte{1, 3, 0, 1, 1, 0, 1, 1, 2, 1, 3, 40, 0, 1, 3, 3, 9, 3, 0, 7, 0, 0, 0, 5, 5, 6})
	f.Add([]byte{2, 1, 1, 0, 2, 50, 1, 0, 2, 2, 1, 10, 2, 4, 2, 200, 3, 1, 0, 1, 0, 2, 0})
	f.Add([]byte("\x05\x02\x01 bracket oco oto replace cancel quote quote quote close"))
	for i := 0; i < 6; i++ {
		f.Add(randomOps(uint64(i), 1500))
	}
	f.Fuzz(runOps)
}

// randomOps is a long pseudo-random operation stream: the fuzzer's seeds
// and TestRandomOps' inputs.
func randomOps(seed uint64, n int) []byte {
	src := rand.NewPCG(seed, seed+1)
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(src.Uint64())
	}
	return b
}

// TestRandomOps runs the fuzz harness on long random inputs, so plain
// go test exercises the invariants across the whole engine.
func TestRandomOps(t *testing.T) {
	if *opStats {
		outcomes = map[string]int{}
		t.Cleanup(printOutcomes)
	}
	n := 120
	if testing.Short() {
		n = 30
	}
	for i := 0; i < n; i++ {
		data := randomOps(uint64(1000+i), 3000)
		t.Run(fmt.Sprint(i), func(t *testing.T) { runOps(t, data) })
	}
}

// runOps decodes data into account operations (quotes, submits of every
// kind, cancels, replaces, closes, session events, time) and checks the
// invariants after each one. Zero bytes decode to the commonest choices.
func runOps(t *testing.T, data []byte) {
	{
		r := &byteReader{b: data}
		cfg := match.DefaultConfig()
		cfg.Seed = uint64(r.u8())
		cfg.Multiplier = []int{1, 2, 4}[r.u8()%3]
		cfg.PartialFillRate = []float64{0, 0.1, 0.5, 1}[r.u8()%4]
		flags := r.u8()
		cfg.AlwaysOpen = flags&1 == 0
		cfg.ShortingEnabled = flags&2 == 0
		cfg.DisablePDT = flags&4 != 0
		cfg.Cash = match.Money(1000+r.u8()*500) * match.MoneyScale
		cfg.Asset = func(s string) (match.Asset, bool) {
			return match.Asset{Tradable: true, Fractionable: s != "CCC", Shortable: true, EasyToBorrow: s != "BBB"}, true
		}
		a, err := match.NewAccount(cfg)
		if err != nil {
			t.Fatal(err)
		}
		m := &fuzzModel{t: t, a: a, mult: cfg.Multiplier, cash: cfg.Cash, pos: map[string]match.Qty{},
			filled: map[match.UUID]match.Qty{}, terminal: map[match.UUID]match.Order{}, seen: map[match.UUID]bool{}}
		mids := [3]int64{5000, 50, 500000} // in cents: $50, $0.50, $5000
		now := t0
		var ev []match.Event
		for i, sym := range fuzzSymbols {
			a.OnQuote(now, sym, match.Quote{Bid: match.Price(mids[i] * 100), Ask: match.Price(mids[i] * 100)}, nil)
		}
		cids := []string{"", "", "", "", "", "a", "b", ""}

		price := func(sym int) *decimal.Decimal {
			// Near the market, sometimes sub-penny, sometimes absurd.
			k := r.u8()
			var d decimal.Decimal
			switch {
			case k < 200:
				c := mids[sym] + int64(k%41) - 20
				if mids[sym] > 2000 {
					c = mids[sym] + (int64(k%41)-20)*100
				}
				d = decimal.New(max(c, 1), -2)
			case k < 230:
				d = decimal.New(mids[sym]*100+int64(k), -4)
			case k < 250:
				d = decimal.New(int64(k-240), 0)
			default:
				d = decimal.New(1, int32(k%40))
			}
			return &d
		}
		quantity := func() *decimal.Decimal {
			k := r.u8()
			var d decimal.Decimal
			switch {
			case k < 200:
				d = decimal.New(int64(k%20+1), 0)
			case k < 240:
				d = decimal.New(int64(k)*1234567, -9)
			case k < 250:
				d = decimal.New(int64(k-245), 0)
			default:
				d = decimal.New(1, int32(k%20))
			}
			return &d
		}

		for step := 0; step < 400 && !r.done(); step++ {
			ev = ev[:0]
			op := r.u8() % 10
			sym := r.u8() % 3
			symbol := fuzzSymbols[sym]
			switch op {
			case 0, 1: // quote move
				mv := int64(r.u8()%21) - 10
				if mids[sym] > 2000 {
					mv *= 100
				}
				mids[sym] = max(mids[sym]+mv, 1)
				spread := int64(r.u8() % 4)
				q := match.Quote{Bid: match.Price((mids[sym] - spread) * 100), Ask: match.Price((mids[sym] + spread) * 100)}
				switch r.u8() % 16 {
				case 0:
					q.Bid = 0
				case 1:
					q.Ask = 0
				case 2:
					q.Bid, q.Ask = q.Ask+100, q.Bid // crossed
				}
				ev = a.OnQuote(now, symbol, q, ev)
			case 2, 3, 4: // submit
				req := match.OrderRequest{Symbol: symbol}
				req.Side = []match.Side{match.Buy, match.Sell}[r.u8()%2]
				req.Type = fuzzTypes[r.u8()%len(fuzzTypes)]
				req.TimeInForce = fuzzTIFs[r.u8()%len(fuzzTIFs)]
				cls := r.u8()
				req.OrderClass = fuzzClasses[cls%len(fuzzClasses)]
				if cls >= 240 {
					req.Notional = ptr(decimal.New(int64(r.u8()+1)*100, -2))
					req.Type, req.TimeInForce, req.OrderClass = match.Market, match.Day, ""
				} else {
					req.Qty = quantity()
				}
				req.LimitPrice, req.StopPrice = price(sym), price(sym)
				if r.u8()%2 == 0 {
					req.TrailPrice = ptr(decimal.New(int64(r.u8()%50+1), -2))
				} else {
					req.TrailPercent = ptr(decimal.New(int64(r.u8()%50+1), -1))
				}
				if req.OrderClass != "" {
					req.TakeProfit = &match.TakeProfit{LimitPrice: price(sym)}
					req.StopLoss = &match.StopLoss{StopPrice: price(sym)}
					if r.u8()%2 == 0 {
						req.StopLoss.LimitPrice = price(sym)
					}
				}
				req.ExtendedHours = r.u8()%16 == 15
				if c := cids[r.u8()%len(cids)]; c != "" {
					req.ClientOrderID = fmt.Sprint(c, r.u8()%4)
				}
				var o match.Order
				o, ev, err = a.Submit(now, &req, ev)
				if err != nil {
					if _, ok := err.(*match.Error); !ok {
						t.Fatalf("error type %T", err)
					}
					if outcomes != nil {
						outcomes[err.Error()]++
					}
				} else {
					m.trackOrder(o)
				}
			case 5: // cancel
				if len(m.ids) > 0 {
					id := m.ids[r.u8()%len(m.ids)]
					ev, _ = a.Cancel(now, id.String(), ev)
				}
			case 6: // replace
				if len(m.ids) > 0 {
					id := m.ids[r.u8()%len(m.ids)]
					rr := match.ReplaceRequest{}
					k := r.u8()
					if k&1 != 0 {
						rr.Qty = quantity()
					}
					if k&2 != 0 {
						rr.LimitPrice = price(sym)
					}
					if k&4 != 0 {
						rr.StopPrice = price(sym)
					}
					if k&8 != 0 {
						rr.Trail = ptr(decimal.New(int64(r.u8()%50+1), -2))
					}
					if k&16 != 0 {
						rr.TimeInForce = []match.TimeInForce{match.Day, match.GTC, match.IOC, "bad"}[r.u8()%4]
					}
					var o match.Order
					o, ev, err = a.Replace(now, id.String(), &rr, ev)
					if err == nil {
						m.trackOrder(o)
					}
				}
			case 7: // close positions, cancel everything
				switch r.u8() % 4 {
				case 0:
					var o match.Order
					o, ev, err = a.ClosePosition(now, symbol, nil, ptr(decimal.New(int64(r.u8()%100+1), 0)), ev)
					if err == nil {
						m.trackOrder(o)
					}
				case 1:
					var res []match.CloseResult
					res, ev = a.CloseAll(now, r.u8()%2 == 0, ev)
					for _, x := range res {
						m.trackOrder(x.Order)
					}
				case 2:
					_, ev = a.CancelAll(now, ev)
				default:
					var o match.Order
					o, ev, err = a.ClosePosition(now, symbol, quantity(), nil, ev)
					if err == nil {
						m.trackOrder(o)
					}
				}
			case 8: // session clock
				switch r.u8() % 4 {
				case 0:
					ev = a.OnOpen(now, ev)
				case 1:
					ev = a.OnClose(now, ev)
				case 2:
					ev = a.EndOfDay(now, ev)
				default:
					ev = a.ExpireAged(now, ev)
				}
			case 9: // time passes
				now = now.Add(time.Duration(r.u8()) * time.Hour * time.Duration(1+r.u8()%24))
			}
			if *traceOps {
				fmt.Printf("step %d op %d sym %s err=%v\n", step, op, symbol, err)
				for _, e := range ev {
					fmt.Printf("   %s %s %s %s %s q=%s/%s filled=%s px=%s lim=%s stop=%s st=%s pos=%s par=%v\n", e.Type, e.Order.ID.String()[:8], e.Order.Side, e.Order.Type, e.Order.Class, e.Qty, e.Order.Qty, e.Order.FilledQty, e.Price, e.Order.LimitPrice, e.Order.StopPrice, e.Order.Status, e.PositionQty, e.Order.ParentID.String()[:8])
				}
			}
			err = nil
			m.events(ev)
			if outcomes != nil {
				for _, e := range ev {
					outcomes["event "+string(e.Type)]++
				}
			}
			m.check(now)
		}
		if _, err := a.Orders(match.OrderFilter{Status: "all", Nested: true}); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Activities(match.ActivityFilter{}); err != nil {
			t.Fatal(err)
		}
	}
}

func ptr(d decimal.Decimal) *decimal.Decimal { return &d }

// Debugging aids: go test -run 'TestRandomOps/^19$' -trace-ops, or
// go test -run TestRandomOps -op-stats to see what the decoder produces.
var (
	traceOps = flag.Bool("trace-ops", false, "print every decoded operation and the events it caused")
	opStats  = flag.Bool("op-stats", false, "count outcomes (errors, event types) of TestRandomOps")
	outcomes map[string]int
)

func printOutcomes() {
	ks := make([]string, 0, len(outcomes))
	for k := range outcomes {
		ks = append(ks, k)
	}
	sort.Slice(ks, func(i, j int) bool { return outcomes[ks[i]] > outcomes[ks[j]] })
	for _, k := range ks {
		fmt.Println(outcomes[k], k)
	}
}
