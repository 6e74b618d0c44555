// Package memjournal is a trading.Journal (and trading.StateStore) held in
// memory: the journal a backtest runs on. It keeps the contract the SQL
// journals keep (validation, per-tenant isolation, duplicate-fill and
// duplicate-intent rules, sequences, paging), checked by the same
// conformance suite, so a strategy backtested on it meets the same journal
// semantics as live; it is "durable" only for the life of its Storage.
package memjournal

import (
	"context"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/quantum-alpaca/quantum/trading"
)

// Storage is what survives a Journal's Close: open another Journal on it to
// simulate a restart.
type Storage struct {
	mu      sync.Mutex
	tenants map[trading.TenantID]*tenantLog
	states  map[trading.TenantID]trading.TradingState
}

// NewStorage returns empty storage.
func NewStorage() *Storage {
	return &Storage{tenants: map[trading.TenantID]*tenantLog{}, states: map[trading.TenantID]trading.TradingState{}}
}

type tenantLog struct {
	seq    uint64
	events []trading.Event
	orders map[string]*trading.OrderState
	bySeq  []*trading.OrderState // in sequence order
	seqs   map[uint64]bool
	execs  map[string]map[string]bool // client order id -> execution ids
}

// Journal is a trading.Journal over a Storage.
type Journal struct {
	s      *Storage
	now    func() time.Time
	closed bool // guarded by s.mu
}

// Open returns a Journal on s; now stamps events appended without a time
// (nil: time.Now).
func Open(s *Storage, now func() time.Time) *Journal {
	if now == nil {
		now = time.Now
	}
	return &Journal{s: s, now: now}
}

// New returns a Journal on fresh storage.
func New(now func() time.Time) *Journal { return Open(NewStorage(), now) }

func (j *Journal) lock(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	j.s.mu.Lock()
	if j.closed {
		j.s.mu.Unlock()
		return trading.ErrJournalClosed
	}
	return nil
}

func (j *Journal) tenant(id trading.TenantID) *tenantLog {
	t := j.s.tenants[id]
	if t == nil {
		t = &tenantLog{orders: map[string]*trading.OrderState{}, seqs: map[uint64]bool{}, execs: map[string]map[string]bool{}}
		j.s.tenants[id] = t
	}
	return t
}

// check refuses events that would duplicate an order or sequence, or
// refer to an order neither stored nor created earlier in the same call.
// It is a dry run, so that a refused call changes nothing.
func (j *Journal) check(events []trading.Event) error {
	if len(events) == 1 {
		// The common case, without the bookkeeping of a batch.
		e := &events[0]
		t := j.s.tenants[e.Tenant]
		known := t != nil && t.orders[e.ClientOrderID] != nil
		if e.Intent != nil {
			if known || t != nil && t.seqs[e.Intent.Seq] {
				return trading.Errorf(trading.ECONFLICT, "Order %q or sequence %d already exists.", e.ClientOrderID, e.Intent.Seq)
			}
			return nil
		}
		if !known {
			return trading.Errorf(trading.ENOTFOUND, "Order %q not found.", e.ClientOrderID)
		}
		return nil
	}
	// New orders and sequences this call creates, so that a later event
	// in the same call may refer to an earlier one.
	created := map[trading.TenantID]map[string]bool{}
	seqs := map[trading.TenantID]map[uint64]bool{}
	for _, e := range events {
		t := j.s.tenants[e.Tenant]
		have := func(cid string) bool {
			if created[e.Tenant][cid] {
				return true
			}
			return t != nil && t.orders[cid] != nil
		}
		if e.Intent != nil {
			if have(e.ClientOrderID) || seqs[e.Tenant][e.Intent.Seq] || t != nil && t.seqs[e.Intent.Seq] {
				return trading.Errorf(trading.ECONFLICT, "Order %q or sequence %d already exists.", e.ClientOrderID, e.Intent.Seq)
			}
			if created[e.Tenant] == nil {
				created[e.Tenant], seqs[e.Tenant] = map[string]bool{}, map[uint64]bool{}
			}
			created[e.Tenant][e.ClientOrderID] = true
			seqs[e.Tenant][e.Intent.Seq] = true
			continue
		}
		if !have(e.ClientOrderID) {
			return trading.Errorf(trading.ENOTFOUND, "Order %q not found.", e.ClientOrderID)
		}
	}
	return nil
}

