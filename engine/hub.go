package engine

import (
	"context"
	"errors"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quantum-alpaca/quantum/trading"
)

// DefaultHubInterval is how often the Hub polls its QuoteSource.
const DefaultHubInterval = 500 * time.Millisecond

// Hub is the shared, read-only market data: it gets quotes for the union
// of every subscriber's symbols, from one upstream QuoteFeed (preferred)
// or by polling a QuoteSource, and hands each subscriber the ones it
// asked for.
//
// Overflow policy: the Hub never blocks on a subscriber. Each Mailbox
// keeps only the latest quote per symbol; a quote that replaces one the
// subscriber has not read yet is counted as dropped.
type Hub struct {
	// Feed, when set, is used instead of polling Source.
	Feed     trading.QuoteFeed
	Source   trading.QuoteSource
	Interval time.Duration
	Logger   *slog.Logger

	mu    sync.Mutex
	boxes map[*Mailbox]struct{}
}

// NewHub returns a Hub polling src.
func NewHub(src trading.QuoteSource) *Hub {
	return &Hub{Source: src, Interval: DefaultHubInterval, Logger: slog.Default().With("system", "hub"), boxes: make(map[*Mailbox]struct{})}
}

// Mailbox is one subscriber's coalescing queue.
type Mailbox struct {
	symbols map[string]bool
	notify  chan struct{} // capacity 1: "something new", never blocks the hub
	mu      sync.Mutex
	latest  map[string]trading.Quote
	dropped atomic.Uint64
}

// C is signalled when new quotes are waiting; call Drain.
func (m *Mailbox) C() <-chan struct{} { return m.notify }

// Drain returns the waiting quotes, sorted by symbol, and empties the box.
func (m *Mailbox) Drain() []trading.Quote {
	m.mu.Lock()
	out := make([]trading.Quote, 0, len(m.latest))
	for _, q := range m.latest {
		out = append(out, q)
	}
	clear(m.latest)
	m.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Symbol < out[j].Symbol })
	return out
}

// Dropped returns how many quotes were coalesced away.
func (m *Mailbox) Dropped() uint64 { return m.dropped.Load() }

func (m *Mailbox) put(q trading.Quote) {
	m.mu.Lock()
	if _, unread := m.latest[q.Symbol]; unread {
		m.dropped.Add(1)
	}
	m.latest[q.Symbol] = q
	m.mu.Unlock()
	select {
	case m.notify <- struct{}{}:
	default: // already signalled
	}
}

// Subscribe returns a Mailbox receiving symbols' quotes; Unsubscribe it
// when done.
func (h *Hub) Subscribe(symbols []string) *Mailbox {
	m := &Mailbox{symbols: make(map[string]bool), notify: make(chan struct{}, 1), latest: make(map[string]trading.Quote)}
	for _, s := range symbols {
		m.symbols[s] = true
	}
	h.mu.Lock()
	if h.boxes == nil {
		h.boxes = make(map[*Mailbox]struct{})
	}
	h.boxes[m] = struct{}{}
	h.mu.Unlock()
	return m
}

// Unsubscribe stops deliveries to m.
func (h *Hub) Unsubscribe(m *Mailbox) {
	h.mu.Lock()
	delete(h.boxes, m)
	h.mu.Unlock()
}

// Run feeds the subscribers until ctx ends, then returns ctx.Err().
func (h *Hub) Run(ctx context.Context) error {
	if h.Feed != nil {
		return h.runFeed(ctx)
	}
	iv := h.Interval
	if iv <= 0 {
		iv = DefaultHubInterval
	}
	tick := time.NewTicker(iv)
	defer tick.Stop()
	var lastLog time.Time
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		syms, boxes := h.snapshot()
		if len(syms) == 0 || h.Source == nil {
			continue
		}
		quotes, err := h.Source.LatestQuotes(ctx, syms)
		if err != nil {
			// Rate-limit the log: a broker outage would otherwise log
			// every interval.
			if ctx.Err() == nil && time.Since(lastLog) > 10*time.Second && h.Logger != nil {
				h.Logger.Warn("market data poll failed", "err", err)
				lastLog = time.Now()
			}
			continue
		}
		for _, m := range boxes {
			for s := range m.symbols {
				if q, ok := quotes[s]; ok {
					m.put(q)
				}
			}
		}
	}
}

// snapshot returns the subscribed symbols, sorted, and the mailboxes.
func (h *Hub) snapshot() ([]string, []*Mailbox) {
	h.mu.Lock()
	defer h.mu.Unlock()
	set := map[string]bool{}
	boxes := make([]*Mailbox, 0, len(h.boxes))
	for m := range h.boxes {
		boxes = append(boxes, m)
		for s := range m.symbols {
			set[s] = true
		}
	}
	syms := make([]string, 0, len(set))
	for s := range set {
		syms = append(syms, s)
	}
	sort.Strings(syms)
	return syms, boxes
}

// runFeed runs the upstream feed, subscribes it to new symbols as tenants
// subscribe (checked every Interval), and fans its quotes out.
func (h *Hub) runFeed(ctx context.Context) error {
	fctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		err := h.Feed.Run(fctx)
		if err != nil && fctx.Err() == nil && h.Logger != nil {
			h.Logger.Error("market data feed stopped", "err", err)
		}
	}()
	defer func() { cancel(); wg.Wait() }()

	iv := h.Interval
	if iv <= 0 {
		iv = DefaultHubInterval
	}
	tick := time.NewTicker(iv)
	defer tick.Stop()
	subscribed := map[string]bool{}
	// bySymbol is rebuilt on every tick, so that a quote is offered only
	// to the mailboxes that asked for its symbol.
	bySymbol := map[string][]*Mailbox{}
	refresh := func() {
		syms, boxes := h.snapshot()
		var add []string
		for _, s := range syms {
			if !subscribed[s] {
				add = append(add, s)
			}
		}
		if len(add) > 0 {
			if err := h.Feed.Subscribe(ctx, add); err == nil {
				for _, s := range add {
					subscribed[s] = true
				}
			} else if h.Logger != nil && ctx.Err() == nil {
				h.Logger.Warn("market data subscribe failed", "err", err)
			}
		}
		clear(bySymbol)
		for _, m := range boxes {
			for s := range m.symbols {
				bySymbol[s] = append(bySymbol[s], m)
			}
		}
	}
	refresh()
	quotes := h.Feed.Quotes()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
			refresh()
		case q, ok := <-quotes:
			if !ok {
				return errors.New("engine: market data feed closed")
			}
			for _, m := range bySymbol[q.Symbol] {
				m.put(q)
			}
		}
	}
}
