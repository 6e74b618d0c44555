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
// asked for. Minute bars come only from a feed that is also a
// trading.BarFeed.
//
// Overflow policy: the Hub never blocks on a subscriber. Each Mailbox
// keeps only the latest quote per symbol; a quote that replaces one the
// subscriber has not read yet is counted as dropped. Bars are not
// coalesced (each one is a sample a strategy counts): a Mailbox queues
// up to MaxQueuedBars of them and drops the oldest beyond that, counted.
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

// MaxQueuedBars bounds the bars a Mailbox holds for a subscriber that is
// behind: a day of minute bars for a few symbols.
const MaxQueuedBars = 4096

// Mailbox is one subscriber's coalescing queue.
type Mailbox struct {
	symbols     map[string]bool
	barSymbols  map[string]bool
	notify      chan struct{} // capacity 1: "something new", never blocks the hub
	mu          sync.Mutex
	latest      map[string]trading.Quote
	bars        []trading.Bar
	dropped     atomic.Uint64
	barsDropped atomic.Uint64
}

// C is signalled when new quotes or bars are waiting; call Drain and
// DrainBars.
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

// DrainBars returns the waiting bars in the order they arrived and
// empties the queue.
func (m *Mailbox) DrainBars() []trading.Bar {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.bars) == 0 {
		return nil
	}
	out := m.bars
	m.bars = nil
	return out
}

// Dropped returns how many quotes were coalesced away.
func (m *Mailbox) Dropped() uint64 { return m.dropped.Load() }

// BarsDropped returns how many bars were dropped because the subscriber
// was more than MaxQueuedBars behind.
func (m *Mailbox) BarsDropped() uint64 { return m.barsDropped.Load() }

func (m *Mailbox) put(q trading.Quote) {
	m.mu.Lock()
	if _, unread := m.latest[q.Symbol]; unread {
		m.dropped.Add(1)
	}
	m.latest[q.Symbol] = q
	m.mu.Unlock()
	m.signal()
}

func (m *Mailbox) putBar(b trading.Bar) {
	m.mu.Lock()
	if len(m.bars) >= MaxQueuedBars {
		m.bars = append(m.bars[:0], m.bars[1:]...)
		m.barsDropped.Add(1)
	}
	m.bars = append(m.bars, b)
	m.mu.Unlock()
	m.signal()
}

func (m *Mailbox) signal() {
	select {
	case m.notify <- struct{}{}:
	default: // already signalled
	}
}

// Subscribe returns a Mailbox receiving the quotes of quotes' symbols and
// the minute bars of bars' symbols; Unsubscribe it when done.
func (h *Hub) Subscribe(quotes, bars []string) *Mailbox {
	m := &Mailbox{symbols: make(map[string]bool), barSymbols: make(map[string]bool), notify: make(chan struct{}, 1), latest: make(map[string]trading.Quote)}
	for _, s := range quotes {
		m.symbols[s] = true
	}
	for _, s := range bars {
		m.barSymbols[s] = true
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
	warnedBars := false
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		syms, bars, boxes := h.snapshot()
		if len(bars) > 0 && !warnedBars && h.Logger != nil {
			h.Logger.Error("minute bars need a market data stream; polling gives quotes only", "symbols", bars)
			warnedBars = true
		}
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

// snapshot returns the symbols subscribed for quotes and for bars, each
// sorted, and the mailboxes.
func (h *Hub) snapshot() (quotes, bars []string, boxes []*Mailbox) {
	h.mu.Lock()
	defer h.mu.Unlock()
	qset, bset := map[string]bool{}, map[string]bool{}
	boxes = make([]*Mailbox, 0, len(h.boxes))
	for m := range h.boxes {
		boxes = append(boxes, m)
		for s := range m.symbols {
			qset[s] = true
		}
		for s := range m.barSymbols {
			bset[s] = true
		}
	}
	return sortedKeys(qset), sortedKeys(bset), boxes
}

func sortedKeys(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for s := range set {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
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
	barFeed, _ := h.Feed.(trading.BarFeed)
	subscribed, barsSubscribed := map[string]bool{}, map[string]bool{}
	warnedBars := false
	// bySymbol and barsBySymbol are rebuilt on every tick, so that a quote
	// or bar is offered only to the mailboxes that asked for its symbol.
	bySymbol, barsBySymbol := map[string][]*Mailbox{}, map[string][]*Mailbox{}
	refresh := func() {
		syms, bars, boxes := h.snapshot()
		if add := missing(syms, subscribed); len(add) > 0 {
			if err := h.Feed.Subscribe(ctx, add); err == nil {
				markAll(subscribed, add)
			} else if h.Logger != nil && ctx.Err() == nil {
				h.Logger.Warn("market data subscribe failed", "err", err)
			}
		}
		if add := missing(bars, barsSubscribed); len(add) > 0 {
			switch {
			case barFeed == nil:
				if !warnedBars && h.Logger != nil {
					h.Logger.Error("the market data feed gives no minute bars; strategies that asked for bars get none", "symbols", add)
					warnedBars = true
				}
			default:
				if err := barFeed.SubscribeBars(ctx, add); err == nil {
					markAll(barsSubscribed, add)
				} else if h.Logger != nil && ctx.Err() == nil {
					h.Logger.Warn("market data bar subscribe failed", "err", err)
				}
			}
		}
		clear(bySymbol)
		clear(barsBySymbol)
		for _, m := range boxes {
			for s := range m.symbols {
				bySymbol[s] = append(bySymbol[s], m)
			}
			for s := range m.barSymbols {
				barsBySymbol[s] = append(barsBySymbol[s], m)
			}
		}
	}
	refresh()
	quotes := h.Feed.Quotes()
	var barC <-chan trading.Bar
	if barFeed != nil {
		barC = barFeed.Bars()
	}
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
		case b, ok := <-barC:
			if !ok {
				return errors.New("engine: market data feed closed")
			}
			for _, m := range barsBySymbol[b.Symbol] {
				m.putBar(b)
			}
		}
	}
}

// missing returns the symbols of syms not in have.
func missing(syms []string, have map[string]bool) []string {
	var out []string
	for _, s := range syms {
		if !have[s] {
			out = append(out, s)
		}
	}
	return out
}

func markAll(set map[string]bool, syms []string) {
	for _, s := range syms {
		set[s] = true
	}
}
