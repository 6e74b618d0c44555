package match

import "math"

// order is the engine's record of an order. The embedded Order is the
// public view, so a snapshot is a plain struct copy.
type order struct {
	Order

	seq    int
	b      *book
	parent *order
	legs   [2]*order // take-profit, stop-loss

	heap  *orderHeap // the heap holding the order, nil if none
	hidx  int        // index in heap, or in b.trailing when inTrail
	hkey  int64
	bidx  int // index in b.open
	prev  *order
	next  *order // neighbours in the account's open list
	inTrl bool

	res       Money // buying power reserved by this order
	resPrice  Price // per-share price the reservation was computed at
	estQty    Qty   // notional sell: the quantity held for it
	closing   bool  // reduces the position (no buying power needed)
	triggered bool  // stop condition met, now working as market/limit
	cidGen    bool  // ClientOrderID was generated (and is not in byCID)
	auction   bool  // opg/cls waiting for its auction
}

func (o *order) open() bool { return !o.Status.Terminal() }

// working reports whether the order may execute (not held, not terminal).
func (o *order) working() bool {
	switch o.Status {
	case StatusNew, StatusPartiallyFilled, StatusAccepted:
		return true
	}
	return false
}

func (o *order) remaining() Qty {
	if o.Notional > 0 {
		if o.FilledQty > 0 {
			return 0
		}
		return o.estQty
	}
	return o.Qty - o.FilledQty
}

func (o *order) isStop() bool {
	return o.Type == Stop || o.Type == StopLimit || o.Type == TrailingStop
}

// peer is the other half of a one-cancels-other pair: the OCO parent and
// its stop-loss leg, or the two exit legs of a bracket.
func (o *order) peer() *order {
	if p := o.parent; p != nil {
		if p.Class == OCO {
			return p
		}
		if p.Class == Bracket {
			if p.legs[0] == o {
				return p.legs[1]
			}
			return p.legs[0]
		}
		return nil
	}
	if o.Class == OCO {
		return o.legs[1]
	}
	return nil
}

// limitFor is the worst price at which a working (triggered) order may
// execute: buys fill while ask <= limit, sells while bid >= limit.
func (o *order) limitFor() Price {
	var l Price
	switch o.Type {
	case Limit, StopLimit:
		l = o.LimitPrice
	default:
		if o.Side == Buy {
			l = MaxPrice + 1
		}
	}
	// An opening buy never executes above the price its buying power was
	// reserved at: this is Alpaca's collar on market buys and its
	// conversion of buy stops to stop-limits, and what keeps cash >= 0.
	if o.Side == Buy && o.resPrice > 0 && o.resPrice < l {
		l = o.resPrice
	}
	return l
}

// book is everything per symbol: last quote, position and the open orders,
// with the working ones indexed so that a quote costs a few comparisons
// unless something actually triggers or fills.
type book struct {
	symbol string
	quote  Quote
	crypto bool // a crypto pair: works around the clock (Asset.Crypto)

	pos     Qty
	avg     AvgPrice
	openDay int32 // day of the last opening fill, for day-trade counting
	posIdx  int   // index in Account.posBooks, -1 when flat

	open      []*order  // every non-terminal order of the symbol
	buys      orderHeap // working buys by limit, highest first
	sells     orderHeap // working sells by limit, lowest first
	buyStops  orderHeap // untriggered buy stops by stop, lowest first
	sellStops orderHeap // untriggered sell stops by stop, highest first
	trailing  []*order  // untriggered trailing stops
}

func (b *book) working() int {
	return len(b.buys.s) + len(b.sells.s) + len(b.buyStops.s) + len(b.sellStops.s) + len(b.trailing)
}

func (b *book) addOpen(o *order) {
	o.bidx = len(b.open)
	b.open = append(b.open, o)
}

func (b *book) removeOpen(o *order) {
	i := o.bidx
	if i < 0 || i >= len(b.open) || b.open[i] != o {
		return
	}
	last := len(b.open) - 1
	b.open[i] = b.open[last]
	b.open[i].bidx = i
	b.open[last] = nil
	b.open = b.open[:last]
	o.bidx = -1
}

