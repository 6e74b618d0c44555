package sqljournal

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/quantum-alpaca/quantum/trading"
)

// The pipelined commit (issue 8, item 2), for dialects with Dialect.Send
// and arrays (PostgreSQL).
//
// Statement by statement, a batch of n intents costs about n+2 round
// trips to a database server, and the round trips, not the server's work,
// bound the rate. Here a batch costs two:
//
//  1. BEGIN; read the batch's tenant_sequences rows; read the orders that
//     already hold one of the intents' client order ids or sequence
//     numbers.
//  2. Insert every new order and its intent event (one multi-row INSERT
//     each, from arrays); save trading states; upsert the tenant rows;
//     COMMIT.
//
// The duplicate check happens in Go between the two, against what (1)
// read and what earlier intents of the batch took, so a request that
// fails with ECONFLICT writes nothing and does not fail its neighbours;
// event ids are assigned in request order as in the other path. The
// inserts carry no ON CONFLICT clause: if the check was wrong (another
// process writing the tenant, which is not supported), they fail, the
// whole transaction rolls back and the writer redoes the batch request
// by request, where each request's error is its own.
//
// Requests other than single intents (events of existing orders, which
// need the order's state; multi-event requests, which need a savepoint)
// take the statement-by-statement path inside the same transaction,
// after the intents queued before them are sent, so they see them.
//
// One round trip: when a batch holds only intents and trading states, of
// tenants whose rows the last committed batch left in j.known, (1) is
// skipped: BEGIN goes with the writes, and the duplicate check relies on
// the inserts alone (an intent that collides fails the transaction, and
// the batch is redone request by request, where it gets its ECONFLICT;
// fresh intents, the normal case, never collide). A row from j.known may
// be stale only if another process wrote the tenant, and then the event
// ids collide too, with the same result. Sequence reservations always
// read the row, so that GREATEST(reserved) never lets two processes hand
// out one number. j.known is emptied whenever a batch fails. Where the
// store gives the writer a second connection (Conns.Overlap), such a batch
// is committed in two steps instead, overlapping the batch before it
// (overlap.go), and j.known then also holds the rows of the batch in
// flight.

// pipeQueries are the pipelined path's statements, written once.
type pipeQueries struct {
	tenants, taken        string
	insertOrders          string
	insertEvents          string
	upsertTenants, upsert string // upsert: one trading state
}

func newPipeQueries(d Dialect) pipeQueries {
	if d.Send == nil {
		return pipeQueries{}
	}
	return pipeQueries{
		tenants: d.rebind(`SELECT tenant, seq_reserved, last_event_id FROM tenant_sequences
			WHERE tenant = ANY(?::text[])`),
		// Two lookups, each on a unique index, rather than one with OR.
		taken: d.rebind(`SELECT o.tenant, o.client_order_id, o.seq FROM orders o
				JOIN unnest(?::text[], ?::text[]) AS k(tenant, id) ON o.tenant = k.tenant AND o.client_order_id = k.id
			UNION ALL
			SELECT o.tenant, o.client_order_id, o.seq FROM orders o
				JOIN unnest(?::text[], ?::bigint[]) AS k(tenant, seq) ON o.tenant = k.tenant AND o.seq = k.seq`),
		// unnest in the select list, one per column, rather than one
		// unnest(a, b, ...) in FROM: the server streams the rows instead
		// of first copying them all into a tuplestore, about 14% less
		// server time per row (docs/benchmarks.md, 2026-12-05).
		insertOrders: d.rebind(`INSERT INTO orders (` + orderColumns + `) SELECT ` +
			arrayParams(orderArgs(&trading.OrderState{}))),
		insertEvents: d.rebind(`INSERT INTO events (` + eventColumns + `) SELECT ` +
			arrayParams(eventArgs(&trading.Event{}))),
		upsertTenants: d.rebind(`INSERT INTO tenant_sequences (tenant, seq_reserved, last_event_id)
			SELECT * FROM unnest(?::text[], ?::bigint[], ?::bigint[])
			ON CONFLICT (tenant) DO UPDATE SET
				seq_reserved = ` + d.Greatest + `(tenant_sequences.seq_reserved, excluded.seq_reserved),
				last_event_id = excluded.last_event_id`),
		upsert: d.rebind(upsertStateSQL),
	}
}

// arrayParams returns "unnest(?::text[]), unnest(?::bigint[]), ..." typed
// after a row of arguments. The arrays of one statement are equally long,
// so the unnests run in step, one row per element.
func arrayParams(row []any) string {
	ps := make([]string, len(row))
	for i, v := range row {
		switch v.(type) {
		case string:
			ps[i] = "unnest(?::text[])"
		case int64:
			ps[i] = "unnest(?::bigint[])"
		case bool:
			ps[i] = "unnest(?::boolean[])"
		default:
			panic(fmt.Sprintf("sqljournal: no array type for %T", v))
		}
	}
	return strings.Join(ps, ", ")
}

