package stream

import "slices"

// Subscription is a set of symbols per channel; "*" means every symbol.
type Subscription struct {
	Trades      []string
	Quotes      []string
	Bars        []string
	DailyBars   []string
	UpdatedBars []string
	// Orderbooks is the crypto stream's order book channel; the stock
	// stream has none and refuses a change that names one.
	Orderbooks []string
}

// Empty reports whether s names no symbol.
func (s Subscription) Empty() bool {
	return len(s.Trades)+len(s.Quotes)+len(s.Bars)+len(s.DailyBars)+len(s.UpdatedBars)+len(s.Orderbooks) == 0
}

// mdSubRequest is the wire shape of subscribe/unsubscribe. Every channel
// key of the stream is always present (possibly empty), as Alpaca's own
// clients send it: orderbooks on the crypto stream only, after the
// others, so the stock stream's requests are what they were before the
// key existed.
type mdSubRequest struct {
	Action      string    `json:"action" msgpack:"action"`
	Trades      []string  `json:"trades" msgpack:"trades"`
	Quotes      []string  `json:"quotes" msgpack:"quotes"`
	Bars        []string  `json:"bars" msgpack:"bars"`
	DailyBars   []string  `json:"dailyBars" msgpack:"dailyBars"`
	UpdatedBars []string  `json:"updatedBars" msgpack:"updatedBars"`
	Orderbooks  *[]string `json:"orderbooks,omitempty" msgpack:"orderbooks,omitempty"` // nil: not sent
}

func newMDSubRequest(action string, s Subscription, books bool) mdSubRequest {
	nonNil := func(v []string) []string {
		if v == nil {
			return []string{}
		}
		return v
	}
	r := mdSubRequest{
		Action:      action,
		Trades:      nonNil(s.Trades),
		Quotes:      nonNil(s.Quotes),
		Bars:        nonNil(s.Bars),
		DailyBars:   nonNil(s.DailyBars),
		UpdatedBars: nonNil(s.UpdatedBars),
	}
	if books {
		ob := nonNil(s.Orderbooks)
		r.Orderbooks = &ob
	}
	return r
}

// mdSet is a Subscription as sets, for applying changes.
type mdSet [6]map[string]struct{}

func (s *mdSet) lists(sub Subscription) [6][]string {
	return [6][]string{sub.Trades, sub.Quotes, sub.Bars, sub.DailyBars, sub.UpdatedBars, sub.Orderbooks}
}

func (s *mdSet) apply(subscribe bool, sub Subscription) {
	for i, syms := range s.lists(sub) {
		for _, sym := range syms {
			if subscribe {
				if s[i] == nil {
					s[i] = map[string]struct{}{}
				}
				s[i][sym] = struct{}{}
			} else {
				delete(s[i], sym)
			}
		}
	}
}

func (s *mdSet) subscription() Subscription {
	var l [6][]string
	for i, m := range s {
		for sym := range m {
			l[i] = append(l[i], sym)
		}
		slices.Sort(l[i])
	}
	return Subscription{Trades: l[0], Quotes: l[1], Bars: l[2], DailyBars: l[3], UpdatedBars: l[4], Orderbooks: l[5]}
}

func mdSetOf(sub Subscription) mdSet {
	var s mdSet
	s.apply(true, sub)
	return s
}

// mdChange is one Subscribe or Unsubscribe call on its way to the server.
type mdChange struct {
	subscribe bool
	sub       Subscription
	done      chan error // capacity 1
}

// mdConn is the state of one connection that Subscribe calls talk to.
// queue and sent are guarded by mdStream.mu.
type mdConn struct {
	wake  chan struct{} // capacity 1: "queue is not empty"
	done  chan struct{} // closed when the connection is over
	queue []*mdChange   // not yet written
	sent  []*mdChange   // written, awaiting the server's reply, in order
}
