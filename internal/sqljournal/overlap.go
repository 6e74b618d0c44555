package sqljournal

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"time"

	"github.com/quantum-alpaca/quantum/trading"
)

// Overlapped commits (issue 8, item 10), for dialects with Dialect.Send
// and a store that gives the writer more connections (Conns.Overlap).
//
// A one-trip batch (pipeline.go: only intents and trading states, of
// tenants whose rows are known) is committed in two steps:
//
//  1. BEGIN and the inserts of its new orders and intent events, sent as
//     soon as a connection is free, whatever the batches before it are
//     doing;
//  2. its trading states, the upsert of its tenant rows, and COMMIT, sent
//     once step 1 is done and every batch before it has committed.
//
// (A batch with nothing in flight before it sends both at once.)
//
// Batches "in flight" (j.flights, oldest first) are answered in order.
// While the oldest waits for its COMMIT's WAL flush, the inserts of the
// next ones run on the other connections, instead of following it.
//
// Why this is safe:
//   - Order. A batch's event ids follow those the batches before it took
//     (j.known is updated when a batch takes off, not when it lands), and
//     it cannot commit before they have: its COMMIT is sent after theirs
//     succeeded. A reader paging events by id never sees a later id
//     before an earlier one of the same tenant.
//   - No gaps. If a batch fails (or its outcome is unknown), none after
//     it has sent COMMIT: they are rolled back and committed again after
//     it, on the main connection, from the rows the database holds (as a
//     batch of tenants not known is), or failed with EUNAVAILABLE if the
//     database cannot be reached.
//   - No deadlock. Step 1 only inserts rows with new keys, and a batch
//     whose intents' keys (client order id, sequence number) a batch in
//     flight also holds waits until those have landed: the insert of a
//     key another open transaction holds would wait for that one to end,
//     and a batch in flight ends only after the ones before it. The rows
//     two transactions could both want, tenant_sequences and
//     tenant_states, are written only in step 2, which only the oldest
//     batch has sent.
//   - Duplicates. An intent whose client order id or sequence number is
//     taken by a committed order fails its batch's step 1 (unique
//     violation); the batch is committed again the way that reads the
//     orders first (pipeline.go), where that intent alone gets ECONFLICT.
//
// Anything else (sequence reservations, which must read the committed
// row; events of existing orders; tenants not yet known) waits for every
// batch in flight to land and is committed as before, on the main
// connection.

// flight is a batch whose step 1 has been sent.
type flight struct {
	batch   []*request
	results []error
	keys    map[takenKey]bool // its intents' client order ids and sequence numbers
	conn    *sql.Conn
	step2   []Stmt
	s1      chan error // step 1's outcome
	done    chan error // step 2's outcome; nil until step 2 is sent
}

// overlapRetry is how long the writer waits before trying again to open
// another connection after failing to.
const overlapRetry = time.Second

// inFlight reports whether c carries a batch in flight.
func (j *Journal) inFlight(c *sql.Conn) bool {
	for _, fl := range j.flights {
		if fl.conn == c {
			return true
		}
	}
	return false
}

// canLaunch reports whether a connection is, or may be made, free for
// another batch in flight.
func (j *Journal) canLaunch() bool {
	return len(j.flights) < len(j.ovs)+1 ||
		(len(j.ovs) < j.c.OverlapConns && !time.Now().Before(j.ovRetry))
}

// freeConn returns a connection no batch in flight uses, opening another
// if the store allows it, or nil.
func (j *Journal) freeConn() *sql.Conn {
	if !j.inFlight(j.c.WriteConn) {
		return j.c.WriteConn
	}
	for _, c := range j.ovs {
		if !j.inFlight(c) {
			return c
		}
	}
	if len(j.ovs) >= j.c.OverlapConns || time.Now().Before(j.ovRetry) {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), j.ConnectTimeout)
	defer cancel()
	c, err := j.c.Overlap.Conn(ctx)
	if err == nil {
		if err = c.PingContext(ctx); err != nil {
			badConn(c)
		}
	}
	if err != nil {
		j.ovRetry = time.Now().Add(overlapRetry)
		return nil
	}
	j.ovs = append(j.ovs, c)
	return c
}

