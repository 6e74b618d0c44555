package sqljournal

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/quantum-alpaca/quantum/trading"
)

// Append implements trading.Journal. It validates the events, hands them
// to the writer goroutine and waits for the commit of the batch they join.
// If ctx ends first it returns ctx.Err() and the events may still commit
// (see the group-commit notes in writer.go).
func (j *Journal) Append(ctx context.Context, events ...trading.Event) error {
	if len(events) == 0 {
		return nil
	}
	// The writer reads the events after Append may have returned (on
	// cancellation), so it gets its own copy, intents included.
	own := make([]trading.Event, len(events))
	for i, e := range events {
		if err := e.Validate(); err != nil {
			return err
		}
		if e.Intent != nil {
			in := *e.Intent
			e.Intent = &in
		}
		own[i] = e
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return j.send(ctx, &request{ctx: ctx, events: own, done: make(chan error, 1)})
}

// seqBlock is the unused part of a tenant's last reserved block of
// sequence numbers: next..last.
type seqBlock struct {
	mu         sync.Mutex
	next, last uint64
}

// NextSequence implements trading.Journal. Numbers come from a block of
// SequenceBlock numbers reserved durably in one write, so most calls cost
// no I/O, and a crash can only skip numbers, never reuse them.
func (j *Journal) NextSequence(ctx context.Context, tenant trading.TenantID) (uint64, error) {
	if err := tenant.Validate(); err != nil {
		return 0, err
	}
	// A cached block must not outlive Close.
	if err := j.begin(); err != nil {
		return 0, err
	}
	j.end()
	j.seqMu.Lock()
	b := j.seqs[tenant]
	if b == nil {
		b = &seqBlock{}
		j.seqs[tenant] = b
	}
	j.seqMu.Unlock()

	// Holding the tenant's lock across the reservation keeps numbers
	// monotonic; only this tenant waits, for one commit per block.
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.next == 0 || b.next > b.last {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		r := &request{ctx: ctx, reserve: tenant, n: j.SequenceBlock, done: make(chan error, 1)}
		if err := j.send(ctx, r); err != nil {
			return 0, err
		}
		b.next, b.last = r.reserved-j.SequenceBlock+1, r.reserved
	}
	n := b.next
	b.next++
	return n, nil
}

// read runs fn with the reader pool, translating errors: a domain error
// passes through, an ended context is reported as such, anything else is
// EINTERNAL.
func (j *Journal) read(ctx context.Context, op string, tenant trading.TenantID, fn func() error) error {
	if err := tenant.Validate(); err != nil {
		return err
	}
	if err := j.begin(); err != nil {
		return err
	}
	defer j.end()
	err := fn()
	if err == nil {
		return nil
	}
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	if _, ok := err.(*trading.Error); ok {
		return err
	}
	return j.internal(op, err)
}

// Order implements trading.Journal.
func (j *Journal) Order(ctx context.Context, tenant trading.TenantID, clientOrderID string) (st trading.OrderState, err error) {
	err = j.read(ctx, "read order", tenant, func() error {
		st, err = scanOrder(j.rdb.QueryRowContext(ctx, j.q.order, string(tenant), clientOrderID))
		if errors.Is(err, sql.ErrNoRows) {
			return trading.Errorf(trading.ENOTFOUND, "Order %q not found.", clientOrderID)
		}
		return err
	})
	return st, err
}

// OpenOrders implements trading.Journal.
func (j *Journal) OpenOrders(ctx context.Context, tenant trading.TenantID) (out []trading.OrderState, err error) {
	err = j.read(ctx, "read open orders", tenant, func() error {
		out, err = j.queryOrders(ctx, j.q.openOrders, string(tenant))
		return err
	})
	return out, err
}

// Orders implements trading.Journal.
func (j *Journal) Orders(ctx context.Context, f trading.OrderFilter) (out []trading.OrderState, err error) {
	if f.Status != "" && !f.Status.Valid() {
		return nil, trading.Errorf(trading.EINVALID, "Invalid order status %q.", f.Status)
	}
	err = j.read(ctx, "list orders", f.TenantID, func() error {
		var q strings.Builder
		q.WriteString(`SELECT ` + orderColumns + ` FROM orders WHERE tenant = ?`)
		args := []any{string(f.TenantID)}
		if f.Symbol != "" {
			q.WriteString(` AND symbol = ?`)
			args = append(args, f.Symbol)
		}
		if f.Status != "" {
			q.WriteString(` AND status = ?`)
			args = append(args, string(f.Status))
		}
		if !f.Since.IsZero() {
			q.WriteString(` AND created_at >= ?`)
			args = append(args, f.Since.UnixNano())
		}
		q.WriteString(` ORDER BY seq DESC LIMIT ?`)
		args = append(args, trading.ListLimit(f.Limit))
		out, err = j.queryOrders(ctx, j.d.rebind(q.String()), args...)
		return err
	})
	return out, err
}

func (j *Journal) queryOrders(ctx context.Context, query string, args ...any) ([]trading.OrderState, error) {
	rows, err := j.rdb.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []trading.OrderState
	for rows.Next() {
		st, err := scanOrder(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, rows.Err()
}

// Events implements trading.Journal. Every event belongs to an existing
// order, so an inner join finds the intent that intent events stand for.
func (j *Journal) Events(ctx context.Context, tenant trading.TenantID, afterID uint64, limit int) (out []trading.Event, err error) {
	// Stored ids are signed 64-bit; nothing lies beyond MaxSeq.
	afterID = min(afterID, trading.MaxSeq)
	err = j.read(ctx, "list events", tenant, func() error {
		rows, err := j.rdb.QueryContext(ctx, j.q.events,
			string(tenant), int64(afterID), trading.ListLimit(limit))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				e                  trading.Event
				id, at             int64
				kind, status       string
				qty, price, cumQty string
			)
			var order orderDest
			if err := rows.Scan(append([]any{&id, &kind, &at, &e.BrokerOrderID, &status, &e.ExecutionID,
				&qty, &price, &cumQty, &e.Reason}, order.dest()...)...); err != nil {
				return err
			}
			st, err := order.state()
			if err != nil {
				return err
			}
			e.ID, e.Kind, e.Status = uint64(id), trading.EventKind(kind), trading.OrderStatus(status)
			e.Tenant, e.ClientOrderID = tenant, st.Intent.ClientOrderID
			e.Time = time.Unix(0, at).UTC()
			if err := parseDecimals(qty, &e.Qty, price, &e.Price, cumQty, &e.CumQty); err != nil {
				return err
			}
			if e.Kind == trading.EventIntent || e.Kind == trading.EventRiskRejected {
				in := st.Intent
				e.Intent = &in
			}
			out = append(out, e)
		}
		return rows.Err()
	})
	return out, err
}

// Count implements trading.Journal.
func (j *Journal) Count(ctx context.Context, tenant trading.TenantID) (n int, err error) {
	err = j.read(ctx, "count orders", tenant, func() error {
		return j.rdb.QueryRowContext(ctx, j.q.count, string(tenant)).Scan(&n)
	})
	return n, err
}

// Placed implements trading.Journal.
func (j *Journal) Placed(ctx context.Context, tenant trading.TenantID) (n int, err error) {
	err = j.read(ctx, "count placed orders", tenant, func() error {
		return j.rdb.QueryRowContext(ctx, j.q.placed, string(tenant), string(trading.StatusRiskRejected)).Scan(&n)
	})
	return n, err
}

func prefixed(p, columns string) string {
	fields := strings.Split(columns, ",")
	for i, f := range fields {
		fields[i] = p + strings.TrimSpace(f)
	}
	return strings.Join(fields, ", ")
}

// queries are the read queries, written once for the dialect.
type queries struct {
	order, openOrders, events, count, placed string
}

func newQueries(d Dialect) queries {
	return queries{
		order: d.rebind(`SELECT ` + orderColumns + ` FROM orders WHERE tenant = ? AND client_order_id = ?`),
		// The predicate on terminal matches the partial index orders_open.
		openOrders: d.rebind(`SELECT ` + orderColumns + ` FROM orders WHERE tenant = ? AND terminal = ` + d.False + ` ORDER BY seq`),
		events: d.rebind(`
			SELECT e.id, e.kind, e.time, e.broker_order_id, e.status, e.execution_id,
				e.qty, e.price, e.cum_qty, e.reason, ` + prefixed("o.", orderColumns) + `
			FROM events e JOIN orders o ON o.tenant = e.tenant AND o.client_order_id = e.client_order_id
			WHERE e.tenant = ? AND e.id > ?
			ORDER BY e.id LIMIT ?`),
		count:  d.rebind(`SELECT COUNT(*) FROM orders WHERE tenant = ?`),
		placed: d.rebind(`SELECT COUNT(*) FROM orders WHERE tenant = ? AND status <> ?`),
	}
}
