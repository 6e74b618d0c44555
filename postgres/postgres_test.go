package postgres_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quantum-alpaca/quantum/internal/journaltest"
	"github.com/quantum-alpaca/quantum/internal/pgtest"
	"github.com/quantum-alpaca/quantum/postgres"
	"github.com/quantum-alpaca/quantum/trading"
)

func mustOpen(tb testing.TB, dsn string) *postgres.Journal {
	tb.Helper()
	j := postgres.NewJournal(dsn)
	if err := j.Open(context.Background()); err != nil {
		tb.Fatalf("Open: %v", err)
	}
	return j
}

func TestJournal(t *testing.T) {
	journaltest.Run(t, journaltest.PerTest(
		func(t *testing.T) string { return pgtest.SchemaDSN(t) },
		func(t *testing.T, dsn string) trading.Journal { return mustOpen(t, dsn) }))
}

// Two nodes starting on one empty database migrate it once between them.
func TestConcurrentOpenMigratesOnce(t *testing.T) {
	dsn := pgtest.SchemaDSN(t)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			j := postgres.NewJournal(dsn)
			if err := j.Open(context.Background()); err != nil {
				errs <- err
				return
			}
			errs <- j.Close()
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

// Concurrent appends share commits: group commit works over the network
// too.
func TestGroupCommitBatches(t *testing.T) {
	j := mustOpen(t, pgtest.SchemaDSN(t))
	defer j.Close()
	journaltest.GroupCommit(t, j)
}

// A bad DSN is reported without repeating it: it may hold a password.
func TestBadDSNHidesPassword(t *testing.T) {
	j := postgres.NewJournal("postgres://u:hunter2@127.0.0.1:1/db?sslmode=bogus")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := j.Open(ctx)
	if err == nil {
		t.Fatal("Open succeeded")
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error leaks the password: %v", err)
	}
}

// BenchmarkAppendIntent measures durable intents per second through
// PostgreSQL; see journaltest.BenchmarkAppendIntent.
//
//	QUANTUM_TEST_POSTGRES_DSN=... go test -run '^$' -bench AppendIntent -benchtime 20000x -count 3 ./postgres/
func BenchmarkAppendIntent(b *testing.B) {
	j := mustOpen(b, pgtest.SchemaDSN(b))
	defer j.Close()
	journaltest.BenchmarkAppendIntent(b, j)
}
