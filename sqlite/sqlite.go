// Package sqlite implements trading.Journal on SQLite (modernc.org/sqlite,
// pure Go), the embedded default store.
//
// Durability: the database runs in WAL mode with synchronous=FULL, so a
// commit returns only after the WAL is fsynced. Throughput comes from group
// commit: one writer goroutine owns the only write connection and commits
// every Append that is waiting as one transaction, so N concurrent appends
// cost one fsync instead of N. Reads go to a separate pool of read-only
// connections and never wait for the writer (WAL readers see the last
// commit).
//
// One Journal per database file: the sequence blocks NextSequence hands
// out are cached in memory, and a second process writing the same file
// would only ever make it slower.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quantum-alpaca/quantum/trading"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

//go:embed migration/*.sql
var migrationFS embed.FS

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
	// DefaultReadConns is the size of the read-only connection pool.
	DefaultReadConns = 4
	// DefaultBusyTimeout is how long a connection waits for a lock held by
	// another (a checkpoint, a backup tool) before failing.
	DefaultBusyTimeout = 10 * time.Second
)

// ErrNotOpen is returned by Journal methods called before Open.
var ErrNotOpen = errors.New("sqlite: journal not open")

// Compile-time proof that Journal is a trading.Journal.
var _ trading.Journal = (*Journal)(nil)

// Journal is a trading.Journal stored in one SQLite file. Create it with
// NewJournal, adjust the exported fields, then call Open; Close it when
// done. It is safe for concurrent use once open.
type Journal struct {
	// Path is the database file; its directory is created if missing.
	Path string

	// QueueSize, MaxBatch, SequenceBlock and ReadConns default to the
	// constants of the same name; change them only before Open.
	QueueSize     int
	MaxBatch      int
	SequenceBlock uint64
	ReadConns     int

	// Now stamps events whose Time is zero; tests replace it.
	Now func() time.Time

	wdb   *sql.DB // holds the single write connection
	wconn *sql.Conn
	rdb   *sql.DB
	stmts writeStmts

	// mu guards state. Senders to reqs hold it for reading, so once Close
	// has set state to closed under the write lock no request can be
	// queued behind the writer's final drain.
	mu    sync.RWMutex
	state int

	reqs chan *request
	quit chan struct{}
	wg   sync.WaitGroup

	seqMu sync.Mutex
	seqs  map[trading.TenantID]*seqBlock

	commits atomic.Int64 // committed batches, for tests that prove batching
}

const (
	stateNew = iota
	stateOpen
	stateClosed
)

// NewJournal returns a Journal for the database file at path, with
// defaults set. Nothing is opened until Open.
func NewJournal(path string) *Journal {
	return &Journal{
		Path:          path,
		QueueSize:     DefaultQueueSize,
		MaxBatch:      DefaultMaxBatch,
		SequenceBlock: DefaultSequenceBlock,
		ReadConns:     DefaultReadConns,
		Now:           time.Now,
		seqs:          make(map[trading.TenantID]*seqBlock),
	}
}

