package sim

import (
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/shopspring/decimal"

	"github.com/quantum-alpaca/quantum/alpaca"
	"github.com/quantum-alpaca/quantum/sim/match"
)

// equitySample is the account's equity at one moment. The simulator keeps
// one per trading day's end plus the account's opening balance; portfolio
// history reports those and the current equity rather than inventing
// values in between.
type equitySample struct {
	at     time.Time
	equity match.Money
}

var periodRE = regexp.MustCompile(`^([1-9][0-9]{0,3})(D|W|M|A)$`)

func (s *Server) getPortfolioHistory(w http.ResponseWriter, r *http.Request, a *account) {
	q := r.URL.Query()
	now := s.now()
	period := q.Get("period")
	if period == "" {
		period = "1M"
	}
	m := periodRE.FindStringSubmatch(period)
	if m == nil {
		invalid(w, "invalid period: expected <number><D|W|M|A>, e.g. 1M")
		return
	}
	n, _ := strconv.Atoi(m[1])
	start := now
	switch m[2] {
	case "D":
		start = now.AddDate(0, 0, -n)
	case "W":
		start = now.AddDate(0, 0, -7*n)
	case "M":
		start = now.AddDate(0, -n, 0)
	case "A":
		start = now.AddDate(-n, 0, 0)
	}
	var ok bool
	if v := q.Get("start"); v != "" {
		if start, ok = queryTime(w, v, "start"); !ok {
			return
		}
	}
	end := now
	if v := q.Get("end"); v != "" {
		if end, ok = queryTime(w, v, "end"); !ok {
			return
		}
	}
	if v := q.Get("date_end"); v != "" {
		d, err := time.ParseInLocation("2006-01-02", v, newYork)
		if err != nil {
			invalid(w, "invalid date_end: expected YYYY-MM-DD")
			return
		}
		end = d.AddDate(0, 0, 1)
	}
	tf := q.Get("timeframe")
	switch tf {
	case "":
		tf = "1D"
		if end.Sub(start) < 7*24*time.Hour {
			tf = "1Min"
		} else if end.Sub(start) < 30*24*time.Hour {
			tf = "15Min"
		}
	case "1Min", "5Min", "15Min", "1H", "1D":
	default:
		invalid(w, "invalid timeframe: must be 1Min, 5Min, 15Min, 1H or 1D")
		return
	}

	a.mu.Lock()
	samples := append([]equitySample{{a.created, a.startCash}}, a.equityLog...)
	current := a.eng.Snapshot(now, s.marks).Equity
	a.mu.Unlock()
	samples = append(samples, equitySample{now, current})

	base := a.startCash
	h := alpaca.PortfolioHistory{
		Timestamp: []int64{}, Equity: []decimal.Decimal{}, ProfitLoss: []decimal.Decimal{}, ProfitLossPct: []decimal.Decimal{},
		BaseValue: base.Decimal(), BaseValueAsOf: start.In(newYork).Format("2006-01-02"), Timeframe: tf,
	}
	for _, smp := range samples {
		if smp.at.Before(start) || smp.at.After(end) {
			continue
		}
		pl := smp.equity - base
		pct := decimal.Zero
		if base != 0 {
			pct = pl.Decimal().Div(base.Decimal()).Round(6)
		}
		h.Timestamp = append(h.Timestamp, smp.at.Unix())
		h.Equity = append(h.Equity, smp.equity.Decimal())
		h.ProfitLoss = append(h.ProfitLoss, pl.Decimal())
		h.ProfitLossPct = append(h.ProfitLossPct, pct)
	}
	writePortfolioHistory(w, &h)
}

// writePortfolioHistory sends the series as JSON numbers, as Alpaca does,
// where decimal.Decimal would marshal them as strings.
func writePortfolioHistory(w http.ResponseWriter, h *alpaca.PortfolioHistory) {
	nums := func(ds []decimal.Decimal) []jsonNumber {
		out := make([]jsonNumber, len(ds))
		for i, d := range ds {
			out[i] = jsonNumber(d.String())
		}
		return out
	}
	writeJSON(w, http.StatusOK, struct {
		Timestamp     []int64      `json:"timestamp"`
		Equity        []jsonNumber `json:"equity"`
		ProfitLoss    []jsonNumber `json:"profit_loss"`
		ProfitLossPct []jsonNumber `json:"profit_loss_pct"`
		BaseValue     jsonNumber   `json:"base_value"`
		BaseValueAsOf string       `json:"base_value_asof"`
		Timeframe     string       `json:"timeframe"`
		Cashflow      struct{}     `json:"cashflow"`
	}{h.Timestamp, nums(h.Equity), nums(h.ProfitLoss), nums(h.ProfitLossPct), jsonNumber(h.BaseValue.String()), h.BaseValueAsOf, h.Timeframe, struct{}{}})
}

// jsonNumber is a decimal written as a bare JSON number.
type jsonNumber string

func (n jsonNumber) MarshalJSON() ([]byte, error) { return []byte(n), nil }
