package engine

import (
	"sync"
	"sync/atomic"

	"github.com/shopspring/decimal"

	"github.com/quantum-alpaca/quantum/trading"
)

// DefaultActivityBuffer is a subscriber's channel capacity when it asks
// for none: a few seconds of a busy fleet's orders and fills.
const DefaultActivityBuffer = 4096

// Activities fans the engine's activity (orders, fills, rejections, state
// changes, failures) out to its subscribers: the terminal log, alerts,
// the dashboard.
//
// Overflow policy: publishing never blocks a runner. A subscriber whose
// channel is full misses the activity, counted in its Dropped; it must
// read promptly or accept gaps.
type Activities struct {
	mu   sync.Mutex
	subs map[*ActivitySub]struct{}
	// list is the subscribers as publish reads them, replaced whole on
	// every change so that publishing takes no lock.
	list atomic.Pointer[[]*ActivitySub]
}

// ActivitySub is one subscriber.
type ActivitySub struct {
	c       chan trading.Activity
	dropped atomic.Uint64
}

// C delivers the activities, oldest first. It is never closed.
func (s *ActivitySub) C() <-chan trading.Activity { return s.c }

// Dropped returns how many activities s missed because C was full.
func (s *ActivitySub) Dropped() uint64 { return s.dropped.Load() }

// Subscribe returns a subscriber with a channel of capacity buffer
// (DefaultActivityBuffer when not positive). Unsubscribe it when done.
func (a *Activities) Subscribe(buffer int) *ActivitySub {
	if buffer <= 0 {
		buffer = DefaultActivityBuffer
	}
	s := &ActivitySub{c: make(chan trading.Activity, buffer)}
	a.mu.Lock()
	if a.subs == nil {
		a.subs = make(map[*ActivitySub]struct{})
	}
	a.subs[s] = struct{}{}
	a.storeLocked()
	a.mu.Unlock()
	return s
}

// Unsubscribe stops deliveries to s.
func (a *Activities) Unsubscribe(s *ActivitySub) {
	a.mu.Lock()
	delete(a.subs, s)
	a.storeLocked()
	a.mu.Unlock()
}

func (a *Activities) storeLocked() {
	list := make([]*ActivitySub, 0, len(a.subs))
	for s := range a.subs {
		list = append(list, s)
	}
	a.list.Store(&list)
}

// Publish hands act to every subscriber that has room.
func (a *Activities) Publish(act trading.Activity) {
	l := a.list.Load()
	if l == nil {
		return
	}
	for _, s := range *l {
		select {
		case s.c <- act:
		default:
			s.dropped.Add(1)
		}
	}
}

// activity publishes act, stamped with the engine's clock when it has no
// time.
func (e *Engine) activity(act trading.Activity) {
	if act.Time.IsZero() {
		act.Time = e.Now()
	}
	e.Activities.Publish(act)
}

// orderActivity is what a journaled event of st tells an operator; false
// for events nobody needs to hear about (acknowledgements, submissions).
func orderActivity(st *trading.OrderState, ev trading.Event) (trading.Activity, bool) {
	in := st.Intent
	act := trading.Activity{
		Time: ev.Time, Tenant: ev.Tenant, ClientOrderID: ev.ClientOrderID,
		Symbol: in.Symbol, Side: in.Side, Type: in.Type, Qty: in.Qty, Notional: in.Notional, Price: in.LimitPrice,
		Status: ev.Status, Reason: ev.Reason,
	}
	switch ev.Kind {
	case trading.EventIntent:
		act.Kind, act.Status = trading.ActivityOrder, trading.StatusIntent
		if act.Reason == "" {
			act.Reason = in.Reason
		}
	case trading.EventFill:
		act.Kind, act.Qty, act.Notional, act.Price = trading.ActivityFill, ev.Qty, decimal.Zero, ev.Price
	case trading.EventRiskRejected:
		act.Kind, act.Status = trading.ActivityRiskRejected, trading.StatusRiskRejected
	case trading.EventReject:
		act.Kind, act.Status = trading.ActivityRejected, trading.StatusRejected
	case trading.EventCancel:
		act.Kind = trading.ActivityCanceled
	case trading.EventUnknown:
		act.Kind, act.Status = trading.ActivityUnknown, trading.StatusUnknown
	case trading.EventReconciled:
		switch ev.Status {
		case trading.StatusCanceled, trading.StatusExpired:
			act.Kind = trading.ActivityCanceled
		case trading.StatusRejected:
			act.Kind = trading.ActivityRejected
		default:
			return act, false
		}
	default:
		return act, false
	}
	return act, true
}
