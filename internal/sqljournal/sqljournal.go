// Package sqljournal is the trading.Journal both SQL stores share: the
// schema's semantics, group commit, sequence blocks and every query. The
// sqlite and postgres packages open their databases and say, through a
// Dialect, where their SQL differs; everything the conformance suite
// checks lives here once.
//
// Group commit: one writer goroutine owns the write connection (more with
// Conns.Overlap, whose commits overlap but stay in order) and commits
// every Append that is waiting as one transaction, so N concurrent
// appends cost one durable commit instead of N. Reads go to a separate
// pool and never wait for the writer. When the write connection breaks
// (a database server across a network), the writer fails what is queued
// and reconnects in the background (see reconnect.go).
//
// One Journal per tenant at a time: the sequence blocks NextSequence hands
// out are cached in memory, so two processes must never write the same
// tenant (different tenants in one database are fine).
package sqljournal

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quantum-alpaca/quantum/trading"
)

// Defaults for the Journal's tunable fields.
const (
	// DefaultQueueSize bounds the appends waiting for the writer. When it is
	// full, Append blocks (until its context ends): back-pressure instead of
	// unbounded memory.
	DefaultQueueSize = 4096
	// DefaultMaxBatch bounds the requests committed in one transaction, so
	// that one huge batch cannot hold every caller's latency hostage.
	DefaultMaxBatch = 1024
	// DefaultSequenceBlock is how many sequence numbers NextSequence
	// reserves per durable write; a restart skips what is left of a block.
	DefaultSequenceBlock = 1000
	// DefaultReadConns is the size of the read connection pool.
	DefaultReadConns = 4
	// DefaultReconnectWait is the first pause before the writer tries to
	// replace a broken write connection; it doubles on each failure.
	DefaultReconnectWait = 100 * time.Millisecond
	// DefaultMaxReconnectWait caps that pause, so that the journal writes
	// again within about this long of the database coming back.
	DefaultMaxReconnectWait = 2 * time.Second
	// DefaultConnectTimeout bounds one reconnection attempt, and the check
	// that tells a broken write connection from a failed statement.
	DefaultConnectTimeout = 5 * time.Second
)

// Dialect is where one database's SQL differs from the other's.
type Dialect struct {
	// Name prefixes internal errors ("sqlite", "postgres").
	Name string
	// Placeholders "dollar" numbers parameters $1, $2...; otherwise the
	// queries keep "?".
	Placeholders string
	// Begin starts the writer's transaction.
	Begin string
	// Greatest is the two-argument maximum function.
	Greatest string
	// False is how a false boolean column is written in a predicate that
	// must match the partial index on unfinished orders.
	False string
	// Migrations holds the schema's files as migration/*.sql, applied in
	// name order and recorded by that name (so a file keeps its name).
	Migrations fs.FS
	// InsertOrderEvent, if set, inserts a new order (the orderColumns,
	// skipped on conflict) and its first event (the event columns) in one
	// statement whose rows affected is 0 when the order already existed.
	// Build it with OrderEventInsert.
	InsertOrderEvent string
	// MigrateLock and MigrateUnlock, if set, run on the write connection
	// around all migrations, so that nodes starting together on one
	// database migrate it one after the other.
	MigrateLock, MigrateUnlock string
	// Send, if set, runs stmts on conn in order in one round trip (a
	// pipeline), stopping at the first error, which it returns. With it
	// the writer commits a batch of intents in two round trips with
	// array-valued statements (PostgreSQL's unnest; see pipeline.go)
	// instead of a few statements per request.
	Send func(ctx context.Context, conn *sql.Conn, stmts []Stmt) error
}

// Stmt is one statement of a Dialect.Send round trip, with "?"
// placeholders already rebound for the dialect.
type Stmt struct {
	SQL  string
	Args []any
	// Row, if set, is called for each result row with the row's Scan.
	Row func(scan func(dest ...any) error) error
}

// Conns are the connections a Journal runs on. The Journal owns them once
// the store's connect func returns them, and closes them in Close (after
// BeforeClose, if set).
type Conns struct {
	Write     *sql.DB   // holds the single write connection (MaxOpenConns 1)
	WriteConn *sql.Conn // the writer's connection, taken from Write; replaced when it breaks
	Read      *sql.DB
	// Overlap, if set (with Dialect.Send), holds up to OverlapConns more
	// write connections, on which batches' inserts run while the batch
	// before them commits (see overlap.go).
	Overlap      *sql.DB
	OverlapConns int
	BeforeClose  func(ctx context.Context, w *sql.Conn) error
}

// ErrNotOpen is returned by Journal methods called before Open.
var ErrNotOpen = errors.New("journal not open")

// Compile-time proof that Journal is a trading.Journal.
var _ trading.Journal = (*Journal)(nil)

