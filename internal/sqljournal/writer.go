package sqljournal

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"time"

	"github.com/quantum-alpaca/quantum/trading"
	"github.com/shopspring/decimal"
)

// Group commit.
//
// Every write (an Append, or a sequence-block reservation) is a request on
// the bounded channel reqs. The writer goroutine takes one request, then
// everything else already queued (up to MaxBatch), and commits them all in
// one transaction: one fsync for the whole batch. While it commits, new
// requests queue up, so the batch size grows by itself with load and is
// one at low load (no timer, no added latency).
//
// Each request is applied alone: a request that fails with a domain error
// (ECONFLICT, ENOTFOUND) is undone (a savepoint when it has several events,
// otherwise it fails before writing anything) and the rest of the batch
// commits. A storage error fails the whole batch, which is rolled back;
// if the connection is broken, see reconnect.go. Where the dialect can
// pipeline (Dialect.Send), intents take a faster path (pipeline.go) and
// a batch that fails there is redone request by request; with a second
// connection (Conns.Overlap), a batch of intents is inserted while the
// batch before it is still committing (overlap.go).
//
// Callers wait on their request's done channel (buffered, so the writer
// never blocks on a caller that gave up). A caller whose context ends
// returns ctx.Err() at once; its request stays queued and may still commit.
// The writer skips a request whose context had already ended when the
// batch started (its caller has gone, and nothing of it was written), and
// runs statements with its own context, so a cancellation can never
// interrupt a transaction half way.

type request struct {
	ctx    context.Context
	events []trading.Event

	// reserve, when non-empty, asks for n more sequence numbers; reserved
	// gets the highest one, valid when done reports nil.
	reserve  trading.TenantID
	n        uint64
	reserved uint64

	// state, when set, saves a tenant's trading state.
	state *stateWrite

	done chan error
}