// Open opens (creating if needed) the database, applies pending
// migrations and starts the writer goroutine.
func (j *Journal) Open(ctx context.Context) (err error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.state != stateNew {
		return errors.New("sqlite: journal already opened")
	}
	if j.Path == "" {
		return errors.New("sqlite: journal path required")
	}
	// The driver reads everything after '?' as parameters.
	if strings.ContainsRune(j.Path, '?') {
		return fmt.Errorf("sqlite: journal path %q must not contain '?'", j.Path)
	}
	if j.QueueSize <= 0 || j.MaxBatch <= 0 || j.SequenceBlock == 0 || j.ReadConns <= 0 {
		return errors.New("sqlite: QueueSize, MaxBatch, SequenceBlock and ReadConns must be positive")
	}
	if j.Now == nil {
		j.Now = time.Now
	}
	if err := os.MkdirAll(filepath.Dir(j.Path), 0o700); err != nil {
		return fmt.Errorf("open journal: %w", err)
	}
	defer func() {
		if err != nil {
			j.closeDBs()
			err = fmt.Errorf("open journal: %w", err)
		}
	}()

	busy := fmt.Sprintf("_pragma=busy_timeout(%d)", DefaultBusyTimeout.Milliseconds())
	// synchronous=FULL is what makes a commit durable: in WAL mode, NORMAL
	// (the usual WAL choice) may lose the last commits on power loss, and
	// an acknowledged intent must survive that.
	j.wdb, err = sql.Open("sqlite", j.Path+"?"+busy+
		"&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=cache_size(-32000)")
	if err != nil {
		return err
	}
	j.wdb.SetMaxOpenConns(1)
	j.wdb.SetMaxIdleConns(1)
	j.wdb.SetConnMaxLifetime(0)
	j.wdb.SetConnMaxIdleTime(0)
	if j.wconn, err = j.wdb.Conn(ctx); err != nil {
		return err
	}
	// journal_mode silently stays "delete" on file systems without shared
	// memory; group commit and non-blocking readers both rely on WAL.
	var mode string
	if err := j.wconn.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return err
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("journal_mode is %q, want wal", mode)
	}
	if err := j.migrate(ctx); err != nil {
		return err
	}
	if err := j.stmts.prepare(ctx, j.wconn); err != nil {
		return err
	}

	j.rdb, err = sql.Open("sqlite", j.Path+"?"+busy+"&_pragma=query_only(1)")
	if err != nil {
		return err
	}
	j.rdb.SetMaxOpenConns(j.ReadConns)
	j.rdb.SetMaxIdleConns(j.ReadConns)
	if err := j.rdb.PingContext(ctx); err != nil {
		return err
	}

	j.reqs = make(chan *request, j.QueueSize)
	j.quit = make(chan struct{})
	j.wg.Add(1)
	go j.run()
	j.state = stateOpen
	return nil
}

// Close stops accepting work, waits for the writer to commit everything
// already queued, checkpoints the WAL into the database file and closes
// all connections. Calling it again returns nil.
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
	j.wg.Wait()

	// Leave a compact file behind; a failure here loses nothing (the WAL
	// is replayed on the next open), so it is reported but not fatal.
	_, cerr := j.wconn.ExecContext(context.Background(), "PRAGMA wal_checkpoint(TRUNCATE)")
	return errors.Join(cerr, j.closeDBs())
}

func (j *Journal) closeDBs() error {
	var errs []error
	errs = append(errs, j.stmts.close())
	if j.wconn != nil {
		errs = append(errs, j.wconn.Close())
	}
	if j.wdb != nil {
		errs = append(errs, j.wdb.Close())
	}
	if j.rdb != nil {
		errs = append(errs, j.rdb.Close())
	}
	return errors.Join(errs...)
}

// migrate applies the embedded migrations not yet recorded in the
// migrations table, each in its own transaction, in file-name order.
func (j *Journal) migrate(ctx context.Context) error {
	if _, err := j.wconn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY)`); err != nil {
		return fmt.Errorf("create migrations table: %w", err)
	}
	names, err := fs.Glob(migrationFS, "migration/*.sql")
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
	tx, err := j.wconn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()

	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM migrations WHERE name = ?`, name).Scan(&n); err != nil {
		return err
	} else if n != 0 {
		return nil
	}
	buf, err := fs.ReadFile(migrationFS, name)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, string(buf)); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO migrations (name) VALUES (?)`, name); err != nil {
		return err
	}
	return tx.Commit()
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
func internal(op string, err error) error {
	return &internalError{op: op, err: err}
}

type internalError struct {
	op  string
	err error
}

func (e *internalError) Error() string { return "sqlite: " + e.op + ": " + e.err.Error() }
func (e *internalError) Unwrap() error { return e.err }