// columns turns rows into one typed array per column, the arguments of
// an unnest insert; it is the rowWriter writeOrder and writeEvent fill,
// one row after the other.
type columns struct {
	cols []any // each a *[]string, *[]int64 or *[]bool, made by the first row
	i    int   // the column the next value goes to
}

// next returns the column the next value goes to, made with mk if this
// is the first row.
func (c *columns) next(mk func() any) any {
	if c.i == len(c.cols) {
		c.cols = append(c.cols, mk())
	}
	c.i++
	return c.cols[c.i-1]
}

func (c *columns) text(v string) {
	col := c.next(func() any { return new([]string) }).(*[]string)
	*col = append(*col, v)
}

func (c *columns) int(v int64) {
	col := c.next(func() any { return new([]int64) }).(*[]int64)
	*col = append(*col, v)
}

func (c *columns) bool(v bool) {
	col := c.next(func() any { return new([]bool) }).(*[]bool)
	*col = append(*col, v)
}

// end ends a row.
func (c *columns) end() { c.i = 0 }

func (c *columns) args() []any {
	out := make([]any, len(c.cols))
	for i, col := range c.cols {
		switch col := col.(type) {
		case *[]string:
			out[i] = *col
		case *[]int64:
			out[i] = *col
		case *[]bool:
			out[i] = *col
		}
	}
	return out
}

// takenKey is a client order id (seq 0) or a sequence number (id "")
// some order of the tenant holds.
type takenKey struct {
	tenant trading.TenantID
	id     string
	seq    uint64
}

// pipe collects the statements of the round trip to come.
type pipe struct {
	j              *Journal
	orders, events *columns
	stmts          []Stmt
}

// take returns the statements queued so far, the inserts first, and
// empties the pipe.
func (p *pipe) take() []Stmt {
	var out []Stmt
	if p.orders != nil {
		out = append(out, Stmt{SQL: p.j.pq.insertOrders, Args: p.orders.args()},
			Stmt{SQL: p.j.pq.insertEvents, Args: p.events.args()})
	}
	out = append(out, p.stmts...)
	p.orders, p.events, p.stmts = nil, nil, nil
	return out
}

// flush sends what is queued, so that the statements to follow see it.
func (p *pipe) flush(ctx context.Context) error {
	stmts := p.take()
	if len(stmts) == 0 {
		return nil
	}
	if err := p.j.d.Send(ctx, p.j.c.WriteConn, stmts); err != nil {
		return p.j.internal("insert intents", err)
	}
	p.j.progress.Add(1)
	return nil
}

// pipelinable reports whether r takes the pipelined intent path.
func pipelinable(r *request) bool {
	return len(r.events) == 1 && r.events[0].Kind == trading.EventIntent
}

