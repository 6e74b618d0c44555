package sim

import (
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/quantum-alpaca/quantum/alpaca"
	"github.com/quantum-alpaca/quantum/sim/match"
)

// The account activity stream, GET /v2beta1/events/activities (issue 9):
// an account's activities (the CSD of its starting cash, then every FILL
// and CFEE) as server-sent events, replayed from since or since_id and
// then live, until until or until_id is reached or the client goes away,
// with a comment line as heartbeat while idle. The activities the broker
// books on an account (account.booked: SPLIT and DIV of corporate
// actions, JNLC of journals, CSD and CSW of transfers) are on it too,
// where they happened among the others. Alpaca serves this stream
// on the Broker API; the simulator serves it to a Trading API account
// with that account's keys, and to a Broker API firm: every customer
// account's activities on one stream, or one customer's with account_id.
//
// Each event is the activity as GET /v2/account/activities answers it,
// plus account_id, at (when it happened) and event_id, a ULID. An
// account's event ids number its activities from 1 (the deposit) in the
// order they happened, which is also time order, under the millisecond of
// their time; the firm's number its customers' activities in the order
// they happened, under a millisecond that never goes back. Either way ids
// sort as the events happened and since_id resumes exactly after the
// event it names. Nothing is dropped or bounded by a ring: the activities
// are the accounts' own records, kept for their life, and the stream
// reads them by number; a trade-update feed only tells it when to look
// again.

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

// activitySource is what the stream reads: events numbered from 1 in
// the order of their ULIDs, appended to and never changed.
type activitySource interface {
	// last is the number of the newest event.
	last() uint64
	// at returns event seq's ULID millisecond and time and, when full,
	// the event itself.
	at(seq uint64, full bool) (ms int64, t time.Time, ev activityEvent)
	// firstFrom is the number of the first event at or after t.
	firstFrom(t time.Time) uint64
}

// activityLog is one account's activities as a source: 1 is the deposit,
// then the engine's activities and the booked ones, in the order they
// were recorded. The ULID millisecond is the event's time, or that of the
// booked activity before it if later (a split is applied a little ahead
// of its instant under a running clock).
type activityLog struct{ a *account }

func (l activityLog) last() uint64 {
	l.a.mu.Lock()
	defer l.a.mu.Unlock()
	return l.lastLocked()
}

func (l activityLog) lastLocked() uint64 {
	return uint64(l.a.eng.ActivityCount()) + uint64(len(l.a.booked)) + 1
}

func (l activityLog) at(seq uint64, full bool) (int64, time.Time, activityEvent) {
	l.a.mu.Lock()
	defer l.a.mu.Unlock()
	return l.atLocked(seq, full)
}

// bookedPos is the event number of the account's booked activity k.
func (l activityLog) bookedPos(k int) uint64 { return 2 + uint64(l.a.booked[k].after) + uint64(k) }

// atLocked is at for a caller that holds a.mu.
func (l activityLog) atLocked(seq uint64, full bool) (int64, time.Time, activityEvent) {
	a := l.a
	if seq == 1 {
		t := a.created.UTC()
		if !full {
			return t.UnixMilli(), t, activityEvent{}
		}
		return t.UnixMilli(), t, l.event(seq, t.UnixMilli(), t, depositActivity(a, t.Format("20060102150405000")+"::"+a.id))
	}
	// j booked activities come before seq.
	j := sort.Search(len(a.booked), func(k int) bool { return l.bookedPos(k) >= seq })
	if j < len(a.booked) && l.bookedPos(j) == seq {
		c := &a.booked[j]
		if !full {
			return c.ms, c.at, activityEvent{}
		}
		return c.ms, c.at, l.event(seq, c.ms, c.at, c.act)
	}
	act := a.eng.ActivityAt(int(seq-2) - j)
	t := act.Time.Time()
	ms := t.UnixMilli()
	if j > 0 {
		ms = max(ms, a.booked[j-1].ms)
	}
	if !full {
		return ms, t, activityEvent{}
	}
	return ms, t, l.event(seq, ms, t, restActivity(&act))
}

