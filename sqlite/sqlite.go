// Package sqlite implements trading.Journal on SQLite (modernc.org/sqlite,
// pure Go), the embedded default store.
//
// Durability: the database runs in WAL mode with synchronous=FULL, so a
// commit returns only after the WAL is fsynced; group commit (see
// internal/sqljournal) makes N concurrent appends cost one fsync. Reads go
// to a pool of read-only connections and never wait for the writer (WAL
// readers see the last commit).
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
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/quantum-alpaca/quantum/internal/sqljournal"
	"github.com/quantum-alpaca/quantum/trading"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

//go:embed migration/*.sql
var migrationFS embed.FS

// Defaults for the Journal's tunable fields.
const (
	DefaultQueueSize     = sqljournal.DefaultQueueSize
	DefaultMaxBatch      = sqljournal.DefaultMaxBatch
	DefaultSequenceBlock = sqljournal.DefaultSequenceBlock
	DefaultReadConns     = sqljournal.DefaultReadConns
	// DefaultBusyTimeout is how long a connection waits for a lock held by
	// another (a checkpoint, a backup tool) before failing.
	DefaultBusyTimeout = 10 * time.Second
)

// ErrNotOpen is returned by Journal methods called before Open.
var ErrNotOpen = sqljournal.ErrNotOpen

// Compile-time proof that Journal is a trading.Journal.
var _ trading.Journal = (*Journal)(nil)

// dialect is SQLite's SQL where it differs from PostgreSQL's.
var dialect = sqljournal.Dialect{
	Name: "sqlite",
	// IMMEDIATE takes the write lock up front, so a batch never fails half
	// way with SQLITE_BUSY when another connection (a backup tool) holds
	// it.
	Begin:      "BEGIN IMMEDIATE",
	Greatest:   "max",
	False:      "0",
	Migrations: migrationFS,
}

// Journal is a trading.Journal stored in one SQLite file. Create it with
// NewJournal, adjust the exported fields, then call Open; Close it when
// done. It is safe for concurrent use once open.
type Journal struct {
	sqljournal.Journal
	// Path is the database file; its directory is created if missing.
	Path string

	conns sqljournal.Conns // for the package's tests
}

// NewJournal returns a Journal for the database file at path, with
// defaults set. Nothing is opened until Open.
func NewJournal(path string) *Journal {
	j := &Journal{Path: path}
	j.Init()
	return j
}

// Open opens (creating if needed) the database, applies pending
// migrations and starts the writer goroutine.
func (j *Journal) Open(ctx context.Context) error {
	return j.OpenWith(ctx, dialect, func(ctx context.Context) (sqljournal.Conns, error) {
		if j.Path == "" {
			return sqljournal.Conns{}, errors.New("sqlite: journal path required")
		}
		// The driver reads everything after '?' as parameters.
		if strings.ContainsRune(j.Path, '?') {
			return sqljournal.Conns{}, fmt.Errorf("sqlite: journal path %q must not contain '?'", j.Path)
		}
		if err := os.MkdirAll(filepath.Dir(j.Path), 0o700); err != nil {
			return sqljournal.Conns{}, err
		}
		c, err := openConns(ctx, j.Path, j.ReadConns)
		j.conns = c
		return c, err
	})
}

// openConns opens the write connection (checked to be in WAL mode) and the
// read pool, closing whatever it opened if a step fails.
func openConns(ctx context.Context, path string, readConns int) (c sqljournal.Conns, err error) {
	defer func() {
		if err != nil {
			_ = c.Close()
		}
	}()
	busy := fmt.Sprintf("_pragma=busy_timeout(%d)", DefaultBusyTimeout.Milliseconds())
	// synchronous=FULL is what makes a commit durable: in WAL mode, NORMAL
	// (the usual WAL choice) may lose the last commits on power loss, and
	// an acknowledged intent must survive that.
	if c.Write, err = sql.Open("sqlite", path+"?"+busy+
		"&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=cache_size(-32000)"); err != nil {
		return c, err
	}
	c.Write.SetMaxOpenConns(1)
	c.Write.SetMaxIdleConns(1)
	c.Write.SetConnMaxLifetime(0)
	c.Write.SetConnMaxIdleTime(0)
	if c.WriteConn, err = c.Write.Conn(ctx); err != nil {
		return c, err
	}
	// journal_mode silently stays "delete" on file systems without shared
	// memory; group commit and non-blocking readers both rely on WAL.
	var mode string
	if err := c.WriteConn.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return c, err
	}
	if !strings.EqualFold(mode, "wal") {
		return c, fmt.Errorf("journal_mode is %q, want wal", mode)
	}
	if c.Read, err = sql.Open("sqlite", path+"?"+busy+"&_pragma=query_only(1)"); err != nil {
		return c, err
	}
	c.Read.SetMaxOpenConns(readConns)
	c.Read.SetMaxIdleConns(readConns)
	if err := c.Read.PingContext(ctx); err != nil {
		return c, err
	}
	// Leave a compact file behind; a failure here loses nothing (the WAL
	// is replayed on the next open).
	c.BeforeClose = func(ctx context.Context, w *sql.Conn) error {
		_, err := w.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)")
		return err
	}
	return c, nil
}
