package sim

import (
	"cmp"
	"container/heap"
	"math"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/quantum-alpaca/quantum/alpaca"
	"github.com/quantum-alpaca/quantum/sim/match"
)

// The REST listing of activities, over one account or over every
// customer of the Broker API firm (issue 9). Each account's activities
// are its deposit (CSD), its engine activities (FILL, CFEE) and the ones
// the broker books on it (account.booked): the SPLIT and DIV of
// corporate actions, the JNLC of cash journals, the CSD and CSW of
// transfers. They are listed in the order of their time to the
// millisecond (the time in their id); within a millisecond, in the order
// they were recorded (the mirror in descending order), which is the
// order of the activity stream. Firm-wide, the accounts' listings are
// merged by time, and activities of one millisecond in several accounts
// are ordered by account id, so that each account's own listing is a
// subsequence of the firm's.
//
// No list is copied: each account is read in place through a cursor, the
// deposit and engine activities by number, the booked ones from the
// account's own slice, and a heap merges the cursors. A page of k
// activities over A accounts with n activities each costs O(A log n) to
// place the cursors (time window and page_token by binary search, under
// each account's lock in turn), O(A) more to find a page_token's account
// (unless it is a deposit's, which names it), then O(k log A) to merge,
// plus whatever activities a type filter skips. Nothing is held between
// pages.

// actFilter is what an activity listing keeps.
type actFilter struct {
	// types are the activity types kept, nil for all; trade and
	// nonTrade narrow them to FILL, or to all but FILL (category).
	types           map[string]bool
	trade, nonTrade bool
	// after and until bound the activities' times, both excluded; zero
	// is no bound.
	after, until time.Time
	asc          bool
	size         int
	token        string
}

// keeps reports whether f keeps activities of type typ.
func (f *actFilter) keeps(typ string) bool {
	if f.trade && typ != "FILL" || f.nonTrade && typ == "FILL" {
		return false
	}
	return f.types == nil || f.types[typ]
}

// bookedTypes are the types of the activities an account's booked list
// holds.
var bookedTypes = []string{"SPLIT", "DIV", "JNLC", "CSD", "CSW"}

// parseActFilter reads the listing's parameters: the type (path) or
// activity_types, category, direction, page_size, page_token, and after
// and until or date. It answers the request itself when one is invalid.
// With unpaged, a date lifts page_size's maximum of 100 and its default
// is every activity of the day, as the Broker API's route does
// (broker.yaml: "If date is specified, the default behavior is to return
// all results, and there is no maximum page size").
func parseActFilter(w http.ResponseWriter, r *http.Request, unpaged bool) (actFilter, bool) {
	q := r.URL.Query()
	f := actFilter{token: q.Get("page_token")}
	types := q.Get("activity_types")
	if t := r.PathValue("type"); t != "" {
		types = t
	}
	if types != "" {
		f.types = map[string]bool{}
		for _, t := range strings.Split(types, ",") {
			switch t = strings.ToUpper(strings.TrimSpace(t)); t {
			case "TRANS": // cash transactions, in and out
				f.types["CSD"], f.types["CSW"] = true, true
			case "FEE":
				f.types["CFEE"] = true
			default:
				f.types[t] = true
			}
		}
	}
	switch q.Get("category") {
	case "trade_activity":
		f.trade = true
	case "non_trade_activity":
		f.nonTrade = true
	}
	maxSize, defSize := 100, 100
	if unpaged && q.Get("date") != "" {
		maxSize, defSize = math.MaxInt, math.MaxInt
	}
	var ok bool
	if f.size, ok = queryInt(w, q, "page_size", 1, maxSize); !ok {
		return f, false
	}
	if f.size == 0 {
		f.size = defSize
	}
	switch q.Get("direction") {
	case "", "desc":
	case "asc":
		f.asc = true
	default:
		invalid(w, "invalid direction: must be asc or desc")
		return f, false
	}
	if f.after, f.until, ok = queryWindow(w, q); !ok {
		return f, false
	}
	if v := q.Get("date"); v != "" {
		if f.after, f.until, ok = activityDay(w, v); !ok {
			return f, false
		}
	}
	return f, true
}

