package sim

import (
	"encoding/json"
	"net/http"
	"sort"
	"time"

	"github.com/quantum-alpaca/quantum/alpaca"
	"github.com/quantum-alpaca/quantum/sim/match"
)

// The account activity stream, GET /v2beta1/events/activities (issue 9):
// an account's activities (the CSD of its starting cash, then every FILL
// and CFEE) as server-sent events, replayed from since or since_id and
// then live, until until or until_id is reached or the client goes away,
// with a comment line as heartbeat while idle. Alpaca serves this stream
// on the Broker API; the simulator serves it to a Trading API account
// with that account's keys, and to a Broker API firm for one customer
// account named by account_id.
//
// Each event is the activity as GET /v2/account/activities answers it,
// plus account_id, at (when it happened) and event_id, a ULID. Event ids
// number the account's activities from 1 (the deposit) in the order they
// happened, which is also time order, under the millisecond of their
// time: they sort as the events happened and since_id resumes exactly
// after the event it names. Nothing is dropped or bounded by a ring: the
// activities are the account's own records, kept for its life, and the
// stream reads them by number; the trade-update feed only tells it when
// to look again.

// activityEvent is one event of the activity stream.
type activityEvent struct {
	alpaca.Activity
	AccountID string    `json:"account_id"`
	At        time.Time `json:"at"`
	EventID   string    `json:"event_id"`
}

// restActivity is a FILL or CFEE activity as the REST listing shows it.
func restActivity(act *match.Activity) alpaca.Activity {
	if act.Fee {
		return feeActivity(act)
	}
	tt := act.Time.Time()
	p, qty, cum, leaves := act.Price.Decimal(), act.Qty.Decimal(), act.CumQty.Decimal(), act.LeavesQty.Decimal()
	return alpaca.Activity{
		ID: act.ID(), ActivityType: "FILL", TransactionTime: &tt, Type: string(act.Type),
		Price: &p, Qty: &qty, Side: string(act.Side), Symbol: act.Symbol,
		LeavesQty: &leaves, CumQty: &cum, OrderID: act.OrderID.String(), OrderStatus: string(act.OrderStatus),
	}
}

// activityLog reads an account's activities by event number: 1 is the
// deposit, n+2 the engine's activity n. The caller holds a.mu.
type activityLog struct{ a *account }

// last is the number of the newest event.
func (l activityLog) last() uint64 { return uint64(l.a.eng.ActivityCount()) + 1 }

// at returns event seq's time and, when full, the whole event.
func (l activityLog) at(seq uint64, full bool) (time.Time, activityEvent) {
	if seq == 1 {
		t := l.a.created.UTC()
		if !full {
			return t, activityEvent{}
		}
		return t, l.event(seq, t, depositActivity(l.a, l.a.created.UTC().Format("20060102150405000")+"::"+l.a.id))
	}
	act := l.a.eng.ActivityAt(int(seq - 2))
	t := act.Time.Time()
	if !full {
		return t, activityEvent{}
	}
	return t, l.event(seq, t, restActivity(&act))
}

func (l activityLog) event(seq uint64, t time.Time, act alpaca.Activity) activityEvent {
	return activityEvent{Activity: act, AccountID: l.a.id, At: t, EventID: ulid(t.UnixMilli(), seq)}
}

// after reports whether event seq at time t comes after the ULID u.
func activityAfter(t time.Time, seq uint64, u ulidKey) bool {
	ms := t.UnixMilli()
	switch {
	case ms != u.ms:
		return ms > u.ms
	case u.hi != 0:
		return false
	}
	return seq > u.lo
}

// firstAfterID is the number of the first event after the ULID u.
func (l activityLog) firstAfterID(u ulidKey) uint64 {
	n := l.last()
	i := sort.Search(int(n), func(i int) bool {
		t, _ := l.at(uint64(i)+1, false)
		return activityAfter(t, uint64(i)+1, u)
	})
	return uint64(i) + 1
}

// firstFrom is the number of the first event at or after t.
func (l activityLog) firstFrom(t time.Time) uint64 {
	if !l.a.created.Before(t) {
		return 1
	}
	return uint64(l.a.eng.FirstActivityFrom(t)) + 2
}