// Journal is the shared implementation. Stores embed it, set the exported
// fields' defaults with Init, and call OpenWith from their Open.
type Journal struct {
	// QueueSize, MaxBatch, SequenceBlock, ReadConns, ReconnectWait,
	// MaxReconnectWait and ConnectTimeout default to the constants of the
	// same name; change them only before Open.
	QueueSize        int
	MaxBatch         int
	SequenceBlock    uint64
	ReadConns        int
	ReconnectWait    time.Duration
	MaxReconnectWait time.Duration
	ConnectTimeout   time.Duration

	// Now stamps events whose Time is zero; tests replace it.
	Now func() time.Time

	d     Dialect
	c     Conns // c.WriteConn is the writer's, nil while it is down
	rdb   *sql.DB
	stmts writeStmts
	q     queries
	pq    pipeQueries // for Dialect.Send

	// Owned by the writer goroutine (and by Close once it has stopped):
	// down is why the write connection is gone, nil while it is up;
	// reconnected delivers the reconnector's replacement; known holds the
	// tenant rows the last committed pipelined batch left.
	down        error
	reconnected chan writeConn
	known       map[trading.TenantID]tenantRow // see pipeline.go
	flights     []*flight                      // oldest first; see overlap.go
	ovs         []*sql.Conn                    // the extra write connections opened so far
	ovRetry     time.Time                      // when to try opening one again
	stop        context.Context                // ended by Close: stops the reconnector
	cancelStop  context.CancelFunc

	// mu guards state. Senders to reqs hold it for reading, so once Close
	// has set state to closed under the write lock no request can be
	// queued behind the writer's final drain.
	mu    sync.RWMutex
	state int

	reqs chan *request
	quit chan struct{}
	// progress counts the writer's steps: requests applied, statements
	// sent, commits. See Progress.
	progress atomic.Uint64
	wg       sync.WaitGroup

	seqMu sync.Mutex
	seqs  map[trading.TenantID]*seqBlock

	commits atomic.Int64 // committed batches, for tests that prove batching
}

const (
	stateNew = iota
	stateOpen
	stateClosed
)

// Init sets the defaults. Stores call it from their constructors.
func (j *Journal) Init() {
	j.QueueSize = DefaultQueueSize
	j.MaxBatch = DefaultMaxBatch
	j.SequenceBlock = DefaultSequenceBlock
	j.ReadConns = DefaultReadConns
	j.ReconnectWait = DefaultReconnectWait
	j.MaxReconnectWait = DefaultMaxReconnectWait
	j.ConnectTimeout = DefaultConnectTimeout
	j.Now = time.Now
	j.seqs = make(map[trading.TenantID]*seqBlock)
}

// OpenWith is the stores' Open: it checks the tunables, gets connections
// from connect (which checks the store's own settings and closes what it
// opened if it fails), applies pending migrations, prepares the writer's
// statements and starts the writer. From connect's return on, the
// connections are the Journal's: closed on a later error or by Close.
func (j *Journal) OpenWith(ctx context.Context, d Dialect, connect func(context.Context) (Conns, error)) (err error) {
	defer func() {
		if err != nil {
			err = fmt.Errorf("open journal: %w", err)
		}
	}()
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.state != stateNew {
		return fmt.Errorf("%s: journal already opened", d.Name)
	}
	if j.QueueSize <= 0 || j.MaxBatch <= 0 || j.SequenceBlock == 0 || j.ReadConns <= 0 ||
		j.ReconnectWait <= 0 || j.MaxReconnectWait <= 0 || j.ConnectTimeout <= 0 {
		return errors.New("QueueSize, MaxBatch, SequenceBlock, ReadConns, ReconnectWait, MaxReconnectWait and ConnectTimeout must be positive")
	}
	if j.Now == nil {
		j.Now = time.Now
	}
	c, err := connect(ctx)
	if err != nil {
		return err
	}
	j.d, j.c, j.rdb = d, c, c.Read
	j.q = newQueries(d)
	j.pq = newPipeQueries(d)
	defer func() {
		if err != nil {
			err = errors.Join(err, j.stmts.close(), closeConns(j.c))
		}
	}()
	if err := j.migrate(ctx); err != nil {
		return err
	}
	if err := j.stmts.prepare(ctx, j.c.WriteConn, d); err != nil {
		return err
	}
	j.reqs = make(chan *request, j.QueueSize)
	j.quit = make(chan struct{})
	j.reconnected = make(chan writeConn)
	j.stop, j.cancelStop = context.WithCancel(context.WithoutCancel(ctx))
	j.wg.Add(1)
	go j.run()
	j.state = stateOpen
	return nil
}

// Close stops accepting work, waits for the writer to commit everything
// already queued and closes all connections. Calling it again returns nil.
// Progress counts the writer's steps so far (requests applied,
// statements sent, transactions committed). A big batch on a slow machine
// can take seconds to commit, so "no append finished for a while" does
// not mean stuck; a count that stays still while appends wait does.
func (j *Journal) Progress() uint64 { return j.progress.Load() }

