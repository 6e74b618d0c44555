// Package pgtest gives tests an empty PostgreSQL schema of their own in
// the database named by QUANTUM_TEST_POSTGRES_DSN, and skips them with a
// message when it is unset.
package pgtest

import (
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"sync/atomic"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
)

// DSNEnv names the database the tests use; .ci/run sets it.
const DSNEnv = "QUANTUM_TEST_POSTGRES_DSN"

var seq atomic.Int64

// SchemaDSN creates an empty schema, dropped when tb ends, and returns a
// DSN whose connections use it.
func SchemaDSN(tb testing.TB) string {
	tb.Helper()
	base := os.Getenv(DSNEnv)
	if base == "" {
		tb.Skipf("%s is not set: skipping the PostgreSQL tests (example: postgres://postgres@127.0.0.1:5432/test?sslmode=disable)", DSNEnv)
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		tb.Fatalf("%s must be a postgres:// URL", DSNEnv)
	}
	db, err := sql.Open("pgx", base)
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	schema := fmt.Sprintf("qj_%d_%d", os.Getpid(), seq.Add(1))
	if _, err := db.Exec(`CREATE SCHEMA ` + schema); err != nil {
		tb.Fatalf("create schema: %v", err)
	}
	tb.Cleanup(func() {
		db, err := sql.Open("pgx", base)
		if err != nil {
			tb.Error(err)
			return
		}
		defer db.Close()
		if _, err := db.Exec(`DROP SCHEMA ` + schema + ` CASCADE`); err != nil {
			tb.Errorf("drop schema: %v", err)
		}
	})
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