// Append implements trading.Journal: every event is checked before any is
// applied, so a call is all or nothing.
func (j *Journal) Append(ctx context.Context, events ...trading.Event) error {
	if len(events) == 0 {
		return ctx.Err()
	}
	for i := range events {
		if err := events[i].Validate(); err != nil {
			return err
		}
	}
	if err := j.lock(ctx); err != nil {
		return err
	}
	defer j.s.mu.Unlock()
	if err := j.check(events); err != nil {
		return err
	}
	now := j.now()
	for _, e := range events {
		t := j.tenant(e.Tenant)
		if e.Time.IsZero() {
			e.Time = now
		}
		if e.Kind == trading.EventFill && e.ExecutionID != "" {
			seen := t.execs[e.ClientOrderID]
			if seen[e.ExecutionID] {
				continue
			}
			if seen == nil {
				seen = map[string]bool{}
				t.execs[e.ClientOrderID] = seen
			}
			seen[e.ExecutionID] = true
		}
		e.ID = uint64(len(t.events)) + 1
		if e.Intent != nil {
			in := *e.Intent
			if in.CreatedAt.IsZero() {
				in.CreatedAt = e.Time
			}
			e.Intent = &in
			st := trading.NewOrderState(in, e.Time)
			t.orders[e.ClientOrderID] = &st
			t.seqs[in.Seq] = true
			t.bySeq = append(t.bySeq, &st)
			if in.Seq > t.seq {
				t.seq = in.Seq
			}
		}
		t.orders[e.ClientOrderID].Apply(e)
		t.events = append(t.events, e)
	}
	return nil
}

// NextSequence implements trading.Journal.
func (j *Journal) NextSequence(ctx context.Context, tenant trading.TenantID) (uint64, error) {
	if err := tenant.Validate(); err != nil {
		return 0, err
	}
	if err := j.lock(ctx); err != nil {
		return 0, err
	}
	defer j.s.mu.Unlock()
	t := j.tenant(tenant)
	t.seq++
	return t.seq, nil
}

// OpenOrders implements trading.Journal.
func (j *Journal) OpenOrders(ctx context.Context, tenant trading.TenantID) ([]trading.OrderState, error) {
	if err := tenant.Validate(); err != nil {
		return nil, err
	}
	if err := j.lock(ctx); err != nil {
		return nil, err
	}
	defer j.s.mu.Unlock()
	var out []trading.OrderState
	if t := j.s.tenants[tenant]; t != nil {
		for _, st := range t.bySeq {
			if !st.Terminal {
				out = append(out, *st)
			}
		}
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].Intent.Seq < out[b].Intent.Seq })
	return out, nil
}

// Order implements trading.Journal.
func (j *Journal) Order(ctx context.Context, tenant trading.TenantID, clientOrderID string) (trading.OrderState, error) {
	if err := tenant.Validate(); err != nil {
		return trading.OrderState{}, err
	}
	if err := j.lock(ctx); err != nil {
		return trading.OrderState{}, err
	}
	defer j.s.mu.Unlock()
	if t := j.s.tenants[tenant]; t != nil {
		if st := t.orders[clientOrderID]; st != nil {
			return *st, nil
		}
	}
	return trading.OrderState{}, trading.Errorf(trading.ENOTFOUND, "Order %q not found.", clientOrderID)
}