func (j *Journal) commitPipelined(batch []*request) (results []error, sent bool, err error) {
	ctx := context.Background() // never canceled: see writer.go
	results = make([]error, len(batch))
	b := &batchState{now: j.Now().UTC(), tenants: make(map[trading.TenantID]*tenantRow)}

	// Round trip 1: what the batch needs to know.
	var tenants, keyTenants, keyIDs []string
	var keySeqs []int64
	seen := make(map[trading.TenantID]bool)
	addTenant := func(t trading.TenantID) {
		if t != "" && !seen[t] {
			seen[t] = true
			tenants = append(tenants, string(t))
		}
	}
	for _, r := range batch {
		addTenant(r.reserve)
		for _, e := range r.events {
			addTenant(e.Tenant)
		}
		if pipelinable(r) {
			in := r.events[0].Intent
			keyTenants = append(keyTenants, string(in.Tenant))
			keyIDs = append(keyIDs, in.ClientOrderID)
			keySeqs = append(keySeqs, int64(in.Seq))
		}
	}
	taken := make(map[takenKey]bool)
	first := []Stmt{{SQL: j.d.Begin}}
	if j.oneTrip(batch) {
		// Only tenants known: those of requests whose context has ended
		// may not be, and must not be recorded as having no rows.
		for _, t := range tenants {
			if row, ok := j.known[trading.TenantID(t)]; ok {
				b.tenants[trading.TenantID(t)] = &row
			}
		}
		tenants, keyTenants = nil, nil
	}
	if len(tenants) > 0 {
		first = append(first, Stmt{SQL: j.pq.tenants, Args: []any{tenants},
			Row: func(scan func(...any) error) error {
				var tenant string
				var seq, last int64
				if err := scan(&tenant, &seq, &last); err != nil {
					return err
				}
				b.tenants[trading.TenantID(tenant)] = &tenantRow{seqReserved: uint64(seq), lastEventID: uint64(last)}
				return nil
			}})
	}
	if len(keyTenants) > 0 {
		first = append(first, Stmt{SQL: j.pq.taken, Args: []any{keyTenants, keyIDs, keyTenants, keySeqs},
			Row: func(scan func(...any) error) error {
				var tenant, id string
				var seq int64
				if err := scan(&tenant, &id, &seq); err != nil {
					return err
				}
				taken[takenKey{tenant: trading.TenantID(tenant), id: id}] = true
				taken[takenKey{tenant: trading.TenantID(tenant), seq: uint64(seq)}] = true
				return nil
			}})
	}
	p := &pipe{j: j}
	if len(first) == 1 {
		p.stmts = first // nothing to read: BEGIN goes with the writes
	} else if err := j.d.Send(ctx, j.c.WriteConn, first); err != nil {
		return nil, false, j.internal("begin", err)
	}
	for _, t := range tenants {
		if b.tenants[trading.TenantID(t)] == nil {
			b.tenants[trading.TenantID(t)] = &tenantRow{}
		}
	}

	for i, r := range batch {
		if err := r.ctx.Err(); err != nil {
			results[i] = err
			continue
		}
		switch {
		case pipelinable(r):
			results[i] = j.pipeIntent(b, p, taken, r.events[0])
			j.progress.Add(1)
			continue
		case r.state != nil:
			p.stmts = append(p.stmts, Stmt{SQL: j.pq.upsert, Args: []any{string(r.state.tenant), string(r.state.state)}})
			continue
		case r.reserve == "":
			// An event of an existing order, or several events: the
			// statements of the other path, which read what is queued.
			if err := p.flush(ctx); err != nil {
				return nil, false, err
			}
		}
		err := j.apply(ctx, b, r)
		var derr *trading.Error
		if err != nil && !errors.As(err, &derr) {
			return nil, false, err
		}
		results[i] = err
	}

	// Round trip 2: the writes and COMMIT.
	last := p.take()
	var ts []string
	var seqs, ids []int64
	for tenant, t := range b.tenants {
		if t.dirty {
			ts = append(ts, string(tenant))
			seqs = append(seqs, int64(t.seqReserved))
			ids = append(ids, int64(t.lastEventID))
		}
	}
	if len(ts) > 0 {
		last = append(last, Stmt{SQL: j.pq.upsertTenants, Args: []any{ts, seqs, ids}})
	}
	last = append(last, Stmt{SQL: "COMMIT"})
	if err := j.d.Send(ctx, j.c.WriteConn, last); err != nil {
		return nil, true, j.internal("commit", err)
	}
	j.progress.Add(1)
	if j.known == nil {
		j.known = make(map[trading.TenantID]tenantRow)
	}
	for tenant, t := range b.tenants {
		j.known[tenant] = tenantRow{seqReserved: t.seqReserved, lastEventID: t.lastEventID}
	}
	return results, true, nil
}

// oneTrip reports whether batch can skip the reads: only intents and
// trading states, of tenants in j.known.
func (j *Journal) oneTrip(batch []*request) bool {
	if len(j.known) == 0 {
		return false
	}
	for _, r := range batch {
		switch {
		case r.ctx.Err() != nil, r.state != nil:
		case !pipelinable(r):
			return false
		default:
			if _, ok := j.known[r.events[0].Tenant]; !ok {
				return false
			}
		}
	}
	return true
}

// pipeIntent checks an intent against the orders the batch knows of and
// queues its order and event: the pipelined applyEvent of an intent.
func (j *Journal) pipeIntent(b *batchState, p *pipe, taken map[takenKey]bool, e trading.Event) error {
	if e.Time.IsZero() {
		e.Time = b.now
	}
	in := *e.Intent
	byID := takenKey{tenant: in.Tenant, id: in.ClientOrderID}
	bySeq := takenKey{tenant: in.Tenant, seq: in.Seq}
	if taken[byID] || taken[bySeq] {
		return trading.Errorf(trading.ECONFLICT, "Client order id %q or sequence %d already used.", in.ClientOrderID, in.Seq)
	}
	taken[byID], taken[bySeq] = true, true
	t := b.tenants[e.Tenant]
	e.ID = t.lastEventID + 1
	if in.CreatedAt.IsZero() {
		in.CreatedAt = e.Time
	}
	st := trading.NewOrderState(in, e.Time)
	st.Apply(e)
	if p.orders == nil {
		p.orders, p.events = &columns{}, &columns{}
	}
	writeOrder(p.orders, &st)
	p.orders.end()
	writeEvent(p.events, &e)
	p.events.end()
	if in.Seq > t.seqReserved {
		t.seqReserved = in.Seq
	}
	t.lastEventID = e.ID
	t.dirty = true
	return nil
}
