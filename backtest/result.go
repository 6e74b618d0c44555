package backtest

import (
	"context"
	"math"
	"time"

	"github.com/shopspring/decimal"

	"github.com/quantum-alpaca/quantum/trading"
)

// Result is what a backtest produced.
type Result struct {
	Tenants []TenantResult `json:"tenants"`
	// Bars is how many bars were replayed, over all symbols.
	Bars       int     `json:"bars"`
	ElapsedMS  int64   `json:"elapsed_ms"`
	BarsPerSec float64 `json:"bars_per_sec"`
	// Prices is each replayed symbol's close, at most maxCurvePoints
	// samples, for charts.
	Prices map[string][]Point `json:"-"`
}

// TenantResult is one tenant's outcome. Money is in dollars, rounded to
// the cent; percentages are in percent.
type TenantResult struct {
	ID             string  `json:"id"`
	Strategy       string  `json:"strategy"`
	Orders         int     `json:"orders"`
	Fills          int     `json:"fills"`
	RiskRejections int     `json:"risk_rejections"`
	StartEquity    float64 `json:"start_equity"`
	EndEquity      float64 `json:"end_equity"`
	ReturnPct      float64 `json:"return_pct"`
	MaxDrawdownPct float64 `json:"max_drawdown_pct"`
	// Sharpe and Sortino are annualized (252 trading days) from daily
	// returns with a zero risk-free rate; zero with fewer than two days.
	Sharpe  float64 `json:"sharpe"`
	Sortino float64 `json:"sortino"`
	// WinRate is the share of round trips (a position opened and closed
	// again) that made money, in percent.
	WinRate     float64 `json:"win_rate"`
	ExposurePct float64 `json:"exposure_pct"`
	Fees        float64 `json:"fees"`
	// Error is why the tenant stopped early, if it did.
	Error string `json:"error,omitempty"`

	// Equity is the equity curve, at most maxCurvePoints samples.
	Equity []Point `json:"-"`
	// OrderList holds every order, in the order it was placed.
	OrderList []trading.OrderState `json:"-"`
	// FillList holds every fill, in the order it happened.
	FillList []Fill `json:"-"`
}

// Point is a sample of a curve: equity in dollars, or a price.
type Point struct {
	Time  time.Time
	Value float64
}

// Fill is one execution of a tenant's order.
type Fill struct {
	Time          time.Time
	ClientOrderID string
	Symbol        string
	Side          trading.Side
	Qty, Price    decimal.Decimal
}

const maxCurvePoints = 4000

// curve accumulates a tenant's equity as the replay goes.
type curve struct {
	start, last, peak, maxDD float64
	started                  bool
	samples                  int
	dayStart                 float64
	daily                    []float64
	points                   []Point
	every                    int
}

func (c *curve) add(t time.Time, eq float64) {
	if !c.started {
		c.started, c.peak, c.dayStart, c.every = true, eq, c.start, 1
	}
	if eq > c.peak {
		c.peak = eq
	}
	if c.peak > 0 {
		if dd := (c.peak - eq) / c.peak; dd > c.maxDD {
			c.maxDD = dd
		}
	}
	c.last = eq
	if c.samples%c.every == 0 {
		if len(c.points) == maxCurvePoints {
			// Halve the resolution: keep every other point.
			k := 0
			for i := 0; i < len(c.points); i += 2 {
				c.points[k] = c.points[i]
				k++
			}
			c.points = c.points[:k]
			c.every *= 2
		}
		c.points = append(c.points, Point{Time: t, Value: eq})
	}
	c.samples++
}

func (c *curve) closeDay(eq float64) {
	if c.dayStart > 0 {
		c.daily = append(c.daily, eq/c.dayStart-1)
	}
	c.dayStart = eq
}

func round(v float64, places int) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	p := math.Pow(10, float64(places))
	return math.Round(v*p) / p
}

// result gathers every tenant's outcome from its journal and account.
func (l *loop) result(started time.Time) (*Result, error) {
	elapsed := time.Since(started)
	r := &Result{Bars: l.bars, ElapsedMS: elapsed.Milliseconds()}
	if s := elapsed.Seconds(); s > 0 {
		r.BarsPerSec = math.Round(float64(l.bars) / s)
	}
	r.Prices = make(map[string][]Point, len(l.mkt.series))
	for sym, s := range l.mkt.series {
		r.Prices[sym] = s.closes(l.mkt.at[sym])
	}
	ctx := context.Background()
	for _, sm := range l.sims {
		tr, err := sm.result(ctx, l)
		if err != nil {
			return nil, err
		}
		r.Tenants = append(r.Tenants, tr)
	}
	return r, nil
}

