package match

// Deposit adds amount to the account's cash, or, when amount is negative,
// withdraws it: a journal or transfer moving money in or out. A
// withdrawal may take only cash that is neither short of zero nor held
// for open orders; ErrForbidden otherwise, with the cash unchanged.
func (a *Account) Deposit(amount Money) error {
	if amount < 0 && -amount > a.cash-a.reserved {
		return errf(KindForbidden, "insufficient cash available for the withdrawal")
	}
	a.cash = Money(satAdd(int64(a.cash), int64(amount)))
	return nil
}
