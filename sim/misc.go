package sim

import (
	"net/http"
	"strings"
	"time"

	"github.com/quantum-alpaca/quantum/alpaca"
)

func (s *Server) getClock(w http.ResponseWriter, r *http.Request, _ *account) {
	now := s.now().In(newYork)
	writeJSON(w, http.StatusOK, alpaca.Clock{
		Timestamp: now,
		IsOpen:    s.cfg.Session.Open(now),
		NextOpen:  s.cfg.Session.NextOpen(now).In(newYork),
		NextClose: s.cfg.Session.NextClose(now).In(newYork),
	})
}

// getCalendar serves /v2/calendar. Alpaca's calendar covers 1970-2029; an
// unbounded request defaults to the current year, as a client that asks
// for "everything" wants dates near today.
func (s *Server) getCalendar(w http.ResponseWriter, r *http.Request, _ *account) {
	q := r.URL.Query()
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
	if to.Before(from) {
		writeJSON(w, http.StatusOK, []alpaca.CalendarDay{})
		return
	}
	if to.Sub(from) > 366*24*time.Hour*60 {
		invalid(w, "calendar range is too large")
		return
	}
	days := s.cfg.Session.Days(from, to)
	out := make([]alpaca.CalendarDay, 0, len(days))
	for _, d := range days {
		c := alpaca.CalendarDay{
			Date:           d.Date.Format("2006-01-02"),
			Open:           d.Open.Format("15:04"),
			Close:          d.Close.Format("15:04"),
			SessionOpen:    "0400",
			SessionClose:   "2000",
			SettlementDate: settlement(d.Date).Format("2006-01-02"),
		}
		if !d.Close.Before(d.Date.AddDate(0, 0, 1)) {
			// A day that trades to midnight (AlwaysOpen): "24:00" is not a
			// time clients parse, and the next day's "00:00" would put the
			// close before the open, so the close is the day's last minute,
			// and the extended session is the whole day too.
			c.Close, c.SessionOpen, c.SessionClose = "23:59", "0000", "2359"
		}
		out = append(out, c)
	}
	writeJSON(w, http.StatusOK, out)
}

// settlement is T+1, on weekdays.
func settlement(d time.Time) time.Time {
	d = d.AddDate(0, 0, 1)
	for d.Weekday() == time.Saturday || d.Weekday() == time.Sunday {
		d = d.AddDate(0, 0, 1)
	}
	return d
}

func parseDate(v string) (time.Time, error) {
	if t, err := time.ParseInLocation("2006-01-02", v, newYork); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, errBadTime
	}
	return dateIn(t, newYork), nil
}

type simError string

func (e simError) Error() string { return string(e) }

const errBadTime = simError("expected YYYY-MM-DD or an RFC 3339 time")

func (s *Server) listAssets(w http.ResponseWriter, r *http.Request, _ *account) {
	q := r.URL.Query()
	status, class, exchange := q.Get("status"), q.Get("asset_class"), q.Get("exchange")
	if status != "" && status != "active" && status != "inactive" {
		invalid(w, "invalid status: must be active or inactive")
		return
	}
	var attrs []string
	if v := q.Get("attributes"); v != "" {
		attrs = strings.Split(v, ",")
	}
	out := []any{}
	if class == "crypto" || class == "all" {
		for i := range s.crypto.pairs {
			a := s.crypto.pairs[i].asset()
			if status != "" && a.Status != status ||
				exchange != "" && !strings.EqualFold(a.Exchange, exchange) ||
				len(attrs) > 0 {
				continue
			}
			out = append(out, a)
		}
	}
	for _, sym := range s.market.Symbols() {
		a := assetOf(sym)
		if status != "" && a.Status != status ||
			class != "" && class != "all" && a.Class != class ||
			exchange != "" && !strings.EqualFold(a.Exchange, exchange) ||
			len(attrs) > 0 && !anyOf(a.Attributes, attrs) {
			continue
		}
		out = append(out, a)
	}
	writeJSON(w, http.StatusOK, out)
}

func anyOf(have, want []string) bool {
	for _, h := range have {
		for _, w := range want {
			if h == w {
				return true
			}
		}
	}
	return false
}

func (s *Server) getAsset(w http.ResponseWriter, r *http.Request, _ *account) {
	if p, ok := s.crypto.lookup(r.PathValue("symbol")); ok {
		writeJSON(w, http.StatusOK, p.asset())
		return
	}
	sym, ok := s.market.Lookup(r.PathValue("symbol"))
	if !ok {
		notFound(w, "asset not found")
		return
	}
	writeJSON(w, http.StatusOK, assetOf(sym))
}
