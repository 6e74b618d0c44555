package match

import (
	"math"
	"math/bits"
	"strconv"

	"github.com/shopspring/decimal"
)

// Scales of the fixed-point types. Integers keep the hot path free of
// big.Int allocations; each scale is just fine enough for what Alpaca
// accepts on the wire, so conversion from a valid request is exact.
const (
	QtyScale      = 1_000_000_000 // Qty units per share: 9 decimals, Alpaca's fractional limit
	PriceScale    = 10_000        // Price units per dollar: 4 decimals, the sub-penny limit below $1
	MoneyScale    = 100           // Money units per dollar: cash is kept in cents
	AvgPriceScale = 1_000_000_000 // AvgPrice units per dollar: averages need more than 4 decimals
	PercentScale  = 10_000        // Percent units per percentage point
)

// Limits that keep every product below 2^127 and every sum below 2^63, so
// arithmetic can never overflow; anything beyond them is rejected as absurd
// before it enters the account.
const (
	MaxOrderQty    Qty   = 1_000_000_000 * QtyScale       // 1e9 shares per order
	MaxPositionQty Qty   = 4_000_000_000 * QtyScale       // position plus its pending orders
	MaxPrice       Price = 10_000_000 * PriceScale        // $10,000,000 per share
	MaxNotional    Money = 1_000_000_000_000 * MoneyScale // $1e12 per notional order
)

// Qty is a share quantity in units of 1e-9 share. Negative means short.
type Qty int64

// Price is a per-share price in units of $0.0001. Zero means "not set".
type Price int64

// Money is an amount of dollars in cents. Cash is rounded to cents: a fill
// moves cash by qty×price truncated toward zero to the cent.
type Money int64

// AvgPrice is an average price in units of 1e-9 dollar; averages of
// 4-decimal prices over fractional quantities need the extra digits.
type AvgPrice int64

// Percent is a percentage in units of 1e-4 percentage point (1.5% is 15000).
type Percent int64

// Decimal returns q as a decimal number of shares.
func (q Qty) Decimal() decimal.Decimal { return decimal.New(int64(q), -9) }

// String formats q like a decimal with trailing zeros trimmed ("12.5").
func (q Qty) String() string { return formatFixed(int64(q), 9) }

// IsWhole reports whether q is a whole number of shares.
func (q Qty) IsWhole() bool { return q%QtyScale == 0 }

// Decimal returns p as a decimal number of dollars.
func (p Price) Decimal() decimal.Decimal { return decimal.New(int64(p), -4) }

// String formats p in dollars with trailing zeros trimmed.
func (p Price) String() string { return formatFixed(int64(p), 4) }

// Float64 returns p in dollars, for market-data wire structs.
func (p Price) Float64() float64 { return float64(p) / PriceScale }

// Decimal returns m as a decimal number of dollars.
func (m Money) Decimal() decimal.Decimal { return decimal.New(int64(m), -2) }

// String formats m in dollars with trailing zeros trimmed.
func (m Money) String() string { return formatFixed(int64(m), 2) }

// Decimal returns a as a decimal number of dollars.
func (a AvgPrice) Decimal() decimal.Decimal { return decimal.New(int64(a), -9) }

// String formats a in dollars with trailing zeros trimmed.
func (a AvgPrice) String() string { return formatFixed(int64(a), 9) }

// Decimal returns p as a decimal number of percentage points.
func (p Percent) Decimal() decimal.Decimal { return decimal.New(int64(p), -4) }

// String formats p in percentage points with trailing zeros trimmed.
func (p Percent) String() string { return formatFixed(int64(p), 4) }

// ParseQty converts a decimal share quantity; ok is false when it has more
// than 9 decimals or its magnitude exceeds MaxPositionQty.
func ParseQty(d decimal.Decimal) (q Qty, ok bool) {
	v, c := fromDecimal(d, 9, int64(MaxPositionQty))
	return Qty(v), c == convOK
}

// ParsePrice converts a decimal dollar price; ok is false when it has more
// than 4 decimals or its magnitude exceeds MaxPrice. The sub-penny rule
// (2 decimals at or above $1) is checked by order validation, not here.
func ParsePrice(d decimal.Decimal) (p Price, ok bool) {
	v, c := fromDecimal(d, 4, int64(MaxPrice))
	return Price(v), c == convOK
}

// ParseMoney converts a decimal dollar amount; ok is false when it has
// more than 2 decimals or its magnitude exceeds 1e15 dollars.
func ParseMoney(d decimal.Decimal) (m Money, ok bool) {
	v, c := fromDecimal(d, 2, 1e17)
	return Money(v), c == convOK
}

// PriceFromFloat converts a market-data price (a JSON number) to a Price,
// rounding to $0.0001. NaN, infinities, negatives and prices above
// MaxPrice give ok=false.
func PriceFromFloat(f float64) (p Price, ok bool) {
	if !(f >= 0) || f > float64(MaxPrice)/PriceScale {
		return 0, false
	}
	return Price(math.Round(f * PriceScale)), true
}

