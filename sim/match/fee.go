package match

import "time"

// Crypto fees (Alpaca's crypto fee schedule): a rate by 30-day crypto
// volume tier, lower for orders that rested (maker) than for orders that
// executed on arrival (taker), charged in the asset received: a buy of
// BTC/USD pays in BTC (the position grows by the fill less the fee), a
// sell pays in USD. Each fee is a CFEE activity next to its fill.

// cryptoFeeTier is one volume tier: from MinVolume of 30-day crypto
// volume (dollars), maker and taker rates in hundredths of a percent
// (basis points).
type cryptoFeeTier struct {
	MinVolume   Money
	Maker, Take int64
}

// cryptoFeeTiers is Alpaca's crypto fee schedule, tier 1 first.
var cryptoFeeTiers = []cryptoFeeTier{
	{0, 15, 25},
	{100_000 * MoneyScale, 12, 22},
	{500_000 * MoneyScale, 10, 20},
	{1_000_000 * MoneyScale, 8, 18},
	{10_000_000 * MoneyScale, 5, 15},
	{25_000_000 * MoneyScale, 2, 13},
	{50_000_000 * MoneyScale, 2, 12},
	{100_000_000 * MoneyScale, 0, 10},
}

// cryptoFeeWindow is the trailing window volume tiers are measured over.
const cryptoFeeWindow = 30 * 24 * time.Hour

type volRec struct {
	t Timestamp
	v Money
}

// cryptoVolume is the account's crypto volume over the 30 days before
// now, dropping older records.
func (a *Account) cryptoVolume(now time.Time) Money {
	from := Stamp(now.Add(-cryptoFeeWindow))
	i := 0
	for i < len(a.cryptoVol) && a.cryptoVol[i].t <= from {
		i++
	}
	a.cryptoVol = a.cryptoVol[i:]
	var sum Money
	for _, r := range a.cryptoVol {
		sum = Money(satAdd(int64(sum), int64(r.v)))
	}
	return sum
}

// CryptoFeeRate returns the account's crypto fee rate at now in basis
// points: maker for an order that rested, taker otherwise.
func (a *Account) CryptoFeeRate(now time.Time, maker bool) int64 {
	vol := a.cryptoVolume(now)
	t := cryptoFeeTiers[0]
	for _, x := range cryptoFeeTiers {
		if vol >= x.MinVolume {
			t = x
		}
	}
	if maker {
		return t.Maker
	}
	return t.Take
}

// chargeCryptoFee charges the fee of a crypto fill of q at px, just
// applied to b, and records the fill's volume. It returns the fee: in the
// asset for a buy, in cash for a sell.
func (a *Account) chargeCryptoFee(now time.Time, b *book, side Side, q Qty, px Price, maker bool) (Qty, Money) {
	bps := a.CryptoFeeRate(now, maker)
	val := Value(q, px)
	a.cryptoVol = append(a.cryptoVol, volRec{Stamp(now), val})
	if bps == 0 {
		return 0, 0
	}
	if side == Buy {
		fq := Qty(mulDivSat(int64(q), bps, 10_000, true))
		fq = min(fq, b.pos)
		b.pos -= fq
		return fq, 0
	}
	fee := Money(mulDivSat(int64(val), bps, 10_000, true))
	a.cash = Money(satSub(int64(a.cash), int64(fee)))
	return 0, fee
}
