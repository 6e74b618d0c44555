package match

import (
	"math"
	"math/rand/v2"
	"time"
)

// Default configuration values.
const (
	DefaultCash            Money   = 100_000 * MoneyScale // Alpaca paper's starting balance
	DefaultMultiplier              = 1
	DefaultPartialFillRate float64 = 0.10 // Alpaca paper: 10% of eligible fills are partial
	// PDTEquityThreshold is the equity under which the fourth day trade in
	// five business days is refused.
	PDTEquityThreshold Money = 25_000 * MoneyScale
	// MaxClientOrderIDLen is the current Alpaca limit (older docs say 48).
	MaxClientOrderIDLen = 128
	// GTCLifetime is Alpaca's aged-order policy for gtc orders.
	GTCLifetime = 90 * 24 * time.Hour
)

// Config configures an Account.
type Config struct {
	// Cash is the starting cash balance; must not be negative.
	Cash Money
	// Multiplier is 1 (cash account: buying power = cash minus reserved),
	// 2 or 4 (margin: max(equity - initial margin, 0) × multiplier minus
	// reserved).
	Multiplier int
	// ShortingEnabled allows short sales; it takes effect only on margin
	// accounts (Multiplier > 1) and for shortable, easy-to-borrow assets.
	ShortingEnabled bool
	// DisablePDT turns off pattern-day-trader protection.
	DisablePDT bool
	// PartialFillRate is the probability, in [0,1], that an eligible fill
	// executes a random part of the remaining quantity.
	PartialFillRate float64
	// Seed seeds the account's random source (ids and partial fills).
	Seed uint64
	// AlwaysOpen makes the session permanently open: OnOpen/OnClose are
	// never needed, and opg and cls orders work like day orders. Without
	// it the account starts closed until OnOpen.
	AlwaysOpen bool
	// Location defines trading days for day-trade counting (nil = UTC);
	// the server passes America/New_York.
	Location *time.Location
	// Asset describes a symbol; nil treats every symbol as tradable,
	// fractionable, shortable and easy to borrow. A false result rejects
	// orders for the symbol.
	Asset func(symbol string) (Asset, bool)
}

// DefaultConfig returns Alpaca-paper-like defaults: $100,000 cash account,
// shorting enabled (effective once the multiplier is raised), PDT checks
// on, 10% partial fills, always-open session.
func DefaultConfig() Config {
	return Config{
		Cash:            DefaultCash,
		Multiplier:      DefaultMultiplier,
		ShortingEnabled: true,
		PartialFillRate: DefaultPartialFillRate,
		AlwaysOpen:      true,
	}
}

type phase uint8

const (
	phasePreOpen   phase = iota // closed, next event is the open
	phaseOpen                   // regular session
	phasePostClose              // after the close, before EndOfDay
)

type dayCount struct{ day, n int32 }

// Account is one paper account. It is not safe for concurrent use: the
// server holds a mutex per account. Every method that changes state takes
// the current time and appends the events it causes to the slice it is
// given, in the order they happened, returning the extended slice.
type Account struct {
	cfg          Config
	src          rand.PCG
	partialLimit uint64 // a draw below this makes a fill partial

	cash     Money
	reserved Money

	orders   []*order // every order, in creation order; the id codec indexes it
	slab     []order
	ids      idCodec           // order ids
	cids     idCodec           // generated client order ids
	byCID    map[string]*order // client order ids given by the caller
	books    map[string]*book
	posBooks []*book // books with a non-zero position

	openHead, openTail *order
	nOpen              int

	parked  []*order // waiting for the next open (may hold terminal ones)
	auction []*order // opg/cls waiting for their auction (ditto)

	fills     []*[fillChunk]fillRec // FILL activities, in chunks so growth never copies
	nFills    int
	evSeq     uint64
	phase     phase
	monotonic bool // creation times never went backwards
	dayStart  int64
	dayEnd    int64
	dayIdx    int32
	dayTrades []dayCount
	scratch   []*order
	cryptoVol []volRec // crypto fills' volume over the fee window
	maker     bool     // fills being executed are of resting orders
}

// NewAccount returns an account configured by cfg.
func NewAccount(cfg Config) (*Account, error) {
	if cfg.Cash < 0 || cfg.Cash > MaxNotional {
		return nil, errf(KindValidation, "cash must be between 0 and 1e12")
	}
	switch cfg.Multiplier {
	case 1, 2, 4:
	default:
		return nil, errf(KindValidation, "multiplier must be 1, 2 or 4")
	}
	if !(cfg.PartialFillRate >= 0 && cfg.PartialFillRate <= 1) {
		return nil, errf(KindValidation, "partial fill rate must be between 0 and 1")
	}
	if cfg.Location == nil {
		cfg.Location = time.UTC
	}
	a := &Account{
		cfg:       cfg,
		cash:      cfg.Cash,
		byCID:     make(map[string]*order),
		books:     make(map[string]*book),
		monotonic: true,
		dayIdx:    math.MinInt32,
	}
	a.src.Seed(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)
	a.ids.key = a.src.Uint64() & mask62
	a.cids.key = a.src.Uint64() & mask62
	switch {
	case cfg.PartialFillRate >= 1:
		a.partialLimit = math.MaxUint64
	default:
		a.partialLimit = uint64(cfg.PartialFillRate * (1 << 63) * 2)
	}
	if cfg.AlwaysOpen {
		a.phase = phaseOpen
	}
	return a, nil
}

