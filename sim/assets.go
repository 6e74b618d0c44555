package sim

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/quantum-alpaca/quantum/alpaca"
	"github.com/quantum-alpaca/quantum/sim/market"
)

// assetOf renders a market symbol as Alpaca's Asset. The test symbol is
// listed but not tradable, as on Alpaca.
func assetOf(s market.Symbol) alpaca.Asset {
	id := s.AssetID
	if id == "" {
		id = market.AssetID(s.Symbol)
	}
	mmr := uint(30)
	long, short := "30", "100"
	if !s.Marginable {
		mmr, long, short = 100, "100", "100"
	}
	attrs := []string{}
	if !s.Test {
		attrs = append(attrs, "has_options")
	}
	return alpaca.Asset{
		ID:                           id,
		Class:                        "us_equity",
		Exchange:                     s.Exchange,
		Symbol:                       s.Symbol,
		Name:                         s.Name,
		Status:                       "active",
		Tradable:                     !s.Test && !s.NotTradable,
		Marginable:                   s.Marginable,
		Shortable:                    s.Shortable,
		EasyToBorrow:                 s.EasyToBorrow,
		Fractionable:                 s.Fractionable,
		MaintenanceMarginRequirement: mmr,
		MarginRequirementLong:        long,
		MarginRequirementShort:       short,
		Attributes:                   attrs,
	}
}

// ParseAssets reads an asset list saved from Alpaca's own GET /v2/assets
// (a JSON array of asset objects) as a universe for Config.Universe
// (quantum broker --assets FILE, issue 9 item 4). Active US equities are
// kept, with their ids, names, exchanges and flags as listed; the others
// (inactive, crypto, options) are left out. A symbol of the default
// universe that has its own price process keeps it, so it trades as it
// does without the file; every other symbol gets one derived from its
// ticker and is Lazy, so that a list of 12,000 costs little until used.
// The test symbol FAKEPACA is added when missing.
func ParseAssets(data []byte) ([]market.Symbol, error) {
	var in []struct {
		ID           string `json:"id"`
		Class        string `json:"class"`
		Exchange     string `json:"exchange"`
		Symbol       string `json:"symbol"`
		Name         string `json:"name"`
		Status       string `json:"status"`
		Tradable     *bool  `json:"tradable"`
		Marginable   bool   `json:"marginable"`
		Shortable    bool   `json:"shortable"`
		EasyToBorrow bool   `json:"easy_to_borrow"`
		Fractionable bool   `json:"fractionable"`
	}
	if err := json.Unmarshal(data, &in); err != nil {
		return nil, fmt.Errorf("assets: expected the JSON array of GET /v2/assets: %w", err)
	}
	core := map[string]market.Symbol{}
	for _, s := range market.DefaultUniverse() {
		if !s.Lazy {
			core[s.Symbol] = s
		}
	}
	seen := map[string]bool{}
	var out []market.Symbol
	for k, a := range in {
		if a.Class != "" && a.Class != "us_equity" || a.Status != "" && a.Status != "active" {
			continue
		}
		if a.Symbol == "" || strings.ContainsAny(a.Symbol, " ,/") {
			return nil, fmt.Errorf("assets: entry %d: symbol %q", k+1, a.Symbol)
		}
		if seen[a.Symbol] {
			return nil, fmt.Errorf("assets: entry %d: %s appears twice", k+1, a.Symbol)
		}
		seen[a.Symbol] = true
		s := market.Symbol{Symbol: a.Symbol}
		if c, ok := core[a.Symbol]; ok {
			s = c
		} else {
			s = market.DeriveParams(s, a.Exchange == market.ExchangeARCA)
		}
		s.Name, s.Exchange = a.Name, a.Exchange
		if a.ID != "" {
			s.AssetID = a.ID
		}
		s.NotTradable = a.Tradable != nil && !*a.Tradable
		s.Marginable, s.Shortable, s.EasyToBorrow, s.Fractionable = a.Marginable, a.Shortable, a.EasyToBorrow, a.Fractionable
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, errors.New("assets: no active US equity in the list")
	}
	if !seen[market.TestSymbol] {
		for _, s := range market.DefaultUniverse() {
			if s.Test {
				out = append(out, s)
			}
		}
	}
	return out, nil
}