// activityDay is the window of an activities query's date: the New York
// day it names, given as YYYY-MM-DD or as a time in it
// (YYYY-MM-DDTHH:MM:SSZ), both of which Alpaca's specs accept.
func activityDay(w http.ResponseWriter, v string) (after, until time.Time, ok bool) {
	d, err := parseDate(v)
	if err != nil {
		invalid(w, "invalid date: expected YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ")
		return after, until, false
	}
	return d.Add(-time.Nanosecond), d.AddDate(0, 0, 1), true
}

// actKey places an activity in the listing's ascending order.
type actKey struct {
	ms   int64  // the time in its id
	acct string // its account's id
	// pos, booked and idx order an account's activities of one
	// millisecond as they were recorded: base item j is (j, false, j),
	// booked item k, recorded after the engine's first n activities
	// (base items up to n), is (n, true, k).
	pos    int
	booked bool
	idx    int
}

func (k actKey) compare(o actKey) int {
	if c := cmp.Compare(k.ms, o.ms); c != 0 {
		return c
	}
	if c := strings.Compare(k.acct, o.acct); c != 0 {
		return c
	}
	if c := cmp.Compare(k.pos, o.pos); c != 0 {
		return c
	}
	if k.booked != o.booked {
		if k.booked {
			return 1
		}
		return -1
	}
	return cmp.Compare(k.idx, o.idx)
}

// actCursor reads one account's activities still to list: base items
// [b0, b1), base item 0 being the deposit and base item j the engine's
// activity j-1, and booked items [c0, c1) of booked, the account's as the
// listing began. Its methods are called with a.mu held.
type actCursor struct {
	a      *account
	booked []bookedActivity
	b0, b1 int
	c0, c1 int
	head   actKey // the next to list; valid while !done()
}

func (c *actCursor) baseTime(j int) time.Time {
	if j == 0 {
		return c.a.created.UTC()
	}
	return c.a.eng.ActivityAt(j - 1).Time.Time()
}

func (c *actCursor) baseKey(j int) actKey {
	return actKey{ms: c.baseTime(j).UnixMilli(), acct: c.a.id, pos: j, idx: j}
}

func (c *actCursor) bookedKey(k int) actKey {
	b := &c.booked[k]
	return actKey{ms: b.at.UnixMilli(), acct: c.a.id, pos: b.after, booked: true, idx: k}
}

func (c *actCursor) done() bool { return c.b0 >= c.b1 && c.c0 >= c.c1 }

// newActCursor places a cursor on a's activities that f keeps, after (in
// f's direction) the activity of key from, if any. The caller holds a.mu.
func newActCursor(a *account, f *actFilter, from *actKey) *actCursor {
	c := &actCursor{a: a, booked: a.booked[:len(a.booked):len(a.booked)]}
	c.b1, c.c1 = 1+a.eng.ActivityCount(), len(c.booked)
	// Kinds the filter drops altogether.
	if !f.keeps("CSD") {
		c.b0 = 1
	}
	if !f.keeps("FILL") && !f.keeps("CFEE") {
		c.b1 = min(c.b1, 1)
	}
	if !slices.ContainsFunc(bookedTypes, f.keeps) {
		c.c1 = 0
	}
	// The time window: times grow with the number.
	n, m := c.b1, c.c1
	if !f.after.IsZero() {
		c.b0 = max(c.b0, sort.Search(n, func(j int) bool { return c.baseTime(j).After(f.after) }))
		c.c0 = sort.Search(m, func(k int) bool { return c.booked[k].at.After(f.after) })
	}
	if !f.until.IsZero() {
		c.b1 = sort.Search(n, func(j int) bool { return !c.baseTime(j).Before(f.until) })
		c.c1 = sort.Search(m, func(k int) bool { return !c.booked[k].at.Before(f.until) })
	}
	if from != nil {
		if f.asc {
			c.b0 = max(c.b0, sort.Search(n, func(j int) bool { return c.baseKey(j).compare(*from) > 0 }))
			c.c0 = max(c.c0, sort.Search(m, func(k int) bool { return c.bookedKey(k).compare(*from) > 0 }))
		} else {
			c.b1 = min(c.b1, sort.Search(n, func(j int) bool { return c.baseKey(j).compare(*from) >= 0 }))
			c.c1 = min(c.c1, sort.Search(m, func(k int) bool { return c.bookedKey(k).compare(*from) >= 0 }))
		}
	}
	c.settle(f)
	return c
}