// Config returns the configuration the account was created with.
func (a *Account) Config() Config { return a.cfg }

// MarketOpen reports whether the regular session is open.
func (a *Account) MarketOpen() bool { return a.phase == phaseOpen }

func (a *Account) book(symbol string) *book {
	b := a.books[symbol]
	if b == nil {
		b = &book{symbol: symbol, posIdx: -1, openDay: math.MinInt32}
		a.books[symbol] = b
	}
	return b
}

func (a *Account) alloc() *order {
	if len(a.slab) == 0 {
		a.slab = make([]order, 256)
	}
	o := &a.slab[0]
	a.slab = a.slab[1:]
	o.hidx, o.bidx = -1, -1
	return o
}

// register makes a freshly built order known to every index.
func (a *Account) register(o *order) {
	if n := len(a.orders); n > 0 && o.CreatedAt < a.orders[n-1].CreatedAt {
		a.monotonic = false
	}
	a.orders = append(a.orders, o)
	if !o.cidGen {
		a.byCID[o.ClientOrderID] = o
	}
	o.b.addOpen(o)
	o.prev = a.openTail
	if a.openTail != nil {
		a.openTail.next = o
	} else {
		a.openHead = o
	}
	a.openTail = o
	a.nOpen++
	a.reserved += o.res
}

// finish moves o to a terminal status and out of every working index. It
// does not touch the rest of o's group; callers decide that.
func (a *Account) finish(now time.Time, o *order, st Status, ev []Event) []Event {
	ts := Stamp(now)
	o.Status = st
	o.UpdatedAt = ts
	var et EventType
	switch st {
	case StatusCanceled:
		o.CanceledAt = ts
		et = EventCanceled
	case StatusExpired:
		o.ExpiredAt = ts
		et = EventExpired
	case StatusRejected:
		o.FailedAt = ts
		et = EventRejected
	case StatusReplaced:
		o.ReplacedAt = ts
		et = EventReplaced
	case StatusFilled:
		o.FilledAt = ts
	}
	o.b.unindex(o)
	o.b.removeOpen(o)
	o.auction = false
	a.reserved -= o.res
	o.res = 0
	if o.prev != nil {
		o.prev.next = o.next
	} else {
		a.openHead = o.next
	}
	if o.next != nil {
		o.next.prev = o.prev
	} else {
		a.openTail = o.prev
	}
	o.prev, o.next = nil, nil
	a.nOpen--
	if et != "" {
		ev = a.emit(now, et, o, ev)
	}
	return ev
}

func (a *Account) emit(now time.Time, t EventType, o *order, ev []Event) []Event {
	a.evSeq++
	return append(ev, Event{Seq: a.evSeq, Type: t, Time: Stamp(now), Order: o.Order})
}

// settle applies the consequences of o becoming terminal other than by a
// user cancel or a replace: held legs start working (for the filled
// quantity) or are canceled, and a one-cancels-other peer is canceled.
func (a *Account) settle(now time.Time, o *order, ev []Event) []Event {
	if o.parent == nil && (o.Class == Bracket || o.Class == OTO) {
		// The exits protect what the entry bought, but never more than is
		// still there to close: other orders may have sold some of it
		// while the entry was filling.
		q := o.FilledQty
		for _, l := range o.legs {
			if l != nil && l.Status == StatusHeld {
				q = min(q, a.closable(l.b, l.Side))
				break
			}
		}
		for _, l := range o.legs {
			if l == nil || l.Status != StatusHeld {
				continue
			}
			switch {
			case o.FilledQty == 0:
				ev = a.finish(now, l, StatusCanceled, ev)
			case q <= 0:
				ev = a.finish(now, l, StatusRejected, ev)
			default:
				l.Qty = q
				ev = a.start(now, l, ev)
			}
		}
	}
	if p := o.peer(); p != nil && p.open() {
		ev = a.finish(now, p, StatusCanceled, ev)
	}
	return ev
}

// closable is how much of b's position an order on side could still
// close, given the closing orders already working.
func (a *Account) closable(b *book, side Side) Qty {
	if side == Sell {
		return b.pos - b.held(Sell, nil)
	}
	return -b.pos - b.held(Buy, nil)
}

