// Package postgres implements trading.Journal on PostgreSQL (jackc/pgx), the
// store for running several engine nodes against one database.
//
// It shares its implementation with the SQLite store (internal/sqljournal:
// group commit, sequence blocks, every query) and passes the same
// conformance suite. A commit is durable when PostgreSQL says so
// (synchronous_commit, on by default); group commit makes N concurrent
// appends one commit, and each commit of intents is pipelined (one or two
// round trips whatever the batch size; see internal/sqljournal's
// pipeline.go). The writer has two connections: a batch's inserts run on
// one while the batch before it waits for its COMMIT's WAL flush on the
// other, and each batch commits only after the one before it has
// (internal/sqljournal's overlap.go).
//
// The journal survives the database going away: while it is unreachable
// appends fail at once (EUNAVAILABLE when nothing was written; an
// EINTERNAL "outcome unknown" error when the connection died during
// COMMIT), and once it answers again they succeed, without a restart.
//
// Several engines may share a database as long as each tenant is written
// by one of them at a time (sequence blocks are cached per process):
// Ownership assigns the tenants, and the journal (a trading.StateStore)
// shares their trading states.
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/quantum-alpaca/quantum/internal/sqljournal"
	"github.com/quantum-alpaca/quantum/trading"
)

//go:embed migration/*.sql
var migrationFS embed.FS

// Compile-time proof that Journal is a trading.Journal.
var _ trading.Journal = (*Journal)(nil)

var dialect = sqljournal.Dialect{
	Name:         "postgres",
	Placeholders: "dollar",
	Begin:        "BEGIN",
	Greatest:     "GREATEST",
	False:        "false",
	Migrations:   migrationFS,
	// Nodes starting together take turns (CREATE TABLE IF NOT EXISTS
	// itself races in PostgreSQL): the second sees the first's migrations
	// recorded and skips them. The key is arbitrary and fixed.
	InsertOrderEvent: sqljournal.OrderEventInsert([]string{"::text", "::bigint", "::text", "::text", "::bigint", "::text",
		"::text", "::text", "::text", "::text", "::text", "::text"}),
	MigrateLock:   "SELECT pg_advisory_lock(7243006121)",
	MigrateUnlock: "SELECT pg_advisory_unlock(7243006121)",
	Send:          send,
}

// WriteIdleInTransactionTimeout is the write connection's
// idle_in_transaction_session_timeout. The writer never leaves a
// transaction idle (it pipelines each batch), so a transaction idle this
// long belongs to a writer the network cut off: the server ends it and
// frees its row locks for the writer's new connection, instead of
// holding them until TCP notices the dead peer.
const WriteIdleInTransactionTimeout = "10s"

// send runs stmts in one round trip: a pgx batch on the connection under
// database/sql, pipelined, so that the server stops at the first error.
func send(ctx context.Context, conn *sql.Conn, stmts []sqljournal.Stmt) error {
	return conn.Raw(func(dc any) error {
		c, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("postgres: driver connection is %T, want *stdlib.Conn", dc)
		}
		b := &pgx.Batch{}
		for _, s := range stmts {
			q := b.Queue(s.SQL, s.Args...)
			switch {
			case s.Row != nil:
				q.Query(func(rows pgx.Rows) error {
					for rows.Next() {
						if err := s.Row(rows.Scan); err != nil {
							return err
						}
					}
					return rows.Err()
				})
			case s.SQL == "COMMIT":
				// COMMIT of a failed transaction answers ROLLBACK, not an
				// error; nothing may take that for a commit.
				q.Exec(func(tag pgconn.CommandTag) error {
					if tag.String() != "COMMIT" {
						return fmt.Errorf("commit answered %q", tag.String())
					}
					return nil
				})
			}
		}
		return c.Conn().SendBatch(ctx, b).Close()
	})
}

// Journal is a trading.Journal in a PostgreSQL database. Create it with
// NewJournal, adjust the exported fields, then call Open; Close it when
// done. It is safe for concurrent use once open.
type Journal struct {
	sqljournal.Journal
	// DSN is a PostgreSQL connection string
	// (postgres://user@host:5432/db?sslmode=disable, or key=value form).
	DSN string
}

// NewJournal returns a Journal for the database at dsn, with defaults set.
// Nothing is opened until Open.
func NewJournal(dsn string) *Journal {
	j := &Journal{DSN: dsn}
	j.Init()
	return j
}

// Open connects, applies pending migrations and starts the writer.
func (j *Journal) Open(ctx context.Context) error {
	return j.OpenWith(ctx, dialect, func(ctx context.Context) (c sqljournal.Conns, err error) {
		if j.DSN == "" {
			return c, errors.New("postgres: DSN required")
		}
		cfg, err := parseDSN(j.DSN)
		if err != nil {
			return c, err
		}
		defer func() {
			if err != nil {
				_ = c.Close()
			}
		}()
		wcfg := cfg.Copy()
		wcfg.RuntimeParams["idle_in_transaction_session_timeout"] = WriteIdleInTransactionTimeout
		c.Write = stdlib.OpenDB(*wcfg)
		c.Write.SetMaxOpenConns(1)
		c.Write.SetMaxIdleConns(1)
		c.Write.SetConnMaxLifetime(0)
		c.Write.SetConnMaxIdleTime(0)
		if c.WriteConn, err = c.Write.Conn(ctx); err != nil {
			return c, err
		}
		// The writer's other connections, opened when first needed.
		c.OverlapConns = overlapConns
		c.Overlap = stdlib.OpenDB(*wcfg)
		c.Overlap.SetMaxOpenConns(c.OverlapConns)
		c.Overlap.SetMaxIdleConns(c.OverlapConns)
		c.Overlap.SetConnMaxLifetime(0)
		c.Overlap.SetConnMaxIdleTime(0)
		c.Read = stdlib.OpenDB(*cfg)
		c.Read.SetMaxOpenConns(j.ReadConns)
		c.Read.SetMaxIdleConns(j.ReadConns)
		return c, c.Read.PingContext(ctx)
	})
}

// overlapConns is how many write connections the writer has besides its
// main one. One was measured best on 2 cores (docs/benchmarks.md,
// 2026-12-05): with two, batches grew smaller without going faster.
const overlapConns = 1

// parseDSN reads a connection string. pgx's own error repeats the string,
// password included, so it is not passed on.
// Describe returns where dsn points, for logs and banners: user, host,
// port and database, never the password, whether dsn is a postgres:// URL
// or a keyword/value string ("host=... password=..."). The error never
// quotes dsn.
func Describe(dsn string) (string, error) {
	cfg, err := parseDSN(dsn)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s@%s:%d/%s", cfg.User, cfg.Host, cfg.Port, cfg.Database), nil
}

func parseDSN(dsn string) (*pgx.ConnConfig, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, errors.New("postgres: invalid DSN")
	}
	return cfg, nil
}
