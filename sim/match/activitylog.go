package match

import (
	"sort"
	"time"
)

// ActivityCount is the number of FILL and CFEE activities the account
// has had. They are kept for the account's life and numbered from 0 in
// the order they happened, which is also time order: the activity stream
// (GET /v2beta1/events/activities) reads them by number.
func (a *Account) ActivityCount() int { return a.nFills }

// ActivityAt returns activity i, 0 <= i < ActivityCount().
func (a *Account) ActivityAt(i int) Activity { return a.fill(i).activity() }

// FirstActivityFrom returns the number of the first activity at or after
// t (ActivityCount() when there is none).
func (a *Account) FirstActivityFrom(t time.Time) int {
	st := Stamp(t)
	return sort.Search(a.nFills, func(i int) bool { return a.fill(i).t >= st })
}
