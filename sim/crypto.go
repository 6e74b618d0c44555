package sim

import (
	"math"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/shopspring/decimal"

	"github.com/quantum-alpaca/quantum/alpaca"
	"github.com/quantum-alpaca/quantum/sim/market"
	"github.com/quantum-alpaca/quantum/sim/match"
)

// cryptoExchange is the exchange Alpaca lists crypto pairs on.
const cryptoExchange = "CRYPTO"

// cryptoPair is one listed crypto pair: its asset metadata (what
// /v2/assets reports, as Alpaca lists the pair) and the parameters of its
// price process (the simulator's own).
type cryptoPair struct {
	base, quote string
	name        string
	// Order and price granularity, as Alpaca's assets API reports them.
	minOrderSize, minTradeIncrement, priceIncrement string
	price                                           float64 // mid price in the quote currency at the server's start
	vol                                             float64 // annualized volatility of the walk
}

func (p *cryptoPair) symbol() string { return p.base + "/" + p.quote }

// cryptoPairs is the crypto listing: the USD pairs Alpaca trades and a
// few of its USDT, USDC and BTC quote pairs. Prices are in the quote
// currency; the match engine keeps prices to 4 decimals, so no pair here
// is priced below a cent.
var cryptoPairs = []cryptoPair{
	{"BTC", "USD", "Bitcoin / US Dollar", "0.0001", "0.000000001", "1", 91000, 0.55},
	{"ETH", "USD", "Ethereum / US Dollar", "0.001", "0.000000001", "0.1", 3100, 0.70},
	{"LTC", "USD", "Litecoin / US Dollar", "0.01", "0.000000001", "0.01", 84, 0.80},
	{"BCH", "USD", "Bitcoin Cash / US Dollar", "0.001", "0.000000001", "0.1", 520, 0.80},
	{"SOL", "USD", "Solana / US Dollar", "0.01", "0.000000001", "0.01", 142, 0.90},
	{"DOGE", "USD", "Dogecoin / US Dollar", "1", "0.000000001", "0.0001", 0.15, 1.00},
	{"AVAX", "USD", "Avalanche / US Dollar", "0.1", "0.000000001", "0.001", 14.2, 1.00},
	{"LINK", "USD", "Chainlink / US Dollar", "0.1", "0.000000001", "0.001", 14.1, 0.95},
	{"UNI", "USD", "Uniswap / US Dollar", "0.1", "0.000000001", "0.001", 6.2, 1.00},
	{"AAVE", "USD", "Aave / US Dollar", "0.01", "0.000000001", "0.01", 185, 1.00},
	{"DOT", "USD", "Polkadot / US Dollar", "0.1", "0.000000001", "0.001", 2.45, 1.00},
	{"XRP", "USD", "XRP / US Dollar", "1", "0.000000001", "0.0001", 2.10, 0.90},
	{"BTC", "USDT", "Bitcoin / USD Tether", "0.0001", "0.000000001", "1", 91010, 0.55},
	{"ETH", "USDT", "Ethereum / USD Tether", "0.001", "0.000000001", "0.1", 3101, 0.70},
	{"BTC", "USDC", "Bitcoin / USD Coin", "0.0001", "0.000000001", "1", 90990, 0.55},
	{"ETH", "USDC", "Ethereum / USD Coin", "0.001", "0.000000001", "0.1", 3099, 0.70},
	{"ETH", "BTC", "Ethereum / Bitcoin", "0.001", "0.000000001", "0.0001", 0.0341, 0.45},
}

// cryptoMarket prices the crypto pairs: a seeded random walk of one step
// a minute, around the clock (crypto has no session), whose quote is the
// minute's mid with a spread of about two basis points around it. Given
// the seed and the server's start time, the price at any later minute is
// the same whenever it is asked for.
type cryptoMarket struct {
	seed  uint64
	m0    int64 // the minute of the server's start, where each walk starts
	pairs []cryptoPair
	index map[string]int // "BTC/USD", "BTCUSD" and the asset id -> pair

	mu    sync.Mutex
	state []cryptoWalk
}