// start puts a new or activated order to work according to the session:
// it is tried against the current quote and indexed, parked until the
// open, or queued for its auction.
func (a *Account) start(now time.Time, o *order, ev []Event) []Event {
	tif := o.TimeInForce
	if !a.cfg.AlwaysOpen && (tif == OPG || tif == CLS) {
		o.Status = StatusNew
		o.auction = true
		a.auction = append(a.auction, o)
		return a.emit(now, EventNew, o, ev)
	}
	if a.phase != phaseOpen && !o.ExtendedHours && !o.b.crypto {
		if o.Status == StatusHeld || o.Status == StatusAccepted {
			o.Status = StatusAccepted
			ev = a.emit(now, EventAccepted, o, ev)
		}
		a.parked = append(a.parked, o)
		return ev
	}
	if o.Status == StatusHeld || o.Status == StatusAccepted {
		o.Status = StatusNew
		o.UpdatedAt = Stamp(now)
		ev = a.emit(now, EventNew, o, ev)
	}
	return a.work(now, o, ev)
}

// work tries a working order once against the current quote, then indexes
// what is left; ioc and fok orders cancel what is left instead.
func (a *Account) work(now time.Time, o *order, ev []Event) []Event {
	ev = a.try(now, o, o.TimeInForce != FOK, ev)
	if !o.working() {
		return ev
	}
	if o.TimeInForce == IOC || o.TimeInForce == FOK {
		ev = a.finish(now, o, StatusCanceled, ev)
		return a.settle(now, o, ev)
	}
	o.b.insert(o)
	return ev
}

// day returns the trading-day number of now in the configured location.
func (a *Account) day(now time.Time) int32 {
	n := now.UnixNano()
	if n >= a.dayStart && n < a.dayEnd && a.dayIdx != math.MinInt32 {
		return a.dayIdx
	}
	t := now.In(a.cfg.Location)
	y, m, d := t.Date()
	start := time.Date(y, m, d, 0, 0, 0, 0, a.cfg.Location)
	a.dayStart = start.UnixNano()
	a.dayEnd = start.AddDate(0, 0, 1).UnixNano()
	a.dayIdx = int32(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400)
	return a.dayIdx
}

// pdtWindowStart is the first day of the five business days ending today.
func pdtWindowStart(today int32) int32 {
	d, n := today, 0
	for {
		// Day 0 (1970-01-01) was a Thursday; weekday 0 is Sunday.
		if wd := ((int64(d)+4)%7 + 7) % 7; wd != 0 && wd != 6 {
			n++
			if n == 5 {
				return d
			}
		}
		d--
	}
}

func (a *Account) addDayTrade(day int32) {
	if n := len(a.dayTrades); n > 0 && a.dayTrades[n-1].day == day {
		a.dayTrades[n-1].n++
		return
	}
	from := pdtWindowStart(day)
	k := 0
	for _, d := range a.dayTrades {
		if d.day >= from {
			a.dayTrades[k] = d
			k++
		}
	}
	a.dayTrades = append(a.dayTrades[:k], dayCount{day, 1})
}

func (a *Account) daytradeCount(now time.Time) int {
	from := pdtWindowStart(a.day(now))
	n := 0
	for _, d := range a.dayTrades {
		if d.day >= from {
			n += int(d.n)
		}
	}
	return n
}

// valuation marks every position: equity, long and short market value and
// gross exposure, all saturating so that absurd prices cannot wrap.
func (a *Account) valuation(marks MarkFunc) (equity, long, short Money) {
	long, short = 0, 0
	for _, b := range a.posBooks {
		px, ok := a.markOf(b, marks)
		if !ok {
			continue
		}
		v := Value(b.pos, px)
		if b.pos > 0 {
			long = Money(satAdd(int64(long), int64(v)))
		} else {
			short = Money(satSub(int64(short), int64(v)))
		}
	}
	equity = Money(satAdd(satAdd(int64(a.cash), int64(long)), int64(short)))
	return equity, long, short
}

func (a *Account) markOf(b *book, marks MarkFunc) (Price, bool) {
	if marks != nil {
		if p, ok := marks(b.symbol); ok && p > 0 && p <= MaxPrice {
			return p, true
		}
	}
	if p, ok := b.mark(); ok {
		return p, true
	}
	if b.avg > 0 {
		return Price(b.avg / (AvgPriceScale / PriceScale)), true
	}
	return 0, false
}

// buyingPower is the raw (possibly negative) buying power left for new
// opening orders.
func (a *Account) buyingPower(marks MarkFunc) Money {
	if a.cfg.Multiplier == 1 {
		return a.cash - a.reserved
	}
	eq, long, short := a.valuation(marks)
	im := Money(satSub(int64(long), int64(short)) / 2)
	base := Money(satSub(int64(eq), int64(im)))
	if base < 0 {
		base = 0
	}
	return Money(satSub(satMul(int64(base), int64(a.cfg.Multiplier)), int64(a.reserved)))
}