// held sums the unfilled quantity of working orders on side, counting a
// one-cancels-other pair once (its legs close the same shares).
func (b *book) held(side Side, except *order) Qty {
	var h Qty
	for _, o := range b.open {
		if o == except || o.Side != side || !o.working() {
			continue
		}
		if p := o.peer(); p != nil && p != except && p.working() && p.seq < o.seq {
			continue
		}
		h += o.remaining()
	}
	return h
}

// pendingOpen sums the unfilled quantity of working opening orders on side.
func (b *book) pendingOpen(side Side, except *order) Qty {
	var h Qty
	for _, o := range b.open {
		if o != except && o.Side == side && !o.closing && o.working() {
			h += o.remaining()
		}
	}
	return h
}

// insert files a working order where the next quote will look for it.
func (b *book) insert(o *order) {
	switch {
	case o.Type == TrailingStop && !o.triggered:
		o.inTrl = true
		o.hidx = len(b.trailing)
		b.trailing = append(b.trailing, o)
	case o.isStop() && !o.triggered:
		if o.Side == Buy {
			o.hkey = int64(o.StopPrice)
			b.buyStops.push(o)
		} else {
			o.hkey = -int64(o.StopPrice)
			b.sellStops.push(o)
		}
	case o.Side == Buy:
		o.hkey = -int64(o.limitFor())
		b.buys.push(o)
	default:
		o.hkey = int64(o.limitFor())
		b.sells.push(o)
	}
}

// unindex takes o out of whichever index holds it.
func (b *book) unindex(o *order) {
	if o.inTrl {
		i := o.hidx
		last := len(b.trailing) - 1
		b.trailing[i] = b.trailing[last]
		b.trailing[i].hidx = i
		b.trailing[last] = nil
		b.trailing = b.trailing[:last]
		o.inTrl = false
		o.hidx = -1
		return
	}
	if o.heap != nil {
		o.heap.remove(o)
	}
}

func (b *book) mark() (Price, bool) {
	q := b.quote
	switch {
	case q.Bid > 0 && q.Ask > 0:
		return (q.Bid + q.Ask) / 2, true
	case q.Bid > 0:
		return q.Bid, true
	case q.Ask > 0:
		return q.Ask, true
	}
	return 0, false
}

// orderHeap is a binary heap ordered by (hkey, seq): lowest key first and,
// among equal keys, the oldest order first (time priority).
type orderHeap struct{ s []*order }

func heapLess(a, b *order) bool {
	return a.hkey < b.hkey || a.hkey == b.hkey && a.seq < b.seq
}

func (h *orderHeap) top() *order { return h.s[0] }

func (h *orderHeap) push(o *order) {
	o.heap = h
	o.hidx = len(h.s)
	h.s = append(h.s, o)
	h.up(o.hidx)
}

func (h *orderHeap) pop() *order {
	o := h.s[0]
	h.remove(o)
	return o
}

func (h *orderHeap) remove(o *order) {
	i := o.hidx
	last := len(h.s) - 1
	if i != last {
		h.s[i] = h.s[last]
		h.s[i].hidx = i
	}
	h.s[last] = nil
	h.s = h.s[:last]
	if i != last {
		if !h.down(i) {
			h.up(i)
		}
	}
	o.heap = nil
	o.hidx = -1
}

func (h *orderHeap) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !heapLess(h.s[i], h.s[p]) {
			return
		}
		h.swap(i, p)
		i = p
	}
}

func (h *orderHeap) down(i0 int) bool {
	i, n := i0, len(h.s)
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		j := l
		if r := l + 1; r < n && heapLess(h.s[r], h.s[l]) {
			j = r
		}
		if !heapLess(h.s[j], h.s[i]) {
			break
		}
		h.swap(i, j)
		i = j
	}
	return i > i0
}

func (h *orderHeap) swap(i, j int) {
	h.s[i], h.s[j] = h.s[j], h.s[i]
	h.s[i].hidx = i
	h.s[j].hidx = j
}

// collar is the protective limit Alpaca puts on market buys (and the limit
// it gives converted buy stops): 4% above the reference below $50, 2.5% at
// or above.
func collar(p Price) Price {
	if p <= 0 {
		return 0
	}
	var c int64
	if p < 50*PriceScale {
		c = mulDivSat(int64(p), 104, 100, true)
	} else {
		c = mulDivSat(int64(p), 1025, 1000, true)
	}
	if c > math.MaxInt64/2 {
		c = math.MaxInt64 / 2
	}
	return Price(c)
}