// Orders implements trading.Journal.
func (j *Journal) Orders(ctx context.Context, f trading.OrderFilter) ([]trading.OrderState, error) {
	if err := f.TenantID.Validate(); err != nil {
		return nil, err
	}
	if f.Status != "" && !f.Status.Valid() {
		return nil, trading.Errorf(trading.EINVALID, "Invalid status %q.", f.Status)
	}
	if err := j.lock(ctx); err != nil {
		return nil, err
	}
	defer j.s.mu.Unlock()
	t := j.s.tenants[f.TenantID]
	if t == nil {
		return nil, nil
	}
	all := slices.Clone(t.bySeq)
	sort.SliceStable(all, func(a, b int) bool { return all[a].Intent.Seq > all[b].Intent.Seq })
	limit := trading.ListLimit(f.Limit)
	var out []trading.OrderState
	for _, st := range all {
		if f.Symbol != "" && st.Intent.Symbol != f.Symbol || f.Status != "" && st.Status != f.Status ||
			!f.Since.IsZero() && st.Intent.CreatedAt.Before(f.Since) {
			continue
		}
		out = append(out, *st)
		if len(out) == limit {
			break
		}
	}
	return out, nil
}

// Events implements trading.Journal.
func (j *Journal) Events(ctx context.Context, tenant trading.TenantID, afterID uint64, limit int) ([]trading.Event, error) {
	if err := tenant.Validate(); err != nil {
		return nil, err
	}
	if err := j.lock(ctx); err != nil {
		return nil, err
	}
	defer j.s.mu.Unlock()
	t := j.s.tenants[tenant]
	if t == nil || afterID >= uint64(len(t.events)) {
		return nil, nil
	}
	evs := t.events[afterID:]
	if n := trading.ListLimit(limit); len(evs) > n {
		evs = evs[:n]
	}
	return slices.Clone(evs), nil
}

// Count implements trading.Journal.
func (j *Journal) Count(ctx context.Context, tenant trading.TenantID) (int, error) {
	if err := tenant.Validate(); err != nil {
		return 0, err
	}
	if err := j.lock(ctx); err != nil {
		return 0, err
	}
	defer j.s.mu.Unlock()
	if t := j.s.tenants[tenant]; t != nil {
		return len(t.orders), nil
	}
	return 0, nil
}

// Placed implements trading.Journal.
func (j *Journal) Placed(ctx context.Context, tenant trading.TenantID) (int, error) {
	if err := tenant.Validate(); err != nil {
		return 0, err
	}
	if err := j.lock(ctx); err != nil {
		return 0, err
	}
	defer j.s.mu.Unlock()
	n := 0
	if t := j.s.tenants[tenant]; t != nil {
		for _, st := range t.bySeq {
			if st.Status != trading.StatusRiskRejected {
				n++
			}
		}
	}
	return n, nil
}

// SetTradingState implements trading.StateStore.
func (j *Journal) SetTradingState(ctx context.Context, id trading.TenantID, s trading.TradingState) error {
	if err := id.Validate(); err != nil {
		return err
	}
	if !s.Valid() {
		return trading.Errorf(trading.EINVALID, "Invalid trading state %q.", s)
	}
	if err := j.lock(ctx); err != nil {
		return err
	}
	defer j.s.mu.Unlock()
	j.s.states[id] = s
	return nil
}

// TradingStates implements trading.StateStore.
func (j *Journal) TradingStates(ctx context.Context) (map[trading.TenantID]trading.TradingState, error) {
	if err := j.lock(ctx); err != nil {
		return nil, err
	}
	defer j.s.mu.Unlock()
	out := make(map[trading.TenantID]trading.TradingState, len(j.s.states))
	for id, s := range j.s.states {
		out[id] = s
	}
	return out, nil
}

// Close implements trading.Journal.
func (j *Journal) Close() error {
	j.s.mu.Lock()
	defer j.s.mu.Unlock()
	j.closed = true
	return nil
}