// dropOverlap discards the extra connections (with nothing in flight).
func (j *Journal) dropOverlap() {
	for _, c := range j.ovs {
		badConn(c)
	}
	j.ovs = nil
}

// badConn closes c without returning it to its pool.
func badConn(c *sql.Conn) {
	_ = c.Raw(func(any) error { return driver.ErrBadConn })
	_ = c.Close()
}

// canOverlap reports whether batch can take the two-step path.
func (j *Journal) canOverlap(batch []*request) bool {
	return j.d.Send != nil && j.c.Overlap != nil && j.c.OverlapConns > 0 && j.c.WriteConn != nil && j.oneTrip(batch)
}

// clashes reports whether an intent of batch has a key a batch in flight
// holds.
func (j *Journal) clashes(batch []*request) bool {
	for _, r := range batch {
		if r.ctx.Err() != nil || !pipelinable(r) {
			continue
		}
		in := r.events[0].Intent
		for _, fl := range j.flights {
			if fl.keys[takenKey{tenant: in.Tenant, id: in.ClientOrderID}] || fl.keys[takenKey{tenant: in.Tenant, seq: in.Seq}] {
				return true
			}
		}
	}
	return false
}

// commitOverlapped sends step 1 of a batch canOverlap accepted, on a free
// connection, and leaves it in flight.
func (j *Journal) commitOverlapped(batch []*request) {
	if j.clashes(batch) {
		j.landAll()
		j.commit(batch)
		return
	}
	conn := j.freeConn()
	if conn == nil {
		// Every connection is busy: let the oldest batch move on, and
		// look again (at the batch too: a failure empties j.known).
		j.landNext()
		j.commit(batch)
		return
	}
	// What the batch writes, from the rows the batches before it leave
	// (committed or in flight).
	results := make([]error, len(batch))
	b := &batchState{now: j.Now().UTC(), tenants: make(map[trading.TenantID]*tenantRow)}
	p := &pipe{j: j}
	taken := make(map[takenKey]bool)
	var states []Stmt
	for i, r := range batch {
		if err := r.ctx.Err(); err != nil {
			results[i] = err
			continue
		}
		if r.state != nil {
			states = append(states, Stmt{SQL: j.pq.upsert, Args: []any{string(r.state.tenant), string(r.state.state)}})
			continue
		}
		tenant := r.events[0].Tenant
		if b.tenants[tenant] == nil {
			row := j.known[tenant] // oneTrip: known
			b.tenants[tenant] = &row
		}
		results[i] = j.pipeIntent(b, p, taken, r.events[0])
	}
	step1 := append([]Stmt{{SQL: j.d.Begin}}, p.take()...)
	step2 := append(states, j.tenantUpsert(b)...)
	step2 = append(step2, Stmt{SQL: "COMMIT"})
	fl := &flight{
		// The writer reuses batch's array for the next batch.
		batch:   append([]*request(nil), batch...),
		results: results, keys: taken, conn: conn, step2: step2,
		s1: make(chan error, 1),
	}
	ctx := context.Background() // never canceled: see writer.go
	if len(j.flights) == 0 {
		// Nothing before it: both steps in one round trip (a lone
		// append pays one, as on the one-trip path).
		fl.s1, fl.done = nil, make(chan error, 1)
		go func() { fl.done <- j.d.Send(ctx, conn, append(step1, step2...)) }()
	} else {
		go func() { fl.s1 <- j.d.Send(ctx, conn, step1) }()
	}
	j.flights = append(j.flights, fl)
	if j.known == nil {
		j.known = make(map[trading.TenantID]tenantRow)
	}
	for tenant, t := range b.tenants {
		j.known[tenant] = tenantRow{seqReserved: t.seqReserved, lastEventID: t.lastEventID}
	}
}

