package market

import (
	"sync/atomic"

	"github.com/quantum-alpaca/quantum/alpaca"
)

// QuoteUpdate is a new quote of one symbol.
type QuoteUpdate struct {
	Symbol string
	Quote  alpaca.Quote
}

// Subscription delivers quote updates to one consumer (the order matcher).
// The ticker never blocks on it: when the channel is full, updates wait in
// a per-symbol slot in which a newer quote replaces an older one, so the
// consumer always ends up with each symbol's latest quote and only
// intermediate quotes are lost (counted by Dropped).
type Subscription struct {
	m       *Market
	ch      chan QuoteUpdate
	dropped atomic.Uint64

	// guarded by Market.stepMu
	pending []alpaca.Quote
	waiting []bool
	queue   []int // symbols with a waiting quote, oldest first
	closed  bool
}

// Subscribe registers a consumer of quote updates with a channel of
// capacity buf (at least the universe size when smaller). Call Close when
// done; Market.Close closes all subscriptions.
func (m *Market) Subscribe(buf int) *Subscription {
	s := &Subscription{
		m:       m,
		ch:      make(chan QuoteUpdate, max(buf, len(m.syms))),
		pending: make([]alpaca.Quote, len(m.syms)),
		waiting: make([]bool, len(m.syms)),
	}
	m.stepMu.Lock()
	defer m.stepMu.Unlock()
	if m.ctx.Err() != nil {
		s.closed = true
		close(s.ch)
		return s
	}
	m.subs = append(m.subs, s)
	return s
}

// C returns the channel of updates. It is closed by Close and by
// Market.Close.
func (s *Subscription) C() <-chan QuoteUpdate { return s.ch }

// Dropped reports how many updates were superseded by a newer quote of the
// same symbol before the consumer took them.
func (s *Subscription) Dropped() uint64 { return s.dropped.Load() }

// Close unregisters the subscription and closes its channel.
func (s *Subscription) Close() {
	m := s.m
	m.stepMu.Lock()
	defer m.stepMu.Unlock()
	if s.closed {
		return
	}
	for i, x := range m.subs {
		if x == s {
			m.subs = append(m.subs[:i:i], m.subs[i+1:]...)
			break
		}
	}
	s.closeLocked()
}

func (s *Subscription) closeLocked() {
	if !s.closed {
		s.closed = true
		close(s.ch)
	}
}

// offer queues the changed symbols' quotes and moves as many as fit into
// the channel; the caller holds Market.stepMu.
func (s *Subscription) offer(m *Market, changed []int) {
	for _, i := range changed {
		if s.waiting[i] {
			s.dropped.Add(1)
		} else {
			s.waiting[i] = true
			s.queue = append(s.queue, i)
		}
		s.pending[i] = m.pubs[i].Load().quote
	}
	sent := 0
	for _, i := range s.queue {
		select {
		case s.ch <- QuoteUpdate{Symbol: m.syms[i].Symbol, Quote: s.pending[i]}:
			s.waiting[i] = false
			sent++
			continue
		default:
		}
		break
	}
	if sent > 0 {
		s.queue = append(s.queue[:0], s.queue[sent:]...)
	}
}