// keepBase and keepBooked report whether f keeps base item j, booked
// item k.
func (c *actCursor) keepBase(f *actFilter, j int) bool {
	if j == 0 {
		return f.keeps("CSD")
	}
	fill, fee := f.keeps("FILL"), f.keeps("CFEE")
	if fill && fee {
		return true
	}
	isFee := c.a.eng.ActivityAt(j - 1).Fee
	return isFee && fee || !isFee && fill
}

func (c *actCursor) keepBooked(f *actFilter, k int) bool {
	return f.keeps(c.booked[k].act.ActivityType)
}

// settle skips the items f drops at the end the listing reads from and
// sets head.
func (c *actCursor) settle(f *actFilter) {
	if f.asc {
		for c.b0 < c.b1 && !c.keepBase(f, c.b0) {
			c.b0++
		}
		for c.c0 < c.c1 && !c.keepBooked(f, c.c0) {
			c.c0++
		}
	} else {
		for c.b0 < c.b1 && !c.keepBase(f, c.b1-1) {
			c.b1--
		}
		for c.c0 < c.c1 && !c.keepBooked(f, c.c1-1) {
			c.c1--
		}
	}
	if c.done() {
		return
	}
	var bk, ck actKey
	hasB, hasC := c.b0 < c.b1, c.c0 < c.c1
	if f.asc {
		if hasB {
			bk = c.baseKey(c.b0)
		}
		if hasC {
			ck = c.bookedKey(c.c0)
		}
	} else {
		if hasB {
			bk = c.baseKey(c.b1 - 1)
		}
		if hasC {
			ck = c.bookedKey(c.c1 - 1)
		}
	}
	switch {
	case !hasC:
		c.head = bk
	case !hasB:
		c.head = ck
	case f.asc == (bk.compare(ck) < 0):
		c.head = bk
	default:
		c.head = ck
	}
}

// take returns the head activity and moves past it.
func (c *actCursor) take(f *actFilter) alpaca.Activity {
	var out alpaca.Activity
	switch k := c.head; {
	case k.booked:
		out = c.booked[k.idx].act
		if f.asc {
			c.c0++
		} else {
			c.c1--
		}
	default:
		if k.idx == 0 {
			out = depositActivity(c.a, depositID(c.a))
		} else {
			act := c.a.eng.ActivityAt(k.idx - 1)
			out = restActivity(&act)
		}
		if f.asc {
			c.b0++
		} else {
			c.b1--
		}
	}
	c.settle(f)
	return out
}

// depositID is the id of a's deposit activity.
func depositID(a *account) string {
	return a.created.UTC().Format("20060102150405000") + "::" + a.id
}

// findActivity returns the key of a's activity of id, whichever its kind.
// The caller holds a.mu.
func findActivity(a *account, id string) (actKey, bool) {
	t := activityTime(id)
	_, tail, _ := strings.Cut(id, "::")
	if t.IsZero() || tail == "" {
		return actKey{}, false
	}
	ms := t.UnixMilli()
	c := &actCursor{a: a, booked: a.booked}
	if id == depositID(a) {
		return c.baseKey(0), true
	}
	if u, ok := match.ParseUUID(tail); ok {
		n := 1 + a.eng.ActivityCount()
		for j := sort.Search(n, func(j int) bool { return c.baseTime(j).UnixMilli() >= ms }); j < n; j++ {
			if j == 0 {
				continue
			}
			act := a.eng.ActivityAt(j - 1)
			if act.Time.Time().UnixMilli() != ms {
				break
			}
			if act.ExecutionID == u {
				return c.baseKey(j), true
			}
		}
	}
	for k := sort.Search(len(c.booked), func(k int) bool { return c.booked[k].at.UnixMilli() >= ms }); k < len(c.booked); k++ {
		if c.booked[k].at.UnixMilli() != ms {
			break
		}
		if c.booked[k].act.ID == id {
			return c.bookedKey(k), true
		}
	}
	return actKey{}, false
}