func (j *Journal) Close() error {
	j.mu.Lock()
	if j.state != stateOpen {
		j.state = stateClosed
		j.mu.Unlock()
		return nil
	}
	j.state = stateClosed
	j.mu.Unlock()

	close(j.quit)
	j.cancelStop()
	j.wg.Wait()

	j.dropOverlap()
	var cerr error
	if j.c.BeforeClose != nil && j.c.WriteConn != nil {
		cerr = j.c.BeforeClose(context.Background(), j.c.WriteConn)
	}
	return errors.Join(cerr, j.stmts.close(), closeConns(j.c))
}

// Close closes whichever of c's connections are open; a store's connect
// func calls it when it fails half way.
func (c Conns) Close() error { return closeConns(c) }

func closeConns(c Conns) error {
	var errs []error
	if c.WriteConn != nil {
		errs = append(errs, c.WriteConn.Close())
	}
	if c.Write != nil {
		errs = append(errs, c.Write.Close())
	}
	if c.Read != nil {
		errs = append(errs, c.Read.Close())
	}
	if c.Overlap != nil {
		errs = append(errs, c.Overlap.Close())
	}
	return errors.Join(errs...)
}

// Commits counts committed batches, for tests that prove batching.
func (j *Journal) Commits() int64 { return j.commits.Load() }

// migrate applies the dialect's migrations not yet recorded in the
// migrations table, each in its own transaction, in file-name order.
func (j *Journal) migrate(ctx context.Context) (err error) {
	if j.d.MigrateLock != "" {
		if _, err := j.c.WriteConn.ExecContext(ctx, j.d.MigrateLock); err != nil {
			return fmt.Errorf("lock for migrations: %w", err)
		}
		defer func() {
			if _, uerr := j.c.WriteConn.ExecContext(context.WithoutCancel(ctx), j.d.MigrateUnlock); uerr != nil {
				err = errors.Join(err, fmt.Errorf("unlock after migrations: %w", uerr))
			}
		}()
	}
	if _, err := j.c.WriteConn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY)`); err != nil {
		return fmt.Errorf("create migrations table: %w", err)
	}
	names, err := fs.Glob(j.d.Migrations, "migration/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		if err := j.migrateFile(ctx, name); err != nil {
			return fmt.Errorf("migration %s: %w", name, err)
		}
	}
	return nil
}

func (j *Journal) migrateFile(ctx context.Context, name string) error {
	tx, err := j.c.WriteConn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()

	var n int
	if err := tx.QueryRowContext(ctx, j.d.rebind(`SELECT COUNT(*) FROM migrations WHERE name = ?`), name).Scan(&n); err != nil {
		return err
	} else if n != 0 {
		return nil
	}
	buf, err := fs.ReadFile(j.d.Migrations, name)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, string(buf)); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, j.d.rebind(`INSERT INTO migrations (name) VALUES (?)`), name); err != nil {
		return err
	}
	return tx.Commit()
}

// rebind rewrites the "?" placeholders of q for the dialect. The queries
// here hold no "?" inside literals.
func (d Dialect) rebind(q string) string {
	if d.Placeholders != "dollar" {
		return q
	}
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// begin takes the read side of mu for a call, so that Close waits for it
// and no call starts after Close.
func (j *Journal) begin() error {
	j.mu.RLock()
	switch j.state {
	case stateOpen:
		return nil
	case stateNew:
		j.mu.RUnlock()
		return ErrNotOpen
	}
	j.mu.RUnlock()
	return trading.ErrJournalClosed
}

func (j *Journal) end() { j.mu.RUnlock() }

// internal wraps a storage failure as EINTERNAL, keeping the cause for
// errors.Is/As and logs but out of the user-facing message.
func (j *Journal) internal(op string, err error) error {
	return &internalError{name: j.d.Name, op: op, err: err}
}

type internalError struct {
	name, op string
	err      error
}

func (e *internalError) Error() string { return e.name + ": " + e.op + ": " + e.err.Error() }
func (e *internalError) Unwrap() error { return e.err }

// OrderEventInsert returns Dialect.InsertOrderEvent for a database with
// data-modifying WITH clauses, given the casts that type each event
// parameter (the SELECT list gives the server nothing else to go by).
func OrderEventInsert(eventCasts []string) string {
	params := make([]string, len(eventCasts))
	for i, c := range eventCasts {
		params[i] = "?" + c
	}
	return `WITH o AS (
		INSERT INTO orders (` + orderColumns + `)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT DO NOTHING RETURNING 1)
	INSERT INTO events (` + eventColumns + `)
	SELECT ` + strings.Join(params, ", ") + ` WHERE EXISTS (SELECT 1 FROM o)`
}
