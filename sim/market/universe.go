package market

import (
	"crypto/sha1"
	"fmt"
)

// Exchange names used by Symbol.Exchange, as Alpaca's assets API spells
// them.
const (
	ExchangeNASDAQ = "NASDAQ"
	ExchangeNYSE   = "NYSE"
	ExchangeARCA   = "ARCA"
)

// TestSymbol is the symbol Alpaca streams on its always-on /v2/test feed.
const TestSymbol = "FAKEPACA"

// Symbol is one listed instrument of the simulated market: its asset
// metadata (what /v2/assets reports) and the parameters of its price
// process.
type Symbol struct {
	Symbol   string // ticker, case-sensitive as Alpaca treats it
	Name     string
	Exchange string // ExchangeNASDAQ, ExchangeNYSE or ExchangeARCA
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
}

// Tape returns the SIP tape of the symbol's listing exchange: A for NYSE,
// B for Arca, C for Nasdaq.
func (s Symbol) Tape() string {
	switch s.Exchange {
	case ExchangeNYSE:
		return "A"
	case ExchangeARCA:
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

// DefaultUniverse returns the default listing: large US equities and ETFs
// with plausible prices, plus the test symbol FAKEPACA. Each call returns a
// fresh slice the caller may modify.
func DefaultUniverse() []Symbol {
	type row struct {
		sym, name, exch string
		price, vol      float64
		rate            float64
		etb, frac       bool
	}
	rows := []row{
		{"AAPL", "Apple Inc. Common Stock", ExchangeNASDAQ, 272.40, 0.26, 120, true, true},
		{"MSFT", "Microsoft Corporation Common Stock", ExchangeNASDAQ, 508.30, 0.24, 90, true, true},
		{"NVDA", "NVIDIA Corporation Common Stock", ExchangeNASDAQ, 186.20, 0.45, 150, true, true},
		{"AMZN", "Amazon.com, Inc. Common Stock", ExchangeNASDAQ, 231.70, 0.32, 110, true, true},
		{"GOOGL", "Alphabet Inc. Class A Common Stock", ExchangeNASDAQ, 281.90, 0.30, 100, true, true},
		{"META", "Meta Platforms, Inc. Class A Common Stock", ExchangeNASDAQ, 712.50, 0.36, 80, true, true},
		{"TSLA", "Tesla, Inc. Common Stock", ExchangeNASDAQ, 431.80, 0.60, 140, true, true},
		{"AVGO", "Broadcom Inc. Common Stock", ExchangeNASDAQ, 348.60, 0.42, 70, true, true},
		{"COST", "Costco Wholesale Corporation Common Stock", ExchangeNASDAQ, 918.40, 0.20, 30, true, true},
		{"NFLX", "Netflix, Inc. Common Stock", ExchangeNASDAQ, 112.30, 0.38, 60, true, true},
		{"AMD", "Advanced Micro Devices, Inc. Common Stock", ExchangeNASDAQ, 241.10, 0.52, 110, true, true},
		{"INTC", "Intel Corporation Common Stock", ExchangeNASDAQ, 38.25, 0.48, 90, true, true},
		{"PEP", "PepsiCo, Inc. Common Stock", ExchangeNASDAQ, 149.80, 0.18, 35, true, true},
		{"CSCO", "Cisco Systems, Inc. Common Stock (DE)", ExchangeNASDAQ, 72.15, 0.22, 50, true, true},
		{"ADBE", "Adobe Inc. Common Stock", ExchangeNASDAQ, 341.20, 0.34, 35, true, true},
		{"PLTR", "Palantir Technologies Inc. Class A Common Stock", ExchangeNASDAQ, 182.60, 0.70, 120, false, true},
		{"WMT", "Walmart Inc. Common Stock", ExchangeNASDAQ, 104.90, 0.20, 60, true, true},
		{"SOFI", "SoFi Technologies, Inc. Common Stock", ExchangeNASDAQ, 27.40, 0.65, 70, false, true},
		{"JPM", "JP Morgan Chase & Co. Common Stock", ExchangeNYSE, 301.50, 0.24, 60, true, true},
		{"V", "Visa Inc.", ExchangeNYSE, 342.10, 0.20, 45, true, true},
		{"MA", "Mastercard Incorporated Common Stock", ExchangeNYSE, 568.70, 0.21, 30, true, true},
		{"BRK.B", "Berkshire Hathaway Inc. New Common Stock", ExchangeNYSE, 498.20, 0.16, 30, true, true},
		{"LLY", "Eli Lilly and Company Common Stock", ExchangeNYSE, 912.30, 0.32, 35, true, true},
		{"UNH", "UnitedHealth Group Incorporated Common Stock (DE)", ExchangeNYSE, 331.40, 0.38, 45, true, true},
		{"XOM", "Exxon Mobil Corporation Common Stock", ExchangeNYSE, 115.60, 0.22, 50, true, true},
		{"JNJ", "Johnson & Johnson Common Stock", ExchangeNYSE, 191.30, 0.16, 40, true, true},
		{"PG", "Procter & Gamble Company (The) Common Stock", ExchangeNYSE, 151.20, 0.16, 35, true, true},
		{"HD", "Home Depot, Inc. (The) Common Stock", ExchangeNYSE, 381.70, 0.24, 35, true, true},
		{"KO", "Coca-Cola Company (The) Common Stock", ExchangeNYSE, 69.85, 0.15, 45, true, true},
		{"DIS", "Walt Disney Company (The) Common Stock", ExchangeNYSE, 112.40, 0.28, 45, true, true},
		{"BAC", "Bank of America Corporation Common Stock", ExchangeNYSE, 52.30, 0.26, 80, true, true},
		{"ORCL", "Oracle Corporation Common Stock", ExchangeNYSE, 221.80, 0.45, 70, true, true},
		{"CRM", "Salesforce, Inc. Common Stock", ExchangeNYSE, 239.60, 0.32, 40, true, true},
		{"F", "Ford Motor Company Common Stock", ExchangeNYSE, 13.05, 0.30, 70, true, true},
		{"T", "AT&T Inc.", ExchangeNYSE, 25.90, 0.20, 60, true, true},
		{"PFE", "Pfizer, Inc. Common Stock", ExchangeNYSE, 24.85, 0.24, 60, true, true},
		{"SPY", "SPDR S&P 500 ETF Trust", ExchangeARCA, 671.20, 0.16, 200, true, true},
		{"QQQ", "Invesco QQQ Trust, Series 1", ExchangeNASDAQ, 612.80, 0.20, 160, true, true},
		{"IWM", "iShares Russell 2000 ETF", ExchangeARCA, 244.70, 0.22, 90, true, true},
		{"DIA", "SPDR Dow Jones Industrial Average ETF Trust", ExchangeARCA, 468.30, 0.15, 30, true, true},
	}
	out := make([]Symbol, 0, len(rows)+1)
	for _, r := range rows {
		out = append(out, Symbol{
			Symbol: r.sym, Name: r.name, Exchange: r.exch, AssetID: AssetID(r.sym),
			Fractionable: r.frac, Shortable: true, EasyToBorrow: r.etb, Marginable: true,
			Price: r.price, Volatility: r.vol, SpreadCents: defaultSpread(r.price, r.exch == ExchangeARCA || r.sym == "QQQ"),
			TradesPerMinute: r.rate,
		})
	}
	out = append(out, Symbol{
		Symbol: TestSymbol, Name: "Alpaca test symbol", Exchange: ExchangeNASDAQ, AssetID: AssetID(TestSymbol),
		Price: 100, Volatility: 0.50, SpreadCents: 2, TradesPerMinute: 60, Test: true,
	})
	return out
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