// listedActivity is an activity of a listing and its account.
type listedActivity struct {
	alpaca.Activity
	AccountID string `json:"account_id"`
}

// actHeap merges cursors by their heads, in the listing's direction.
type actHeap struct {
	cs  []*actCursor
	asc bool
}

func (h *actHeap) Len() int { return len(h.cs) }
func (h *actHeap) Less(i, j int) bool {
	if h.asc {
		return h.cs[i].head.compare(h.cs[j].head) < 0
	}
	return h.cs[i].head.compare(h.cs[j].head) > 0
}
func (h *actHeap) Swap(i, j int) { h.cs[i], h.cs[j] = h.cs[j], h.cs[i] }
func (h *actHeap) Push(x any)    { h.cs = append(h.cs, x.(*actCursor)) }
func (h *actHeap) Pop() any {
	c := h.cs[len(h.cs)-1]
	h.cs = h.cs[:len(h.cs)-1]
	return c
}

// listActivities answers one page of the activities of accts that f
// keeps, in f's order; an invalid page_token gets 422. A page_token that
// names a deposit finds its account at once; any other is looked for in
// each account in turn.
func listActivities(w http.ResponseWriter, f *actFilter, accts []*account) ([]listedActivity, bool) {
	var from *actKey
	if f.token != "" {
		_, tail, _ := strings.Cut(f.token, "::")
		if i := slices.IndexFunc(accts, func(a *account) bool { return a.id == tail }); i > 0 {
			accts[0], accts[i] = accts[i], accts[0] // look there first
		}
		for _, a := range accts {
			a.mu.Lock()
			k, ok := findActivity(a, f.token)
			a.mu.Unlock()
			if ok {
				from = &k
				break
			}
		}
		if from == nil {
			invalid(w, "invalid page_token")
			return nil, false
		}
	}
	h := &actHeap{asc: f.asc}
	for _, a := range accts {
		a.mu.Lock()
		c := newActCursor(a, f, from)
		a.mu.Unlock()
		if !c.done() {
			h.cs = append(h.cs, c)
		}
	}
	heap.Init(h)
	out := make([]listedActivity, 0, min(f.size, 16))
	for len(out) < f.size && h.Len() > 0 {
		c := h.cs[0]
		c.a.mu.Lock()
		act := c.take(f)
		c.a.mu.Unlock()
		out = append(out, listedActivity{Activity: act, AccountID: c.a.id})
		if c.done() {
			heap.Pop(h)
		} else {
			heap.Fix(h, 0)
		}
	}
	return out, true
}

// getAccountActivities serves GET /v2/account/activities[/{type}]: the
// fills, fees and deposit of getActivities, merged with the activities
// booked on the account (SPLIT and DIV of corporate actions; a Trading
// API account has no journals or transfers) in time order. Without any
// booked it is getActivities itself; with some it is listActivities over
// the account, whose order is getActivities' with each booked activity
// among the others of its millisecond as it was recorded.
func (s *Server) getAccountActivities(w http.ResponseWriter, r *http.Request, a *account) {
	a.mu.Lock()
	n := len(a.booked)
	a.mu.Unlock()
	if n == 0 {
		s.getActivities(w, r, a)
		return
	}
	f, ok := parseActFilter(w, r, false)
	if !ok {
		return
	}
	list, ok := listActivities(w, &f, []*account{a})
	if !ok {
		return
	}
	out := make([]alpaca.Activity, len(list))
	for i := range list {
		out[i] = list[i].Activity
	}
	writeJSON(w, http.StatusOK, out)
}