// sseActivities serves GET /v2beta1/events/activities.
func (s *Server) sseActivities(w http.ResponseWriter, r *http.Request) {
	var a *account
	if s.firm != nil {
		switch s.firm.authenticate(r, s.rateNow()) {
		case firmOK:
			id := r.URL.Query().Get("account_id")
			if id == "" {
				invalid(w, "account_id is required: the simulator streams one customer account's activities at a time")
				return
			}
			c := s.firm.customer(id)
			if c == nil {
				notFound(w, "account not found")
				return
			}
			a = c.a
		case firmWrongPass:
			writeAuthError(w, authWrongSecret)
			return
		}
	}
	if a == nil {
		if a = s.streamAuth(w, r); a == nil {
			return
		}
	}

	q := r.URL.Query()
	since, until, sinceID, untilID := q.Get("since"), q.Get("until"), q.Get("since_id"), q.Get("until_id")
	switch {
	case since != "" && sinceID != "":
		invalid(w, "since and since_id are mutually exclusive")
		return
	case until != "" && since == "":
		invalid(w, "until requires since")
		return
	case untilID != "" && sinceID == "":
		invalid(w, "until_id requires since_id")
		return
	}
	parseOK := true
	parseTime := func(v, name string, end bool) time.Time {
		if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
			return t
		}
		if d, err := time.ParseInLocation("2006-01-02", v, newYork); err == nil {
			if end {
				return d.AddDate(0, 0, 1).Add(-time.Nanosecond) // the whole day
			}
			return d
		}
		invalid(w, "invalid "+name+": expected an RFC 3339 time or YYYY-MM-DD")
		parseOK = false
		return time.Time{}
	}
	var (
		fromID, toID   ulidKey
		fromT, toT     time.Time
		hasFrom, hasTo bool
		byID           = sinceID != ""
	)
	switch {
	case byID:
		var ok bool
		if fromID, ok = parseULID(sinceID); !ok {
			invalid(w, "invalid since_id: expected a ULID")
			return
		}
		hasFrom = true
		if untilID != "" {
			if toID, ok = parseULID(untilID); !ok {
				invalid(w, "invalid until_id: expected a ULID")
				return
			}
			hasTo = true
		}
	case since != "":
		if fromT = parseTime(since, "since", false); !parseOK {
			return
		}
		hasFrom = true
		if until != "" {
			if toT = parseTime(until, "until", true); !parseOK {
				return
			}
			hasTo = true
		}
	}

	// Subscribed before the first read of the log, so that an activity
	// that happens between the two rings the doorbell.
	sub := a.feed.subscribe(nil)
	defer func() { a.feed.unsubscribe(sub) }()
	a.mu.Lock()
	log := activityLog{a}
	next := log.last() + 1 // live only
	if hasFrom {
		if byID {
			next = log.firstAfterID(fromID)
		} else {
			next = log.firstFrom(fromT)
		}
	}
	a.mu.Unlock()

	s.streams.active.Add(1)
	defer s.streams.active.Add(-1)
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("Connection", "keep-alive")
	w.WriteHeader(http.StatusOK)
	var deadline time.Time
	flush := func(p []byte) bool {
		deadline = time.Now().Add(s.cfg.StreamWriteTimeout)
		_ = rc.SetWriteDeadline(deadline)
		if len(p) > 0 {
			if _, err := w.Write(p); err != nil {
				return false
			}
		}
		if rc.Flush() != nil {
			return false
		}
		_ = rc.SetWriteDeadline(time.Time{})
		return true
	}
	failed := func() {
		if !time.Now().Before(deadline) {
			s.slowClient("activities", "write timeout", a.id)
		}
	}
	if !flush(nil) {
		failed()
		return
	}

	// past reports whether event seq at t lies beyond until/until_id.
	past := func(t time.Time, seq uint64) bool {
		if !hasTo {
			return false
		}
		if byID {
			return activityAfter(t, seq, toID)
		}
		return t.After(toT)
	}
	// over reports whether no event yet to happen can fall within
	// until/until_id: the clock has passed it.
	over := func() bool {
		if !hasTo {
			return false
		}
		now := s.now()
		if byID {
			return now.UnixMilli() > toID.ms
		}
		return now.After(toT)
	}

	drain := make([]feedEntry[tuRecord], streamBatch)
	events := make([]activityEvent, 0, streamBatch)
	buf := make([]byte, 0, 2048)
	hb := time.NewTicker(s.cfg.HeartbeatInterval)
	defer hb.Stop()
	for {
		// The clock is read before the log: an event the log does not
		// have yet happens after it.
		ended := over()
		events = events[:0]
		done := false
		a.mu.Lock()
		last := log.last()
		for ; next <= last && len(events) < streamBatch; next++ {
			t, ev := log.at(next, true)
			if past(t, next) {
				done = true
				break
			}
			events = append(events, ev)
		}
		more := next <= last
		a.mu.Unlock()
		if len(events) > 0 {
			buf = buf[:0]
			for i := range events {
				b, err := json.Marshal(&events[i])
				if err != nil {
					return
				}
				buf = append(append(append(buf, "data: "...), b...), "\n\n"...)
			}
			if !flush(buf) {
				failed()
				return
			}
			if cap(buf) > 64<<10 {
				buf = make([]byte, 0, 2048)
			}
		}
		if done || !more && ended {
			return // the end asked for is reached: the stream ends with 200
		}
		if more {
			continue
		}
		select {
		case <-sub.ready:
			// The doorbell's entries are not needed, only its ring:
			// reading them keeps the feed from cutting the subscription.
			for {
				n, ok := a.feed.read(sub, drain)
				if !ok || n < len(drain) {
					break
				}
			}
		case <-sub.gone:
			// Cut off for not reading fast enough: ring again from now on;
			// the log itself lost nothing.
			a.feed.unsubscribe(sub)
			sub = a.feed.subscribe(nil)
		case <-hb.C:
			if !flush([]byte(":heartbeat\n\n")) {
				failed()
				return
			}
		case <-r.Context().Done():
			return
		case <-s.ctx.Done():
			return
		}
	}
}