func (l activityLog) event(seq uint64, ms int64, t time.Time, act alpaca.Activity) activityEvent {
	return activityEvent{Activity: act, AccountID: l.a.id, At: t, EventID: ulid(ms, seq)}
}

func (l activityLog) firstFrom(t time.Time) uint64 {
	a := l.a
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.created.Before(t) {
		return 1
	}
	// The engine's first activity from t, after the booked activities
	// recorded before it, unless a booked activity from t comes first.
	e := a.eng.FirstActivityFrom(t)
	n := sort.Search(len(a.booked), func(k int) bool { return a.booked[k].after > e })
	seq := 2 + uint64(e) + uint64(n)
	if k := sort.Search(len(a.booked), func(k int) bool { return !a.booked[k].at.Before(t) }); k < len(a.booked) {
		seq = min(seq, l.bookedPos(k))
	}
	return seq
}

// activityAfter reports whether event seq, of ULID millisecond ms, comes
// after the ULID u.
func activityAfter(ms int64, seq uint64, u ulidKey) bool {
	switch {
	case ms != u.ms:
		return ms > u.ms
	case u.hi != 0:
		return false
	}
	return seq > u.lo
}

// firstAfterID is the number of src's first event after the ULID u.
func firstAfterID(src activitySource, u ulidKey) uint64 {
	n := src.last()
	i := sort.Search(int(n), func(i int) bool {
		ms, _, _ := src.at(uint64(i)+1, false)
		return activityAfter(ms, uint64(i)+1, u)
	})
	return uint64(i) + 1
}

// firmActivities orders the activities of all a firm's customers, as
// they happen, for the firm-wide stream: each is a customer and that
// customer's event number, under a millisecond that never goes back (an
// event's own time may be a little earlier than its millisecond when
// two accounts' activities cross). 16 bytes an activity.
type firmActivities struct {
	mu     sync.Mutex
	recs   []firmActivity
	seen   []uint64 // by customer index - 1: the last event number recorded
	lastMs int64
}

type firmActivity struct {
	ms   int64
	acct uint32 // the customer's index
	seq  uint32 // its event number in the customer's own activityLog
}

func (l *firmActivities) addLocked(acct uint32, seq uint64, t time.Time) {
	ms := max(t.UnixMilli(), l.lastMs)
	l.lastMs = ms
	l.recs = append(l.recs, firmActivity{ms: ms, acct: acct, seq: uint32(seq)})
}

// opened records customer acct's deposit; customers open in index order.
func (l *firmActivities) opened(acct uint32, t time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for len(l.seen) < int(acct) {
		l.seen = append(l.seen, 0)
	}
	l.seen[acct-1] = 1
	l.addLocked(acct, 1, t)
}

// note records a customer's activities not recorded yet. The caller
// holds a.mu, before the operation's events ring any stream.
func (l *firmActivities) note(a *account) {
	log := activityLog{a}
	n := log.lastLocked()
	l.mu.Lock()
	defer l.mu.Unlock()
	i := int(a.firmIdx) - 1
	if i >= len(l.seen) {
		return
	}
	for seq := l.seen[i] + 1; seq <= n; seq++ {
		_, t, _ := log.atLocked(seq, false)
		l.addLocked(a.firmIdx, seq, t)
	}
	l.seen[i] = n
}

// firmSource is the firm-wide stream's source.
type firmSource struct{ f *firm }

func (src firmSource) last() uint64 {
	l := &src.f.acts
	l.mu.Lock()
	defer l.mu.Unlock()
	return uint64(len(l.recs))
}

func (src firmSource) at(seq uint64, full bool) (int64, time.Time, activityEvent) {
	l := &src.f.acts
	l.mu.Lock()
	rec := l.recs[seq-1]
	l.mu.Unlock()
	c := src.f.customerAt(rec.acct)
	c.a.mu.Lock()
	_, t, ev := activityLog{c.a}.atLocked(uint64(rec.seq), full)
	c.a.mu.Unlock()
	if full {
		ev.EventID = ulid(rec.ms, seq)
	}
	return rec.ms, t, ev
}

