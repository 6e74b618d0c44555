package sim

import (
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
		Tradable:                     !s.Test,
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
