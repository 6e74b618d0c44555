package market

import (
	"crypto/sha1"
	_ "embed"
	"encoding/csv"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Exchange names used by Symbol.Exchange, as Alpaca's assets API spells
// them.
const (
	ExchangeNASDAQ = "NASDAQ"
	ExchangeNYSE   = "NYSE"
	ExchangeARCA   = "ARCA"
	ExchangeBATS   = "BATS"
	ExchangeAMEX   = "AMEX"
)

// TestSymbol is the symbol Alpaca streams on its always-on /v2/test feed.
const TestSymbol = "FAKEPACA"

// Symbol is one listed instrument of the simulated market: its asset
// metadata (what /v2/assets reports) and the parameters of its price
// process.
type Symbol struct {
	Symbol   string // ticker, case-sensitive as Alpaca treats it
	Name     string
	Exchange string // ExchangeNASDAQ, ExchangeNYSE, ExchangeARCA, ExchangeBATS, ExchangeAMEX, ...
	// AssetID is a stable UUID-shaped id; AssetID(Symbol) when empty.
	AssetID string

	Fractionable bool
	Shortable    bool
	EasyToBorrow bool
	Marginable   bool

	// Price is the mid price in dollars when the market is constructed;
	// history is generated backward from it.
	Price float64
	// Volatility is the annualized volatility of the random walk
	// (0.30 = 30%); 0.25 when zero.
	Volatility float64
	// SpreadCents is the typical quoted spread in cents; derived from the
	// price when zero.
	SpreadCents int64
	// TradesPerMinute is the mean number of prints per minute; 30 when
	// zero.
	TradesPerMinute float64

	// Test marks a symbol that exists only for the /v2/test stream
	// (FAKEPACA): the other feeds never stream it and a trading front end
	// should not list it as tradable.
	Test bool
	// NotTradable marks a listed symbol that has data but cannot be
	// traded (Alpaca's tradable: false).
	NotTradable bool

	// Lazy marks a symbol whose series is generated minute by minute from
	// the seed, on demand, instead of walked tick by tick from the start:
	// it costs next to nothing until used, which is what lets the
	// universe hold thousands of symbols. Its minute bars are a function
	// of the seed, the symbol and the clock alone (history walks back from
	// Price at the market's construction, later minutes walk forward from
	// it), so they are the same whatever is asked for first, or when; its
	// quote, like a replay's, is the last minute's close with the spread
	// around it and moves once a minute.
	Lazy bool
}

// Tape returns the SIP tape of the symbol's listing exchange: A for NYSE,
// B for Arca, Cboe BZX and NYSE American, C for Nasdaq (and any other).
func (s Symbol) Tape() string {
	switch s.Exchange {
	case ExchangeNYSE:
		return "A"
	case ExchangeARCA, ExchangeBATS, ExchangeAMEX:
		return "B"
	default:
		return "C"
	}
}

// AssetID derives a deterministic asset id from a ticker: a name-based
// hash laid out as a version-4-looking UUID, so ids survive restarts and
// agree between simulator instances without any stored state.
func AssetID(symbol string) string {
	h := sha1.Sum([]byte("quantum-alpaca/asset/" + symbol))
	h[6] = h[6]&0x0f | 0x40
	h[8] = h[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

// universeCSV is the default listing: the S&P 500 members and the most
// traded ETFs, with their names, listing exchanges and trading flags as a
// broker lists them. A symbol list is a fact (the constituents as
// published in 2026, names and exchanges from the exchanges' symbol
// directory); the prices and the rest of each price process are the
// simulator's own. The first rows give their process's parameters (the
// universe the simulator started with, whose series backtests and tests
// rely on); the others leave them empty and get parameters derived from
// the symbol, and are Lazy.
//
//go:embed universe.csv
var universeCSV string

// DefaultUniverse returns the default listing: some 640 US equities and
// ETFs (the S&P 500 and the most traded ETFs), plus the test symbol
// FAKEPACA. Each call returns a fresh slice the caller may modify.
func DefaultUniverse() []Symbol {
	out, err := parseUniverse(universeCSV)
	if err != nil {
		panic("market: embedded universe: " + err.Error()) // a build that ships a broken file is a bug
	}
	return out
}

// coreUniverse is the part of the default universe whose parameters are
// given: the symbols that tick live from the start, and whose spreads
// recorded replays use (RecordedSpread).
func coreUniverse() []Symbol {
	var out []Symbol
	for _, s := range DefaultUniverse() {
		if !s.Lazy {
			out = append(out, s)
		}
	}
	return out
}

func parseUniverse(text string) ([]Symbol, error) {
	rows, err := csv.NewReader(strings.NewReader(text)).ReadAll()
	if err != nil {
		return nil, err
	}
	if len(rows) < 2 {
		return nil, errors.New("no rows")
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	for _, h := range []string{"symbol", "name", "exchange", "kind", "tradable", "marginable", "shortable", "easy_to_borrow", "fractionable", "price", "volatility", "trades_per_minute"} {
		if _, ok := col[h]; !ok {
			return nil, errors.New("no column " + h)
		}
	}
	out := make([]Symbol, 0, len(rows))
	for k, r := range rows[1:] {
		flag := func(name string) bool { return r[col[name]] == "true" }
		num := func(name string) (float64, error) {
			if r[col[name]] == "" {
				return 0, nil
			}
			return strconv.ParseFloat(r[col[name]], 64)
		}
		s := Symbol{
			Symbol: r[col["symbol"]], Name: r[col["name"]], Exchange: r[col["exchange"]],
			AssetID: AssetID(r[col["symbol"]]), NotTradable: !flag("tradable"),
			Fractionable: flag("fractionable"), Shortable: flag("shortable"), EasyToBorrow: flag("easy_to_borrow"), Marginable: flag("marginable"),
		}
		price, err1 := num("price")
		vol, err2 := num("volatility")
		rate, err3 := num("trades_per_minute")
		if err := errors.Join(err1, err2, err3); err != nil {
			return nil, fmt.Errorf("row %d (%s): %w", k+2, s.Symbol, err)
		}
		etf := r[col["kind"]] == "etf"
		if price > 0 {
			s.Price, s.Volatility, s.TradesPerMinute = price, vol, rate
		} else {
			s = DeriveParams(s, etf)
		}
		s.SpreadCents = defaultSpread(s.Price, etf)
		out = append(out, s)
	}
	out = append(out, Symbol{
		Symbol: TestSymbol, Name: "Alpaca test symbol", Exchange: ExchangeNASDAQ, AssetID: AssetID(TestSymbol),
		Price: 100, Volatility: 0.50, SpreadCents: 2, TradesPerMinute: 60, Test: true,
	})
	return out, nil
}

// DeriveParams gives s, a listed symbol without a price process of its
// own, one drawn from its ticker, so that the same symbol trades at the
// same level in every run and on every broker: a price between $15 and
// $600 (log-uniform), an annualized volatility of 18-53% (12-32% for an
// ETF) and 20-80 prints a minute (40-140). It marks s Lazy.
func DeriveParams(s Symbol, etf bool) Symbol {
	r := newRNG(hashString("quantum-alpaca/params/" + s.Symbol))
	s.Price = math.Round(math.Exp(math.Log(15)+r.float()*math.Log(600.0/15))*100) / 100
	if etf {
		s.Volatility = math.Round((0.12+0.20*r.float())*100) / 100
		s.TradesPerMinute = math.Round(40 + 100*r.float())
	} else {
		s.Volatility = math.Round((0.18+0.35*r.float())*100) / 100
		s.TradesPerMinute = math.Round(20 + 60*r.float())
	}
	s.Lazy = true
	return s
}

// defaultSpread sizes the quoted spread the way it looks in practice: a
// penny for liquid low-priced names and index ETFs, widening with price.
func defaultSpread(price float64, etf bool) int64 {
	switch {
	case etf || price < 150:
		return 1
	case price < 350:
		return 2
	case price < 600:
		return 4
	default:
		return 9
	}
}
