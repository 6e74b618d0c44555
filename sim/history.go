package sim

import (
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"time"

	"github.com/shopspring/decimal"

	"github.com/quantum-alpaca/quantum/alpaca"
	"github.com/quantum-alpaca/quantum/sim/match"
)

var periodRE = regexp.MustCompile(`^([1-9][0-9]{0,3})(D|W|M|A)$`)

// phTimeframes are portfolio history's resolutions; 1D is zero.
var phTimeframes = map[string]time.Duration{
	"1Min": time.Minute, "5Min": 5 * time.Minute, "15Min": 15 * time.Minute, "1H": time.Hour, "1D": 0,
}

// Intraday reporting modes: which buckets of a day a series has.
const (
	marketHours   = "market_hours"   // the regular session of trading days
	extendedHours = "extended_hours" // 04:00-20:00 of trading days
	continuous    = "continuous"     // every minute of every day
)

// phPoint is one bucket of a portfolio history series.
type phPoint struct {
	at     int64 // bucket start, unix seconds
	day    int64 // the New York date it belongs to, as its midnight in unix seconds
	equity match.Money
}

// getPortfolioHistory serves GET /v2/account/portfolio/history from the
// account's recorded equity (equityHistory), bucketed as Alpaca does:
// timestamps are the buckets' starts, each equity is the account's as of
// the bucket's end (the current equity for the bucket in progress), and
// profit_loss counts from base_value, the close of the trading day before
// the series, or with pnl_reset=per_day (intraday) before each point's
// day. A window is at most two of period, start and end (date_end is the
// older spelling of end: the end of that date); period counts back from
// the end, nD as n trading days (the current one from its open), nW, nM
// and nA as calendar weeks, months and years. Intraday buckets count from
// the session's start: 09:30 (the regular session), 04:00
// (extended_hours) or midnight (continuous); daily ones are the trading
// days, labelled with their New York midnight. Nothing is reported from
// before the account was opened, or after now.
func (s *Server) getPortfolioHistory(w http.ResponseWriter, r *http.Request, a *account) {
	q := r.URL.Query()
	now := s.now()
	sess := s.cfg.Session

	period := q.Get("period")
	pn, pu := 0, byte(0)
	if period != "" {
		m := periodRE.FindStringSubmatch(period)
		if m == nil {
			invalid(w, "invalid period: expected <number><D|W|M|A>, e.g. 1M")
			return
		}
		pn, _ = strconv.Atoi(m[1])
		pu = m[2][0]
	}
	hasStart, hasEnd := q.Get("start") != "", q.Get("end") != ""
	start, ok := queryTime(w, q.Get("start"), "start")
	if !ok {
		return
	}
	end, ok := queryTime(w, q.Get("end"), "end")
	if !ok {
		return
	}
	if v := q.Get("date_end"); v != "" {
		d, err := time.ParseInLocation("2006-01-02", v, newYork)
		switch {
		case err != nil:
			invalid(w, "invalid date_end: expected YYYY-MM-DD")
			return
		case hasEnd:
			invalid(w, "give end or date_end, not both")
			return
		}
		end, hasEnd = d.AddDate(0, 0, 1).Add(-time.Nanosecond), true
	}
	if period != "" && hasStart && hasEnd {
		invalid(w, "only two of start, end and period can be given")
		return
	}
	tfName := q.Get("timeframe")
	tf, known := phTimeframes[tfName]
	if tfName != "" && !known {
		invalid(w, "invalid timeframe: must be 1Min, 5Min, 15Min, 1H or 1D")
		return
	}
	reporting := q.Get("intraday_reporting")
	extHours := false
	if v := q.Get("extended_hours"); v != "" {
		var err error
		if extHours, err = strconv.ParseBool(v); err != nil {
			invalid(w, "invalid extended_hours: must be true or false")
			return
		}
	}
	switch reporting {
	case "":
		reporting = marketHours
		if extHours {
			reporting = extendedHours
		}
	case marketHours, extendedHours, continuous:
	default:
		invalid(w, "invalid intraday_reporting: must be market_hours, extended_hours or continuous")
		return
	}
	perDay := true
	switch q.Get("pnl_reset") {
	case "", "per_day":
	case "no_reset":
		perDay = false
	default:
		invalid(w, "invalid pnl_reset: must be per_day or no_reset")
		return
	}

	switch {
	case hasStart && period != "":
		end = addPeriod(start, pn, pu)
	case !hasEnd:
		end = now
	}
	if hasStart && hasEnd && end.Before(start) {
		invalid(w, "end must not be before start")
		return
	}
	// A window that begins after now is empty, not wrong.
	if end.After(now) {
		end = now
	}
	var days float64 // the window's length, which picks the default timeframe
	if !hasStart {
		if period == "" {
			pn, pu = 1, 'M'
		}
		start = s.periodStart(end, pn, pu, reporting)
	}
	if period != "" || !hasStart {
		days = float64(pn) * map[byte]float64{'D': 1, 'W': 7, 'M': 30, 'A': 365}[pu]
	} else {
		days = end.Sub(start).Hours() / 24
	}
	if tfName == "" {
		tfName = "1D"
		if days < 7 {
			tfName = "1Min"
		} else if days < 30 {
			tfName = "15Min"
		}
		tf = phTimeframes[tfName]
	}
	if tf > 0 && days > 30 {
		invalid(w, "intraday timeframes cover at most 30 days: use timeframe 1D for a longer period")
		return
	}

	a.mu.Lock()
	h := a.history.clone()
	current := a.eng.Equity(s.marks)
	a.mu.Unlock()
	// value is the equity as of t: the current one where the samples do
	// not reach yet.
	value := func(t time.Time) (match.Money, bool) {
		if !t.Before(now) || t.UnixNano() > h.through {
			if t.UnixNano() < firstSample(&h) {
				return 0, false
			}
			return current, true
		}
		return h.at(t.UnixNano())
	}

	var pts []phPoint
	from, to := dateIn(start, newYork), dateIn(end, newYork)
	if tf == 0 {
		for _, d := range sess.Days(from, to) {
			if now.Before(d.Open) {
				break
			}
			var v match.Money
			var ok bool
			if i := sort.Search(len(h.closes), func(i int) bool { return h.closes[i].day >= d.Date.Unix() }); i < len(h.closes) && h.closes[i].day == d.Date.Unix() {
				v, ok = h.closes[i].equity, true
			} else {
				v, ok = value(minTime(d.Close, now))
			}
			if ok {
				pts = append(pts, phPoint{d.Date.Unix(), d.Date.Unix(), v})
			}
		}
	} else {
		for d := from; !d.After(to); d = d.AddDate(0, 0, 1) {
			lo, hi := d, d.AddDate(0, 0, 1)
			if reporting != continuous {
				day, ok := sess.Day(d)
				if !ok {
					continue
				}
				lo, hi = day.Open, day.Close
				if reporting == extendedHours {
					lo, hi = extended(day)
				}
			}
			for b := lo; b.Before(hi) && !b.After(end); b = b.Add(tf) {
				e := minTime(b.Add(tf), hi)
				if !e.After(start) {
					continue
				}
				if v, ok := value(minTime(e, now)); ok {
					pts = append(pts, phPoint{b.Unix(), d.Unix(), v})
				}
			}
		}
	}

	out := alpaca.PortfolioHistory{
		Timestamp: make([]int64, 0, len(pts)), Equity: make([]decimal.Decimal, 0, len(pts)),
		ProfitLoss: make([]decimal.Decimal, 0, len(pts)), ProfitLossPct: make([]decimal.Decimal, 0, len(pts)),
		Timeframe: tfName,
	}
	// The base is the close before the series' first day; an account
	// without one (opened inside the window) counts from its first point,
	// as Alpaca does for an account with no prior closing balance.
	base := current
	firstDay := to.AddDate(0, 0, 1).Unix()
	if len(pts) > 0 {
		base, firstDay = pts[0].equity, pts[0].day
	}
	if c, ok := closeBefore(h.closes, firstDay); ok {
		base = c.equity
		out.BaseValueAsOf = time.Unix(c.day, 0).In(newYork).Format("2006-01-02")
	}
	out.BaseValue = base.Decimal()
	for _, p := range pts {
		b := base
		if perDay && tf > 0 {
			if c, ok := closeBefore(h.closes, p.day); ok {
				b = c.equity
			}
		}
		pl := p.equity - b
		pct := decimal.Zero
		if b != 0 {
			pct = pl.Decimal().Div(b.Decimal()).Round(6)
		}
		out.Timestamp = append(out.Timestamp, p.at)
		out.Equity = append(out.Equity, p.equity.Decimal())
		out.ProfitLoss = append(out.ProfitLoss, pl.Decimal())
		out.ProfitLossPct = append(out.ProfitLossPct, pct)
	}
	writePortfolioHistory(w, &out)
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func firstSample(h *equityHistory) int64 {
	switch {
	case len(h.older) > 0:
		return h.older[0].at
	case len(h.recent) > 0:
		return h.recent[0].at
	}
	return h.through
}

// addPeriod is start plus n units of D, W, M or A.
func addPeriod(start time.Time, n int, unit byte) time.Time {
	switch unit {
	case 'D':
		return start.AddDate(0, 0, n)
	case 'W':
		return start.AddDate(0, 0, 7*n)
	case 'M':
		return start.AddDate(0, n, 0)
	}
	return start.AddDate(n, 0, 0)
}

// periodStart is where a period of n units ending at end begins: n
// trading days back from the market date of end (which rolls over at the
// reporting's start of day: the open, 04:00 for extended hours, midnight
// for continuous), or the calendar weeks, months or years up to end's
// date.
func (s *Server) periodStart(end time.Time, n int, unit byte, reporting string) time.Time {
	today := dateIn(end, newYork)
	switch unit {
	case 'W':
		return today.AddDate(0, 0, 1-7*n)
	case 'M':
		return today.AddDate(0, -n, 1)
	case 'A':
		return today.AddDate(-n, 0, 1)
	}
	d := today
	if day, ok := s.cfg.Session.Day(today); ok {
		rollover := day.Open
		switch reporting {
		case extendedHours:
			rollover, _ = extended(day)
		case continuous:
			rollover = today
		}
		if end.Before(rollover) {
			d = d.AddDate(0, 0, -1)
		}
	}
	// Trading days are at least two in every week, so the walk ends; the
	// bound keeps a calendar without trading days from looping.
	for i := 0; i < 7*n+7; i, d = i+1, d.AddDate(0, 0, -1) {
		if _, ok := s.cfg.Session.Day(d); ok {
			if n--; n == 0 {
				return d
			}
		}
	}
	return d
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
		BaseValueAsOf string       `json:"base_value_asof,omitempty"`
		Timeframe     string       `json:"timeframe"`
		Cashflow      struct{}     `json:"cashflow"`
	}{h.Timestamp, nums(h.Equity), nums(h.ProfitLoss), nums(h.ProfitLossPct), jsonNumber(h.BaseValue.String()), h.BaseValueAsOf, h.Timeframe, struct{}{}})
}

// jsonNumber is a decimal written as a bare JSON number.
type jsonNumber string

func (n jsonNumber) MarshalJSON() ([]byte, error) { return []byte(n), nil }