func (src firmSource) firstFrom(t time.Time) uint64 {
	l := &src.f.acts
	l.mu.Lock()
	defer l.mu.Unlock()
	ms := t.UnixMilli()
	return uint64(sort.Search(len(l.recs), func(i int) bool { return l.recs[i].ms >= ms })) + 1
}

// bell wakes a stream when its source may have grown: a trade-update
// feed, whose entries are not needed, only its ring.
type bell[T any] struct {
	f   *feed[T]
	sub *feedSub[T]
	buf []feedEntry[T]
}

func newBell[T any](f *feed[T]) *bell[T] {
	return &bell[T]{f: f, sub: f.subscribe(nil), buf: make([]feedEntry[T], streamBatch)}
}

// drain reads what rang, which keeps the feed from cutting the
// subscription.
func (b *bell[T]) drain() {
	for {
		n, ok := b.f.read(b.sub, b.buf)
		if !ok || n < len(b.buf) {
			return
		}
	}
}

// renew subscribes again after the feed cut the subscription off: the
// source itself lost nothing.
func (b *bell[T]) renew() {
	b.f.unsubscribe(b.sub)
	b.sub = b.f.subscribe(nil)
}

func (b *bell[T]) close() { b.f.unsubscribe(b.sub) }

// sseActivities serves GET /v2beta1/events/activities.
func (s *Server) sseActivities(w http.ResponseWriter, r *http.Request) {
	if s.firm != nil {
		switch s.firm.authenticate(r, s.rateNow()) {
		case firmOK:
			if id := r.URL.Query().Get("account_id"); id != "" {
				c := s.firm.customer(id)
				if c == nil {
					notFound(w, "account not found")
					return
				}
				serveActivities(s, w, r, activityLog{c.a}, newBell(c.a.feed), c.a.id)
				return
			}
			serveActivities(s, w, r, firmSource{s.firm}, newBell(s.firm.feed), "firm")
			return
		case firmWrongPass:
			writeAuthError(w, authWrongSecret)
			return
		}
	}
	a := s.streamAuth(w, r)
	if a == nil {
		return
	}
	serveActivities(s, w, r, activityLog{a}, newBell(a.feed), a.id)
}

// serveActivities streams src, woken by b, which it closes; who names the
// stream in logs.
func serveActivities[T any](s *Server, w http.ResponseWriter, r *http.Request, src activitySource, b *bell[T], who string) {
	defer b.close()
	since, until, sinceID, untilID, ok := sseRange(w, r.URL.Query())
	if !ok {
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

	// b subscribed before this first read of the source, so an activity
	// that happens between the two rings it.
	next := src.last() + 1 // live only
	if hasFrom {
		if byID {
			next = firstAfterID(src, fromID)
		} else {
			next = src.firstFrom(fromT)
		}
	}

	sw, ok := s.startSSE(w, "activities", who)
	defer sw.close()
	if !ok {
		return
	}

	// past reports whether event seq (ULID millisecond ms, time t) lies
	// beyond until/until_id.
	past := func(ms int64, t time.Time, seq uint64) bool {
		if !hasTo {
			return false
		}
		if byID {
			return activityAfter(ms, seq, toID)
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

	for {
		// The clock is read before the source: an event the source does
		// not have yet happens after it.
		ended := over()
		done := false
		last := src.last()
		for n := 0; next <= last && n < streamBatch; n++ {
			ms, t, ev := src.at(next, true)
			if past(ms, t, next) {
				done = true
				break
			}
			if sw.event(&ev) != nil {
				return
			}
			next++
			if hasTo && byID && toID.hi == 0 && ms == toID.ms && next-1 == toID.lo {
				done = true // until_id itself: nothing after it is wanted
				break
			}
		}
		more := next <= last
		if len(sw.buf) > 0 && !sw.flush() {
			return
		}
		if done || !more && ended {
			return // the end asked for is reached: the stream ends with 200
		}
		if more {
			continue
		}
		switch sw.wait(r.Context(), b.sub.ready, b.sub.gone) {
		case sseReady:
			b.drain()
		case sseGone:
			b.renew()
		case sseEnd:
			return
		}
	}
}
