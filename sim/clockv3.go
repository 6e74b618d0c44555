package sim

import (
	"net/http"
	"strings"
	"time"
)

// v3Market is a market as GET /v3/clock and /v3/calendar describe it.
type v3Market struct {
	Acronym  string `json:"acronym"`
	MIC      string `json:"mic,omitempty"`
	Name     string `json:"name"`
	Timezone string `json:"timezone"`
	BIC      string `json:"bic,omitempty"`
}

// v3Markets are the markets the broker keeps a clock for: the US equity
// exchanges, which share the session the broker trades (Config.Session).
// Keys are what a request may name, upper-cased.
var v3Markets = func() map[string]v3Market {
	nyse := v3Market{Acronym: "NYSE", MIC: "XNYS", Name: "New York Stock Exchange", Timezone: "America/New_York"}
	nasdaq := v3Market{Acronym: "NASDAQ", MIC: "XNAS", Name: "Nasdaq Stock Market", Timezone: "America/New_York"}
	return map[string]v3Market{"NYSE": nyse, "XNYS": nyse, "NASDAQ": nasdaq, "XNAS": nasdaq}
}()

// v3Clock is one market's entry in GET /v3/clock.
type v3Clock struct {
	Market          v3Market  `json:"market"`
	IsMarketDay     bool      `json:"is_market_day"`
	Phase           string    `json:"phase"`
	PhaseUntil      time.Time `json:"phase_until"`
	NextMarketOpen  time.Time `json:"next_market_open"`
	NextMarketClose time.Time `json:"next_market_close"`
	Timestamp       time.Time `json:"timestamp"`
}

// The extended sessions around the regular one, New York time.
const (
	preOpenHour   = 4
	postCloseHour = 20
)

// getClockV3 serves GET /v3/clock?markets=NYSE,NASDAQ&time=RFC3339: per
// market, whether t (default now) is on a market day, the phase (pre,
// core, post, closed) and when it ends, and the next open and close.
func (s *Server) getClockV3(w http.ResponseWriter, r *http.Request, _ *account) {
	q := r.URL.Query()
	t := s.now()
	if v := q.Get("time"); v != "" {
		var err error
		if t, err = time.Parse(time.RFC3339Nano, v); err != nil {
			invalid(w, "invalid time: expected an RFC 3339 time")
			return
		}
	}
	names := []string{"NYSE"}
	if v := q.Get("markets"); v != "" {
		names = strings.Split(v, ",")
	}
	out := struct {
		Clocks []v3Clock `json:"clocks"`
	}{Clocks: make([]v3Clock, 0, len(names))}
	for _, n := range names {
		m, ok := v3Markets[strings.ToUpper(strings.TrimSpace(n))]
		if !ok {
			invalid(w, "unsupported market "+n+": this broker keeps the clock of NYSE and NASDAQ")
			return
		}
		out.Clocks = append(out.Clocks, s.clockV3(m, t.In(newYork)))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) clockV3(m v3Market, t time.Time) v3Clock {
	sess := s.cfg.Session
	c := v3Clock{Market: m, Timestamp: t, NextMarketOpen: sess.NextOpen(t).In(newYork), NextMarketClose: sess.NextClose(t).In(newYork)}
	day, ok := sess.Day(t)
	c.IsMarketDay = ok
	if ok {
		pre, post := extended(day)
		switch {
		case t.Before(pre):
			c.Phase, c.PhaseUntil = "closed", pre
		case t.Before(day.Open):
			c.Phase, c.PhaseUntil = "pre", day.Open
		case t.Before(day.Close):
			c.Phase, c.PhaseUntil = "core", day.Close
		case t.Before(post):
			c.Phase, c.PhaseUntil = "post", post
		}
		if c.Phase != "" {
			c.PhaseUntil = c.PhaseUntil.In(newYork)
			return c
		}
	}
	// Closed until the next market day's pre-market (or its open, for a
	// session without one).
	c.Phase = "closed"
	next, _ := sess.Day(sess.NextOpen(t))
	pre, _ := extended(next)
	c.PhaseUntil = pre.In(newYork)
	return c
}

// extended returns the pre-market start and post-market end around a
// trading day: 04:00 and 20:00 New York, clipped to the regular session
// when it is longer (the always-open session's whole day).
func extended(d TradingDay) (pre, post time.Time) {
	pre = d.Date.Add(preOpenHour * time.Hour)
	post = d.Date.Add(postCloseHour * time.Hour)
	if d.Open.Before(pre) {
		pre = d.Open
	}
	if d.Close.After(post) {
		post = d.Close
	}
	return pre, post
}

// v3CalendarDay is one day of GET /v3/calendar/{market}.
type v3CalendarDay struct {
	Date           string    `json:"date"`
	PreStart       time.Time `json:"pre_start"`
	PreEnd         time.Time `json:"pre_end"`
	CoreStart      time.Time `json:"core_start"`
	CoreEnd        time.Time `json:"core_end"`
	PostStart      time.Time `json:"post_start"`
	PostEnd        time.Time `json:"post_end"`
	SettlementDate string    `json:"settlement_date"`
}

// getCalendarV3 serves GET /v3/calendar/{market}?start&end&timezone: the
// market's trading days with their sessions as full times, in the
// market's zone (timezone=UTC for UTC).
func (s *Server) getCalendarV3(w http.ResponseWriter, r *http.Request, _ *account) {
	m, ok := v3Markets[strings.ToUpper(r.PathValue("market"))]
	if !ok {
		notFound(w, "market not found: this broker keeps the calendar of NYSE and NASDAQ")
		return
	}
	q := r.URL.Query()
	loc := newYork
	switch tz := q.Get("timezone"); tz {
	case "":
	case "UTC":
		loc = time.UTC
	default:
		invalid(w, "invalid timezone: expected UTC or nothing (the market's own)")
		return
	}
	now := s.now().In(newYork)
	from := time.Date(now.Year(), 1, 1, 0, 0, 0, 0, newYork)
	to := time.Date(now.Year(), 12, 31, 0, 0, 0, 0, newYork)
	var err error
	if v := q.Get("start"); v != "" {
		if from, err = parseDate(v); err != nil {
			invalid(w, "invalid start: "+err.Error())
			return
		}
	}
	if v := q.Get("end"); v != "" {
		if to, err = parseDate(v); err != nil {
			invalid(w, "invalid end: "+err.Error())
			return
		}
	}
	if to.Sub(from) > 366*24*time.Hour*60 {
		invalid(w, "calendar range is too large")
		return
	}
	out := struct {
		Market   v3Market        `json:"market"`
		Calendar []v3CalendarDay `json:"calendar"`
	}{Market: m, Calendar: []v3CalendarDay{}}
	if !to.Before(from) {
		for _, d := range s.cfg.Session.Days(from, to) {
			pre, post := extended(d)
			out.Calendar = append(out.Calendar, v3CalendarDay{
				Date:     d.Date.Format("2006-01-02"),
				PreStart: pre.In(loc), PreEnd: d.Open.In(loc),
				CoreStart: d.Open.In(loc), CoreEnd: d.Close.In(loc),
				PostStart: d.Close.In(loc), PostEnd: post.In(loc),
				SettlementDate: settlement(d.Date).Format("2006-01-02"),
			})
		}
	}
	writeJSON(w, http.StatusOK, out)
}
