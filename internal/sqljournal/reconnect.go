package sqljournal

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"math/rand/v2"
	"time"

	"github.com/quantum-alpaca/quantum/trading"
)

// Reconnection (issue 8, item 1).
//
// The writer holds one connection. When a batch fails with a storage
// error, the writer rolls back and pings the connection; if that fails
// too, the connection is broken (a network cut, a database restart):
// the writer discards it, fails the batch, and a reconnector goroutine
// takes a new connection from Conns.Write with capped, jittered
// exponential backoff and prepares the statements on it. Until it hands
// the connection over, the writer fails every request at once with
// EUNAVAILABLE instead of letting callers wait on an outage of unknown
// length; callers retry (the engine's runners restart with backoff).
//
// What the failed batch reports depends on whether COMMIT was sent:
//   - not sent: nothing committed, EUNAVAILABLE ("nothing changed");
//   - sent, and the connection died before its answer: the outcome is
//     unknown, the batch may have committed. It is never reported as a
//     success: its requests get an EINTERNAL error saying so. A retried
//     intent then returns ECONFLICT if the first attempt committed (the
//     engine looks the order up), a retried fill is deduplicated by its
//     execution id, and a sequence block is reserved anew above whatever
//     the database holds, so no number is handed out twice.
//
// Nothing is cached across batches but sequence blocks already handed to
// NextSequence, whose reservations were acknowledged, so the new
// connection starts from what the database holds.

// writeConn is a write connection with its prepared statements.
type writeConn struct {
	conn  *sql.Conn
	stmts writeStmts
}

// errUnavailable is the domain error of a request that found the write
// connection down or lost it before COMMIT was sent.
var errUnavailable = trading.Errorf(trading.EUNAVAILABLE,
	"The journal database cannot be reached; nothing was written. Retry later.")

// unavailableError is EUNAVAILABLE for callers (ErrorCode finds
// errUnavailable) with the storage cause kept for logs.
type unavailableError struct {
	name  string
	cause error
}

func (e *unavailableError) Error() string {
	return e.name + ": journal database unreachable, nothing written: " + e.cause.Error()
}
func (e *unavailableError) Unwrap() []error { return []error{errUnavailable, e.cause} }

func (j *Journal) unavailable(cause error) error {
	return &unavailableError{name: j.d.Name, cause: cause}
}

// outcomeUnknown is the error of a batch whose COMMIT was sent on a
// connection that died before answering.
func (j *Journal) outcomeUnknown(cause error) error {
	return j.internal("commit outcome unknown (connection lost; a retried intent reports ECONFLICT if it committed)", cause)
}

// alive rolls back whatever a failed batch left open and reports whether
// the write connection still works.
func (j *Journal) alive() bool {
	ctx, cancel := context.WithTimeout(context.Background(), j.ConnectTimeout)
	defer cancel()
	// ROLLBACK fails harmlessly when the database has already rolled back.
	_, _ = j.stmts.rollback.ExecContext(ctx)
	return j.c.WriteConn.PingContext(ctx) == nil
}

// disconnect discards the broken write connection and starts the
// reconnector. Only the writer goroutine calls it.
func (j *Journal) disconnect(cause error) {
	j.dropOverlap()
	_ = j.stmts.close()
	// driver.ErrBadConn makes database/sql close the driver connection
	// instead of returning it to Write's pool.
	_ = j.c.WriteConn.Raw(func(any) error { return driver.ErrBadConn })
	_ = j.c.WriteConn.Close()
	j.c.WriteConn, j.down = nil, cause
	j.wg.Add(1)
	go j.reconnect()
}

// reconnect gets a new write connection, waiting between attempts, and
// hands it to the writer. It stops when Close ends j.stop.
func (j *Journal) reconnect() {
	defer j.wg.Done()
	wait := j.ReconnectWait
	for {
		// The first attempt waits too: a database that just cut every
		// connection is rarely back within microseconds.
		if !sleep(j.stop, jitter(wait)) {
			return
		}
		wait = min(2*wait, j.MaxReconnectWait)
		wc, err := j.connectWriter(j.stop)
		if err != nil {
			continue
		}
		select {
		case j.reconnected <- wc:
			return
		case <-j.stop.Done():
			_ = wc.stmts.close()
			_ = wc.conn.Close()
			return
		}
	}
}

// connectWriter takes a connection from the write pool, checks it and
// prepares the writer's statements on it.
func (j *Journal) connectWriter(ctx context.Context) (wc writeConn, err error) {
	ctx, cancel := context.WithTimeout(ctx, j.ConnectTimeout)
	defer cancel()
	if wc.conn, err = j.c.Write.Conn(ctx); err != nil {
		return wc, err
	}
	defer func() {
		if err != nil {
			_ = wc.stmts.close()
			_ = wc.conn.Raw(func(any) error { return driver.ErrBadConn })
			_ = wc.conn.Close()
		}
	}()
	if err := wc.conn.PingContext(ctx); err != nil {
		return wc, err
	}
	return wc, wc.stmts.prepare(ctx, wc.conn, j.d)
}

// runDown is the writer while the connection is down: it fails requests
// as they come and returns true when the reconnector hands over a new
// connection, or false when Close has stopped it (after failing what was
// queued).
func (j *Journal) runDown(batch []*request) bool {
	fail := func() {
		err := j.unavailable(j.down)
		for _, r := range batch {
			r.done <- err
		}
	}
	for {
		select {
		case r := <-j.reqs:
			batch = append(batch[:0], r)
			j.collect(&batch)
			fail()
		case wc := <-j.reconnected:
			j.c.WriteConn, j.stmts, j.down = wc.conn, wc.stmts, nil
			return true
		case <-j.quit:
			for {
				batch = batch[:0]
				j.collect(&batch)
				if len(batch) == 0 {
					return false
				}
				fail()
			}
		}
	}
}

// jitter returns a duration in [d/2, d): spread out, so that many
// journals cut together do not reconnect in lockstep.
func jitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2)
}

// sleep waits d or until ctx ends, reporting whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
