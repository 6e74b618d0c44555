package match

// Corporate actions (issue 9 item 6). The broker decides when an action
// applies and to whom; these are the position and cash changes it makes.

// Split applies a stock split of newRate shares for every oldRate to the
// position in symbol, as Alpaca books one: the quantity is multiplied by
// newRate/oldRate and the average entry price divided by it, so the cost
// basis stays what it was (to the last unit of AvgPrice). A fraction
// left by a reverse split is kept, to Qty's nine decimals, where Alpaca
// would pay cash in lieu for it. The book's last quote is rescaled the
// same way, so that the position is valued at the post-split price until
// the next quote arrives. It returns the quantities before and after;
// ok is false, with nothing changed, when there is no position or a rate
// is not positive. Open orders are the caller's to cancel first.
func (a *Account) Split(symbol string, newRate, oldRate int64) (before, after Qty, ok bool) {
	b := a.books[symbol]
	if b == nil || b.pos == 0 || newRate <= 0 || oldRate <= 0 {
		return 0, 0, false
	}
	before = b.pos
	mag := mulDivSat(abs64(int64(b.pos)), newRate, oldRate, false)
	if mag == 0 {
		mag = 1 // the smallest Qty rather than a position that vanishes
	}
	after = Qty(mag)
	if before < 0 {
		after = -after
	}
	b.pos = after
	b.avg = AvgPrice(mulDivSat(int64(b.avg), oldRate, newRate, false))
	b.quote.Bid = Price(mulDivSat(int64(b.quote.Bid), oldRate, newRate, false))
	b.quote.Ask = Price(mulDivSat(int64(b.quote.Ask), oldRate, newRate, true))
	return before, after, true
}

// PositionQty returns the quantity held in symbol (negative for a short
// position), zero when flat.
func (a *Account) PositionQty(symbol string) Qty {
	if b := a.books[symbol]; b != nil {
		return b.pos
	}
	return 0
}

// CreditCash adds amount to the cash balance, or takes it when negative
// (a dividend owed on a short position), whatever the cash available:
// unlike a withdrawal, the account cannot refuse it.
func (a *Account) CreditCash(amount Money) {
	a.cash = Money(satAdd(int64(a.cash), int64(amount)))
}