// tenantUpsert returns the statement saving b's changed tenant rows, if
// any.
func (j *Journal) tenantUpsert(b *batchState) []Stmt {
	var ts []string
	var seqs, ids []int64
	for tenant, t := range b.tenants {
		if t.dirty {
			ts = append(ts, string(tenant))
			seqs = append(seqs, int64(t.seqReserved))
			ids = append(ids, int64(t.lastEventID))
		}
	}
	if len(ts) == 0 {
		return nil
	}
	return []Stmt{{SQL: j.pq.upsertTenants, Args: []any{ts, seqs, ids}}}
}

// next is what the oldest batch in flight waits for: the end of its step
// 1, then of its step 2. Nil when nothing is in flight.
func (j *Journal) next() <-chan error {
	if len(j.flights) == 0 {
		return nil
	}
	if fl := j.flights[0]; fl.done != nil {
		return fl.done
	}
	return j.flights[0].s1
}

// landNext waits for the oldest batch in flight to move one step on.
func (j *Journal) landNext() {
	if ch := j.next(); ch != nil {
		j.advance(<-ch)
	}
}

// landAll waits until nothing is in flight.
func (j *Journal) landAll() {
	for len(j.flights) > 0 {
		j.landNext()
	}
}

// advance moves the oldest batch in flight on, given the outcome of the
// step it waited for: sends step 2 after step 1, reports the batch's
// results after step 2.
func (j *Journal) advance(err error) {
	fl := j.flights[0]
	if err != nil {
		j.unwind(err, fl.done != nil)
		return
	}
	if fl.done == nil {
		fl.done = make(chan error, 1)
		go func() { fl.done <- j.d.Send(context.Background(), fl.conn, fl.step2) }()
		return
	}
	j.flights[0] = nil
	j.flights = j.flights[1:]
	j.commits.Add(1)
	for i, r := range fl.batch {
		r.done <- fl.results[i]
	}
}

// unwind settles a failure of the oldest batch in flight (in step 2 if
// sent). No batch after it has sent COMMIT: each is rolled back once its
// step 1 is over. Then the failed batch is settled as commit settles a
// pipelined batch: redone request by request if its connection works
// (nothing committed), failed with an unknown outcome if the connection
// broke after COMMIT was sent, with EUNAVAILABLE if before. Then the
// others are redone, in order, the slow way, which reports the database
// unreachable if it is.
func (j *Journal) unwind(err error, sent bool) {
	fls := j.flights
	j.flights = nil
	j.known = nil
	up := make([]bool, len(fls))
	for i, fl := range fls {
		if i > 0 {
			<-fl.s1
		}
		up[i] = rollback(fl.conn, j.ConnectTimeout)
	}
	for i, fl := range fls {
		if !up[i] {
			j.connLost(fl.conn, err)
		}
	}
	head := fls[0]
	switch {
	case up[0] && !sent:
		// Step 1 failed (an intent whose key is taken, say): nothing
		// committed.
		j.commit(head.batch)
	case up[0]:
		// The server refused the batch and committed nothing.
		j.commitSerial(head.batch)
	case sent:
		j.fail(head.batch, j.outcomeUnknown(j.internal("commit", err)))
	default:
		j.fail(head.batch, j.unavailable(err))
	}
	for _, fl := range fls[1:] {
		j.commit(fl.batch)
	}
}

// connLost discards a broken write connection: an extra one alone if the
// main one still works (a server that ended only that one), the main one
// (and with it the extras) otherwise.
func (j *Journal) connLost(c *sql.Conn, err error) {
	if c != j.c.WriteConn {
		for i, o := range j.ovs {
			if o == c {
				badConn(c)
				j.ovs = append(j.ovs[:i], j.ovs[i+1:]...)
				break
			}
		}
		if j.c.WriteConn == nil || j.alive() {
			return
		}
	}
	if j.c.WriteConn != nil {
		j.disconnect(err)
	}
}

// rollback ends whatever transaction c has open and reports whether c
// still works.
func rollback(c *sql.Conn, timeout time.Duration) bool {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	// ROLLBACK fails harmlessly when there is nothing to roll back.
	_, _ = c.ExecContext(ctx, "ROLLBACK")
	return c.PingContext(ctx) == nil
}