// Value is the cash amount of qty shares at price p, truncated to the cent
// (the rounding every fill uses). The sign of qty is ignored.
func Value(qty Qty, p Price) Money {
	if qty < 0 {
		qty = -qty
	}
	if p <= 0 {
		return 0
	}
	v, _ := mulDiv(uint64(qty), uint64(p), QtyScale*PriceScale/MoneyScale, false)
	return Money(v)
}

type convResult uint8

const (
	convOK convResult = iota
	convPrecision
	convRange
)

var pow10 = [19]int64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12,
	1e13, 1e14, 1e15, 1e16, 1e17, 1e18}

// fromDecimal scales d by 10^scale into an int64 without touching big.Int
// arithmetic in the common case (coefficient fits 18 digits), so request
// conversion does not allocate.
func fromDecimal(d decimal.Decimal, scale int32, max int64) (int64, convResult) {
	if d.Sign() == 0 {
		return 0, convOK
	}
	if d.NumDigits() > 18 {
		// Rare: huge values or trailing zeros beyond 18 digits; the slow
		// path is exact and may allocate.
		s := d.Shift(scale)
		if !s.IsInteger() {
			return 0, convPrecision
		}
		if s.Abs().GreaterThan(decimal.NewFromInt(max)) {
			return 0, convRange
		}
		return s.IntPart(), convOK
	}
	c := d.CoefficientInt64()
	e := int64(d.Exponent()) + int64(scale)
	var v int64
	switch {
	case e > 18:
		return 0, convRange
	case e >= 0:
		p := pow10[e]
		if abs64(c) > max/p {
			return 0, convRange
		}
		v = c * p
	case e < -18:
		return 0, convPrecision
	default:
		p := pow10[-e]
		if c%p != 0 {
			return 0, convPrecision
		}
		v = c / p
	}
	if abs64(v) > max {
		return 0, convRange
	}
	return v, convOK
}

func abs64(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

// mulDiv returns a*b/d rounded down (or up), with a 128-bit intermediate;
// ok is false when the result does not fit an int64.
func mulDiv(a, b, d uint64, ceil bool) (int64, bool) {
	hi, lo := bits.Mul64(a, b)
	if hi >= d {
		return 0, false
	}
	q, r := bits.Div64(hi, lo, d)
	if ceil && r != 0 {
		q++
	}
	if q > math.MaxInt64 {
		return 0, false
	}
	return int64(q), true
}

// mulDivSat is mulDiv for non-negative inputs that saturates instead of
// failing; used where an absurd but valid state must not wrap around.
func mulDivSat(a, b, d int64, ceil bool) int64 {
	if a <= 0 || b <= 0 {
		return 0
	}
	v, ok := mulDiv(uint64(a), uint64(b), uint64(d), ceil)
	if !ok {
		return math.MaxInt64
	}
	return v
}

func satAdd(a, b int64) int64 {
	s := a + b
	if (a >= 0) == (b >= 0) && (s >= 0) != (a >= 0) {
		if a >= 0 {
			return math.MaxInt64
		}
		return math.MinInt64
	}
	return s
}

func satSub(a, b int64) int64 {
	if b == math.MinInt64 {
		return satAdd(satAdd(a, math.MaxInt64), 1)
	}
	return satAdd(a, -b)
}

func satMul(a, b int64) int64 {
	if a == 0 || b == 0 {
		return 0
	}
	hi, lo := bits.Mul64(uint64(abs64(a)), uint64(abs64(b)))
	neg := (a < 0) != (b < 0)
	if hi != 0 || lo > math.MaxInt64 {
		if neg {
			return math.MinInt64
		}
		return math.MaxInt64
	}
	if neg {
		return -int64(lo)
	}
	return int64(lo)
}

// formatFixed prints v/10^scale with trailing fractional zeros trimmed.
func formatFixed(v int64, scale int) string {
	var buf [32]byte
	return string(appendFixed(buf[:0], v, scale))
}

func appendFixed(b []byte, v int64, scale int) []byte {
	u := uint64(v)
	if v < 0 {
		b = append(b, '-')
		u = -u
	}
	p := uint64(pow10[scale])
	b = strconv.AppendUint(b, u/p, 10)
	frac := u % p
	if frac == 0 {
		return b
	}
	var digits [18]byte
	n := scale
	for i := scale - 1; i >= 0; i-- {
		digits[i] = byte('0' + frac%10)
		frac /= 10
	}
	for n > 0 && digits[n-1] == '0' {
		n--
	}
	b = append(b, '.')
	return append(b, digits[:n]...)
}

// tickFloor rounds p down to its valid increment ($0.01 at or above $1,
// $0.0001 below), so derived prices obey the sub-penny rule.
func tickFloor(p Price) Price {
	if p >= PriceScale {
		return p - p%100
	}
	return p
}

// tickCeil rounds p up to its valid increment.
func tickCeil(p Price) Price {
	if p >= PriceScale && p%100 != 0 {
		return p + 100 - p%100
	}
	return p
}

// subPenny reports whether p violates Alpaca's minimum increment.
func subPenny(p Price) bool { return p >= PriceScale && p%100 != 0 }