// send queues r and waits for its batch to commit.
func (j *Journal) send(ctx context.Context, r *request) error {
	if err := j.begin(); err != nil {
		return err
	}
	select {
	case j.reqs <- r:
	case <-ctx.Done():
		j.end()
		return ctx.Err()
	}
	j.end()
	select {
	case err := <-r.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (j *Journal) run() {
	defer j.wg.Done()
	batch := make([]*request, 0, j.MaxBatch)
	for {
		if j.c.WriteConn == nil {
			if !j.runDown(batch) {
				return
			}
			continue
		}
		// With every connection carrying a batch in flight, requests
		// wait (and the next batch grows) until the oldest moves on.
		reqs := j.reqs
		if !j.canLaunch() {
			reqs = nil
		}
		select {
		case r := <-reqs:
			batch = append(batch[:0], r)
		case err := <-j.next():
			j.advance(err)
			continue
		case <-j.quit:
			// Close set the closed state before closing quit, and senders
			// queue only while holding the read lock, so nothing can be
			// added to reqs any more: drain it and stop.
			for {
				batch = batch[:0]
				j.collect(&batch)
				if len(batch) == 0 {
					j.landAll()
					return
				}
				j.commit(batch)
			}
		}
		// The callers the last commit released are runnable but have not
		// run yet; letting them queue their next requests first makes
		// this batch fuller (about a quarter more per fsync in
		// BenchmarkAppendIntent) for a few microseconds of latency.
		runtime.Gosched()
		j.collect(&batch)
		j.commit(batch)
	}
}

// collect adds queued requests to batch without waiting, up to MaxBatch.
func (j *Journal) collect(batch *[]*request) {
	for len(*batch) < j.MaxBatch {
		select {
		case r := <-j.reqs:
			*batch = append(*batch, r)
		default:
			return
		}
	}
}

// tenantRow caches a tenant_sequences row for the duration of one batch.
type tenantRow struct {
	seqReserved uint64
	lastEventID uint64
	dirty       bool
}

type batchState struct {
	now     time.Time
	tenants map[trading.TenantID]*tenantRow
}

func (j *Journal) commit(batch []*request) {
	if j.canOverlap(batch) {
		j.commitOverlapped(batch)
		return
	}
	j.landAll()
	if j.c.WriteConn == nil {
		j.fail(batch, j.unavailable(j.down))
		return
	}
	results, sent, err := j.commitOnce(batch, j.d.Send != nil)
	if err != nil && j.d.Send != nil {
		j.known = nil // what the failed batch read may not be what is stored
		if !j.alive() {
			j.lost(batch, sent, err)
			return
		}
		// The pipelined path failed on a working connection (an
		// unexpected conflict, say): nothing committed, so redo the batch
		// request by request, which isolates each request's errors.
		j.commitSerial(batch)
		return
	}
	j.settle(batch, results, sent, err)
}

// commitSerial commits batch request by request, on the main connection
// (with nothing in flight).
func (j *Journal) commitSerial(batch []*request) {
	if j.c.WriteConn == nil {
		j.fail(batch, j.unavailable(j.down))
		return
	}
	results, sent, err := j.commitOnce(batch, false)
	j.settle(batch, results, sent, err)
}

// settle reports a batch's outcome to its callers: each request's
// result if it committed; otherwise the error, as it is if the connection
// still works, and after discarding the connection if not (EUNAVAILABLE
// if COMMIT was not sent, an unknown outcome if it was).
func (j *Journal) settle(batch []*request, results []error, sent bool, err error) {
	if err != nil {
		j.known = nil
		if j.alive() {
			j.fail(batch, err)
		} else {
			j.lost(batch, sent, err)
		}
		return
	}
	j.commits.Add(1)
	for i, r := range batch {
		r.done <- results[i]
	}
}

// lost discards the broken main connection and fails batch:
// EUNAVAILABLE if its COMMIT was not sent, an unknown outcome if it was.
func (j *Journal) lost(batch []*request, sent bool, err error) {
	j.disconnect(err)
	if sent {
		j.fail(batch, j.outcomeUnknown(err))
	} else {
		j.fail(batch, j.unavailable(err))
	}
}

func (j *Journal) fail(batch []*request, err error) {
	for _, r := range batch {
		r.done <- err
	}
}

// commitOnce runs batch as one transaction, pipelined or statement by
// statement, and returns each request's result. On error the transaction
// is left for the caller to roll back, and sent tells whether COMMIT was
// sent (if the connection died, the outcome is then unknown).
func (j *Journal) commitOnce(batch []*request, pipelined bool) (results []error, sent bool, err error) {
	if pipelined {
		return j.commitPipelined(batch)
	}
	// Statements run under a context that is never canceled: see the
	// comment at the top of this file.
	ctx := context.Background()
	results = make([]error, len(batch))
	if _, err := j.stmts.begin.ExecContext(ctx); err != nil {
		return nil, false, j.internal("begin", err)
	}
	b := &batchState{now: j.Now().UTC(), tenants: make(map[trading.TenantID]*tenantRow)}
	for i, r := range batch {
		if err := r.ctx.Err(); err != nil {
			results[i] = err
			continue
		}
		err := j.apply(ctx, b, r)
		var derr *trading.Error
		if err != nil && !errors.As(err, &derr) {
			return nil, false, err
		}
		results[i] = err
	}
	for tenant, t := range b.tenants {
		if !t.dirty {
			continue
		}
		if _, err := j.stmts.upsertTenant.ExecContext(ctx, string(tenant), int64(t.seqReserved), int64(t.lastEventID)); err != nil {
			return nil, false, j.internal("update tenant sequences", err)
		}
	}
	if _, err := j.stmts.commit.ExecContext(ctx); err != nil {
		return nil, true, j.internal("commit", err)
	}
	j.progress.Add(1)
	return results, true, nil
}

func (j *Journal) apply(ctx context.Context, b *batchState, r *request) error {
	defer j.progress.Add(1)
	if r.state != nil {
		if _, err := j.stmts.upsertState.ExecContext(ctx, string(r.state.tenant), string(r.state.state)); err != nil {
			return j.internal("save trading state", err)
		}
		return nil
	}
	if r.reserve != "" {
		t, err := j.tenant(ctx, b, r.reserve)
		if err != nil {
			return err
		}
		if t.seqReserved > trading.MaxSeq-r.n {
			return trading.Errorf(trading.EINTERNAL, "Sequence numbers exhausted for tenant %q.", r.reserve)
		}
		t.seqReserved += r.n
		t.dirty = true
		r.reserved = t.seqReserved
		return nil
	}
	if len(r.events) == 1 {
		return j.applyEvent(ctx, b, r.events[0])
	}

	// Several events: all or none, which needs a savepoint and a copy of
	// the cached tenant rows to restore.
	saved := make(map[trading.TenantID]*tenantRow)
	for _, e := range r.events {
		if t, ok := b.tenants[e.Tenant]; ok {
			if _, done := saved[e.Tenant]; !done {
				c := *t
				saved[e.Tenant] = &c
			}
		}
	}
	if _, err := j.stmts.savepoint.ExecContext(ctx); err != nil {
		return j.internal("savepoint", err)
	}
	for _, e := range r.events {
		if err := j.applyEvent(ctx, b, e); err != nil {
			if _, rerr := j.stmts.rollbackTo.ExecContext(ctx); rerr != nil {
				return j.internal("rollback to savepoint", rerr)
			}
			for _, e := range r.events {
				delete(b.tenants, e.Tenant)
			}
			for tenant, t := range saved {
				b.tenants[tenant] = t
			}
			if _, rerr := j.stmts.release.ExecContext(ctx); rerr != nil {
				return j.internal("release savepoint", rerr)
			}
			return err
		}
	}
	if _, err := j.stmts.release.ExecContext(ctx); err != nil {
		return j.internal("release savepoint", err)
	}
	return nil
}

// tenant returns the batch's cached tenant_sequences row, reading it on
// first use. Reading it inside the transaction (rather than caching it
// across batches) keeps it right after a rolled-back batch.
func (j *Journal) tenant(ctx context.Context, b *batchState, id trading.TenantID) (*tenantRow, error) {
	if t, ok := b.tenants[id]; ok {
		return t, nil
	}
	var seq, last int64
	err := j.stmts.selectTenant.QueryRowContext(ctx, string(id)).Scan(&seq, &last)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, j.internal("read tenant sequences", err)
	}
	t := &tenantRow{seqReserved: uint64(seq), lastEventID: uint64(last)}
	b.tenants[id] = t
	return t, nil
}

// applyEvent writes one event and the order state it leads to. Domain
// errors are detected before anything is written, so a single-event
// request needs no savepoint.
func (j *Journal) applyEvent(ctx context.Context, b *batchState, e trading.Event) error {
	if e.Time.IsZero() {
		e.Time = b.now
	}
	t, err := j.tenant(ctx, b, e.Tenant)
	if err != nil {
		return err
	}
	e.ID = t.lastEventID + 1

	// An intent needs no read: the insert's conflict check is the
	// duplicate check, which keeps the hot path at two statements.
	creates := e.Kind == trading.EventIntent
	var st trading.OrderState
	if !creates {
		var found bool
		if st, found, err = j.loadOrder(ctx, e.Tenant, e.ClientOrderID); err != nil {
			return err
		}
		switch {
		case !found && e.Kind == trading.EventRiskRejected && e.Intent != nil:
			creates = true
		case !found:
			return trading.Errorf(trading.ENOTFOUND, "Order %q not found.", e.ClientOrderID)
		}
	}

	if creates {
		in := *e.Intent
		if in.CreatedAt.IsZero() {
			in.CreatedAt = e.Time
		}
		st = trading.NewOrderState(in, e.Time)
		st.Apply(e)
		// Where the dialect can, order and event go in one statement: one
		// round trip to a server across a network instead of two.
		stmt, args := j.stmts.insertOrder, orderArgs(&st)
		if j.stmts.insertOrderEvent != nil {
			stmt, args = j.stmts.insertOrderEvent, append(args, eventArgs(&e)...)
		}
		res, err := stmt.ExecContext(ctx, args...)
		if err != nil {
			return j.internal("insert order", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return j.internal("insert order", err)
		} else if n == 0 {
			return trading.Errorf(trading.ECONFLICT, "Client order id %q or sequence %d already used.", in.ClientOrderID, in.Seq)
		}
		if in.Seq > t.seqReserved {
			t.seqReserved = in.Seq
		}
		if j.stmts.insertOrderEvent != nil {
			t.lastEventID = e.ID
			t.dirty = true
			return nil
		}
	}

	res, err := j.stmts.insertEvent.ExecContext(ctx, eventArgs(&e)...)
	if err != nil {
		return j.internal("insert event", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return j.internal("insert event", err)
	} else if n == 0 {
		// A redelivered fill, dropped on purpose (see the conflict target).
		return nil
	}
	t.lastEventID = e.ID
	t.dirty = true

	if !creates {
		st.Apply(e)
		if _, err := j.stmts.updateOrder.ExecContext(ctx,
			st.BrokerOrderID, string(st.Status), st.FilledQty.String(), st.FilledNotional.String(),
			st.FilledAvgPrice.String(), st.Reason, st.UpdatedAt.UnixNano(), int64(st.LastEventID),
			st.Terminal, string(e.Tenant), e.ClientOrderID); err != nil {
			return j.internal("update order", err)
		}
	}
	return nil
}

func (j *Journal) loadOrder(ctx context.Context, tenant trading.TenantID, coid string) (trading.OrderState, bool, error) {
	st, err := scanOrder(j.stmts.selectOrder.QueryRowContext(ctx, string(tenant), coid))
	if errors.Is(err, sql.ErrNoRows) {
		return st, false, nil
	} else if err != nil {
		return st, false, j.internal("read order", err)
	}
	return st, true, nil
}

// orderColumns lists the orders columns in the order orderArgs and
// scanOrder use.
const orderColumns = `tenant, client_order_id, seq, symbol, side, type, time_in_force,
	qty, notional, limit_price, stop_price, trail_price, trail_percent, extended_hours,
	created_at, strategy, strategy_reason, broker_order_id, status, filled_qty,
	filled_notional, filled_avg_price, reason, updated_at, last_event_id, terminal`

// eventColumns lists the events columns in the order eventArgs uses.
const eventColumns = `tenant, id, client_order_id, kind, time, broker_order_id,
	status, execution_id, qty, price, cum_qty, reason`

func eventArgs(e *trading.Event) []any {
	var b boxer
	writeEvent(&b, e)
	return b
}

func orderArgs(st *trading.OrderState) []any {
	var b boxer
	writeOrder(&b, st)
	return b
}

// rowWriter takes a row's values in column order. writeOrder and
// writeEvent are the one place that order is written down: orderArgs and
// eventArgs box the values for a statement, and pipeline.go's columns
// append them to typed arrays without boxing.
type rowWriter interface {
	text(string)
	int(int64)
	bool(bool)
}

// writeEvent writes e's eventColumns.
func writeEvent(w rowWriter, e *trading.Event) {
	w.text(string(e.Tenant))
	w.int(int64(e.ID))
	w.text(e.ClientOrderID)
	w.text(string(e.Kind))
	w.int(e.Time.UnixNano())
	w.text(e.BrokerOrderID)
	w.text(string(e.Status))
	w.text(e.ExecutionID)
	w.text(e.Qty.String())
	w.text(e.Price.String())
	w.text(e.CumQty.String())
	w.text(e.Reason)
}

// writeOrder writes st's orderColumns.
func writeOrder(w rowWriter, st *trading.OrderState) {
	in := &st.Intent
	w.text(string(in.Tenant))
	w.text(in.ClientOrderID)
	w.int(int64(in.Seq))
	w.text(in.Symbol)
	w.text(string(in.Side))
	w.text(string(in.Type))
	w.text(string(in.TimeInForce))
	w.text(in.Qty.String())
	w.text(in.Notional.String())
	w.text(in.LimitPrice.String())
	w.text(in.StopPrice.String())
	w.text(in.TrailPrice.String())
	w.text(in.TrailPercent.String())
	w.bool(in.ExtendedHours)
	w.int(in.CreatedAt.UnixNano())
	w.text(in.Strategy)
	w.text(in.Reason)
	w.text(st.BrokerOrderID)
	w.text(string(st.Status))
	w.text(st.FilledQty.String())
	w.text(st.FilledNotional.String())
	w.text(st.FilledAvgPrice.String())
	w.text(st.Reason)
	w.int(st.UpdatedAt.UnixNano())
	w.int(int64(st.LastEventID))
	w.bool(st.Terminal)
}

// boxer collects a row as statement arguments.
type boxer []any

func (b *boxer) text(v string) { *b = append(*b, v) }
func (b *boxer) int(v int64)   { *b = append(*b, v) }
func (b *boxer) bool(v bool)   { *b = append(*b, v) }

type scanner interface{ Scan(dest ...any) error }

func scanOrder(row scanner) (trading.OrderState, error) {
	var d orderDest
	if err := row.Scan(d.dest()...); err != nil {
		return trading.OrderState{}, err
	}
	return d.state()
}

// orderDest receives the orderColumns of one row, so that a query can
// scan them after columns of its own (Events joins them to each event).
type orderDest struct {
	st                                        trading.OrderState
	tenant, side, typ, tif, status            string
	seq, created, updated, lastEvent          int64
	qty, notional, limit, stop, trailP, trail string
	filled, filledNotional, avg               string
}

func (d *orderDest) dest() []any {
	st, in := &d.st, &d.st.Intent
	return []any{&d.tenant, &in.ClientOrderID, &d.seq, &in.Symbol, &d.side, &d.typ, &d.tif,
		&d.qty, &d.notional, &d.limit, &d.stop, &d.trailP, &d.trail, &in.ExtendedHours,
		&d.created, &in.Strategy, &in.Reason, &st.BrokerOrderID, &d.status, &d.filled,
		&d.filledNotional, &d.avg, &st.Reason, &d.updated, &d.lastEvent, &st.Terminal}
}

func (d *orderDest) state() (trading.OrderState, error) {
	st := d.st
	in := &st.Intent
	in.Tenant, in.Seq = trading.TenantID(d.tenant), uint64(d.seq)
	in.Side, in.Type, in.TimeInForce = trading.Side(d.side), trading.OrderType(d.typ), trading.TimeInForce(d.tif)
	in.CreatedAt = time.Unix(0, d.created).UTC()
	st.Status = trading.OrderStatus(d.status)
	st.UpdatedAt = time.Unix(0, d.updated).UTC()
	st.LastEventID = uint64(d.lastEvent)
	err := parseDecimals(
		d.qty, &in.Qty, d.notional, &in.Notional, d.limit, &in.LimitPrice, d.stop, &in.StopPrice,
		d.trailP, &in.TrailPrice, d.trail, &in.TrailPercent,
		d.filled, &st.FilledQty, d.filledNotional, &st.FilledNotional, d.avg, &st.FilledAvgPrice)
	return st, err
}

// parseDecimals takes (text, *decimal) pairs. A value that does not parse
// means the file was changed behind the journal's back.
func parseDecimals(pairs ...any) error {
	for i := 0; i < len(pairs); i += 2 {
		d, err := decimal.NewFromString(pairs[i].(string))
		if err != nil {
			return fmt.Errorf("corrupt decimal %q: %w", pairs[i], err)
		}
		*pairs[i+1].(*decimal.Decimal) = d
	}
	return nil
}

// upsertStateSQL saves a tenant's trading state.
const upsertStateSQL = `INSERT INTO tenant_states (tenant, state) VALUES (?, ?)
	ON CONFLICT (tenant) DO UPDATE SET state = excluded.state, updated_at = CURRENT_TIMESTAMP`

// writeStmts are prepared once on the write connection: the writer runs
// the same few statements thousands of times a second.
type writeStmts struct {
	begin, commit, rollback        *sql.Stmt
	savepoint, rollbackTo, release *sql.Stmt
	selectTenant, upsertTenant     *sql.Stmt
	upsertState                    *sql.Stmt
	selectOrder, insertOrder       *sql.Stmt
	updateOrder, insertEvent       *sql.Stmt
	insertOrderEvent               *sql.Stmt // nil unless Dialect.InsertOrderEvent
	all                            []*sql.Stmt
}

func (s *writeStmts) prepare(ctx context.Context, conn *sql.Conn, d Dialect) error {
	for _, p := range []struct {
		dst **sql.Stmt
		sql string
	}{
		{&s.begin, d.Begin},
		{&s.commit, `COMMIT`},
		{&s.rollback, `ROLLBACK`},
		{&s.savepoint, `SAVEPOINT request`},
		{&s.rollbackTo, `ROLLBACK TO request`},
		{&s.release, `RELEASE request`},
		{&s.selectTenant, `SELECT seq_reserved, last_event_id FROM tenant_sequences WHERE tenant = ?`},
		{&s.upsertTenant, `INSERT INTO tenant_sequences (tenant, seq_reserved, last_event_id) VALUES (?, ?, ?)
			ON CONFLICT (tenant) DO UPDATE SET
				seq_reserved = ` + d.Greatest + `(tenant_sequences.seq_reserved, excluded.seq_reserved),
				last_event_id = excluded.last_event_id`},
		{&s.upsertState, upsertStateSQL},
		{&s.selectOrder, `SELECT ` + orderColumns + ` FROM orders WHERE tenant = ? AND client_order_id = ?`},
		{&s.insertOrder, `INSERT INTO orders (` + orderColumns + `)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT DO NOTHING`},
		{&s.updateOrder, `UPDATE orders SET broker_order_id = ?, status = ?, filled_qty = ?,
			filled_notional = ?, filled_avg_price = ?, reason = ?, updated_at = ?, last_event_id = ?,
			terminal = ? WHERE tenant = ? AND client_order_id = ?`},
		{&s.insertEvent, `INSERT INTO events (` + eventColumns + `)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (tenant, client_order_id, execution_id) WHERE kind = 'fill' DO NOTHING`},
	} {
		st, err := conn.PrepareContext(ctx, d.rebind(p.sql))
		if err != nil {
			return fmt.Errorf("prepare %q: %w", p.sql, err)
		}
		*p.dst = st
		s.all = append(s.all, st)
	}
	if d.InsertOrderEvent != "" {
		st, err := conn.PrepareContext(ctx, d.rebind(d.InsertOrderEvent))
		if err != nil {
			return fmt.Errorf("prepare order and event insert: %w", err)
		}
		s.insertOrderEvent = st
		s.all = append(s.all, st)
	}
	return nil
}

func (s *writeStmts) close() error {
	var errs []error
	for _, st := range s.all {
		errs = append(errs, st.Close())
	}
	s.all = nil
	return errors.Join(errs...)
}