type cryptoWalk struct {
	minute int64 // the minute sum is at
	sum    int64 // the walk's steps since the start, in logUnit
}

// logUnit is the walk's grain in log price: steps are whole numbers of
// it, so a minute's price is the same whichever way it was reached.
const logUnit = 1e-12

// step is pair p's step of minute k, in logUnit.
func (c *cryptoMarket) step(p *cryptoPair, key uint64, k int64) int64 {
	sigma := p.vol / math.Sqrt(365*24*60)
	return int64(math.Round((sigma*gauss(key, uint64(k)) - sigma*sigma/2) / logUnit))
}

// logOf is the log mid for a walk sum.
func (p *cryptoPair) logOf(sum int64) float64 { return math.Log(p.price) + float64(sum)*logUnit }

func newCryptoMarket(seed uint64, start time.Time) *cryptoMarket {
	c := &cryptoMarket{seed: seed, pairs: cryptoPairs, index: map[string]int{}, state: make([]cryptoWalk, len(cryptoPairs))}
	m0 := minuteOf(start)
	c.m0 = m0
	for i := range c.pairs {
		p := &c.pairs[i]
		sym := p.symbol()
		c.index[sym] = i
		c.index[p.base+p.quote] = i
		c.index[market.AssetID(sym)] = i
		c.state[i] = cryptoWalk{minute: m0}
	}
	return c
}

func minuteOf(t time.Time) int64 {
	s := t.Unix()
	if s < 0 && s%60 != 0 {
		return s/60 - 1
	}
	return s / 60
}

// lookup resolves a crypto symbol in either form (BTC/USD, BTCUSD) or its
// asset id.
func (c *cryptoMarket) lookup(v string) (*cryptoPair, bool) {
	i, ok := c.index[v]
	if !ok {
		return nil, false
	}
	return &c.pairs[i], true
}

// mid returns the pair's mid price at now, walking forward from the last
// minute asked for. The clock never goes back; a time before the last
// minute asked for reads that minute.
func (c *cryptoMarket) mid(i int, now time.Time) float64 {
	m := minuteOf(now)
	c.mu.Lock()
	defer c.mu.Unlock()
	w := &c.state[i]
	p := &c.pairs[i]
	key := c.seed ^ fnv64(p.symbol())
	for w.minute < m {
		w.minute++
		w.sum += c.step(p, key, w.minute)
	}
	return math.Exp(p.logOf(w.sum))
}

// quoteOf returns the pair's quote at now on the match engine's price
// grid: bid and ask a tick or about a basis point either side of the mid.
func (c *cryptoMarket) quoteOf(p *cryptoPair, now time.Time) match.Quote {
	return c.quoteAt(p, c.mid(c.index[p.symbol()], now))
}

// quoteAt is the pair's quote around mid.
func (c *cryptoMarket) quoteAt(p *cryptoPair, mid float64) match.Quote {
	inc, _ := decimal.NewFromString(p.priceIncrement)
	step := max(inc.InexactFloat64(), 1.0/match.PriceScale)
	half := max(mid*0.0001, step)
	bid := math.Floor((mid-half)/step) * step
	ask := math.Ceil((mid+half)/step) * step
	if bid <= 0 {
		bid = step
	}
	b, _ := match.PriceFromFloat(bid)
	a, _ := match.PriceFromFloat(ask)
	return match.Quote{Bid: b, Ask: a}
}