func (sm *sim) result(ctx context.Context, l *loop) (TenantResult, error) {
	st := sm.step.Status()
	start := l.cfg.Cash
	end := float64(sm.brk.acct.Snapshot(l.clk.now, l.mkt.mark).Equity) / 100
	tr := TenantResult{
		ID: string(sm.cfg.ID), Strategy: sm.cfg.StrategyName, Fills: st.Fills, RiskRejections: st.RiskRejections,
		StartEquity: round(start, 2), EndEquity: round(end, 2),
		ReturnPct: round((end/start-1)*100, 4), MaxDrawdownPct: round(sm.curve.maxDD*100, 4),
		Equity: sm.curve.points,
	}
	if sm.err != nil {
		tr.Error = sm.err.Error()
	}
	if sm.curve.samples > 0 {
		tr.ExposurePct = round(float64(sm.exposed)/float64(sm.curve.samples)*100, 4)
	}
	tr.Sharpe, tr.Sortino = ratios(sm.curve.daily)
	placed, err := sm.journal.Placed(ctx, sm.cfg.ID)
	if err != nil {
		return tr, err
	}
	tr.Orders = placed
	orders := map[string]trading.Intent{}
	for after := uint64(0); ; {
		evs, err := sm.journal.Events(ctx, sm.cfg.ID, after, trading.MaxListLimit)
		if err != nil {
			return tr, err
		}
		if len(evs) == 0 {
			break
		}
		for _, e := range evs {
			after = e.ID
			if e.Intent != nil {
				orders[e.ClientOrderID] = *e.Intent
				o, err := sm.journal.Order(ctx, sm.cfg.ID, e.ClientOrderID)
				if err != nil {
					return tr, err
				}
				tr.OrderList = append(tr.OrderList, o)
			}
			if e.Kind == trading.EventFill {
				in := orders[e.ClientOrderID]
				tr.FillList = append(tr.FillList, Fill{Time: e.Time, ClientOrderID: e.ClientOrderID, Symbol: in.Symbol, Side: in.Side, Qty: e.Qty, Price: e.Price})
			}
		}
	}
	tr.WinRate = winRate(tr.FillList)
	return tr, nil
}

// ratios returns the annualized Sharpe and Sortino ratios of daily
// returns.
func ratios(daily []float64) (sharpe, sortino float64) {
	n := float64(len(daily))
	if n < 2 {
		return 0, 0
	}
	var sum float64
	for _, r := range daily {
		sum += r
	}
	mean := sum / n
	var ss, down float64
	for _, r := range daily {
		ss += (r - mean) * (r - mean)
		if r < 0 {
			down += r * r
		}
	}
	sd := math.Sqrt(ss / (n - 1))
	dd := math.Sqrt(down / n)
	ann := math.Sqrt(252)
	if sd > 0 {
		sharpe = mean / sd * ann
	}
	if dd > 0 {
		sortino = mean / dd * ann
	}
	return round(sharpe, 4), round(sortino, 4)
}

// winRate counts round trips per symbol: a trip starts when the position
// leaves zero and ends when it returns to (or crosses) zero; it wins when
// the cash it moved is positive.
func winRate(fills []Fill) float64 {
	type trip struct {
		pos, cash decimal.Decimal
	}
	open := map[string]*trip{}
	var trips, wins int
	for _, f := range fills {
		t := open[f.Symbol]
		if t == nil {
			t = &trip{}
			open[f.Symbol] = t
		}
		q := f.Qty
		if f.Side == trading.Sell {
			q = q.Neg()
		}
		t.cash = t.cash.Sub(q.Mul(f.Price))
		before := t.pos
		t.pos = t.pos.Add(q)
		if !before.IsZero() && (t.pos.IsZero() || t.pos.Sign() != before.Sign()) {
			// Crossing zero: the part beyond it opens a new trip at this
			// price and is not the closing trip's.
			next := t.pos.Neg().Mul(f.Price)
			trips++
			if t.cash.Sub(next).IsPositive() {
				wins++
			}
			t.cash = next
		}
	}
	if trips == 0 {
		return 0
	}
	return round(float64(wins)/float64(trips)*100, 4)
}