// gauss is a standard normal draw keyed by (key, n), by Box-Muller on two
// splitmix64 outputs.
func gauss(key, n uint64) float64 {
	x := splitmix(key ^ splitmix(n))
	y := splitmix(x)
	u1 := (float64(x>>11) + 0.5) / (1 << 53)
	u2 := float64(y>>11) / (1 << 53)
	return math.Sqrt(-2*math.Log(u1)) * math.Cos(2*math.Pi*u2)
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// cryptoAsset is Alpaca's Asset of a crypto pair, with the order and
// price granularity only crypto assets carry.
type cryptoAsset struct {
	alpaca.Asset
	MinOrderSize      string `json:"min_order_size"`
	MinTradeIncrement string `json:"min_trade_increment"`
	PriceIncrement    string `json:"price_increment"`
}

func (p *cryptoPair) asset() cryptoAsset {
	sym := p.symbol()
	return cryptoAsset{
		Asset: alpaca.Asset{
			ID:                     market.AssetID(sym),
			Class:                  "crypto",
			Exchange:               cryptoExchange,
			Symbol:                 sym,
			Name:                   p.name,
			Status:                 "active",
			Tradable:               true,
			Fractionable:           true,
			MarginRequirementLong:  "100",
			MarginRequirementShort: "100",
			Attributes:             []string{},
		},
		MinOrderSize:      p.minOrderSize,
		MinTradeIncrement: p.minTradeIncrement,
		PriceIncrement:    p.priceIncrement,
	}
}

// matchAsset is what the match engine needs to know about the pair.
func (p *cryptoPair) matchAsset() match.Asset {
	return match.Asset{
		Tradable:          true,
		Fractionable:      true,
		Crypto:            true,
		MinOrderSize:      qtyOf(p.minOrderSize),
		MinTradeIncrement: qtyOf(p.minTradeIncrement),
	}
}

func qtyOf(s string) match.Qty {
	d := decimal.RequireFromString(s)
	return match.Qty(d.Shift(9).IntPart())
}

// isCryptoSymbol reports whether a canonical symbol is a crypto pair's:
// only pairs carry a slash (stock tickers never do).
func isCryptoSymbol(symbol string) bool { return strings.IndexByte(symbol, '/') >= 0 }

// quote returns a symbol's current quote on the match engine's grid, from
// the crypto market for a pair and the stock market otherwise.
func (s *Server) quote(symbol string) (match.Quote, bool) {
	if p, ok := s.crypto.lookup(symbol); ok {
		return s.crypto.quoteOf(p, s.now()), true
	}
	q, ok := s.market.Quote(symbol)
	if !ok {
		return match.Quote{}, false
	}
	return toMatchQuote(q), true
}

// cryptoStep publishes the minutes that ended by now to the crypto
// stream and gives every account with resting crypto orders the pairs'
// quotes at now, so that those orders fill as prices move.
func (s *Server) cryptoStep(now time.Time) {
	s.publishCrypto(now)
	for i := range s.crypto.pairs {
		p := &s.crypto.pairs[i]
		sym := p.symbol()
		accts := s.interest.accounts(sym)
		if len(accts) == 0 {
			continue
		}
		q := s.crypto.quoteOf(p, now)
		for _, a := range accts {
			a.mu.Lock()
			t := a.clock(now)
			ev := a.eng.OnQuote(t, sym, q, a.evbuf)
			a.publish(s, ev)
			idle := a.eng.OpenOrderCount() == 0
			a.mu.Unlock()
			if idle {
				s.interest.remove(sym, a)
			}
		}
	}
}

// cryptoLoop runs cryptoStep once a minute, as the crypto prices move,
// around the clock.
func (s *Server) cryptoLoop() {
	for {
		next := s.now().Truncate(time.Minute).Add(time.Minute)
		if !s.sleepUntil(next) {
			return
		}
		s.cryptoStep(next)
	}
}

// assetClassOf is the asset_class of an order or position on symbol.
func assetClassOf(symbol string) string {
	if isCryptoSymbol(symbol) {
		return "crypto"
	}
	return "us_equity"
}

// pairPath serves a path that names a crypto pair with its slash
// unescaped ({base}/{quote}) as the handler of the one-segment {symbol}
// form.
func pairPath(h func(http.ResponseWriter, *http.Request, *account)) func(http.ResponseWriter, *http.Request, *account) {
	return func(w http.ResponseWriter, r *http.Request, a *account) {
		r.SetPathValue("symbol", r.PathValue("base")+"/"+r.PathValue("quote"))
		h(w, r, a)
	}
}
