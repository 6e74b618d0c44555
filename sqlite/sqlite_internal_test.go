package sqlite

import (
	"context"
	"io/fs"
	"path/filepath"
	"testing"

	"github.com/quantum-alpaca/quantum/internal/journaltest"
)

func mustOpen(t *testing.T) *Journal {
	t.Helper()
	j := NewJournal(filepath.Join(t.TempDir(), "journal.db"))
	if err := j.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	return j
}

// The durability claim rests on these two settings of the write connection.
func TestWriteConnectionIsDurable(t *testing.T) {
	j := mustOpen(t)
	ctx := context.Background()
	var mode string
	var sync int
	if err := j.conns.WriteConn.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if err := j.conns.WriteConn.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&sync); err != nil {
		t.Fatal(err)
	}
	if mode != "wal" || sync != 2 {
		t.Errorf("journal_mode=%s synchronous=%d, want wal and 2 (FULL)", mode, sync)
	}
}

// Concurrent appends must share commits: that is the whole point of the
// writer goroutine.
func TestGroupCommitBatches(t *testing.T) { journaltest.GroupCommit(t, mustOpen(t)) }

// Migrations run once: reopening applies nothing twice.
func TestMigrateIdempotent(t *testing.T) {
	files, err := fs.Glob(migrationFS, "migration/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("migration files: %v, %v", files, err)
	}
	path := filepath.Join(t.TempDir(), "journal.db")
	for range 2 {
		j := NewJournal(path)
		if err := j.Open(context.Background()); err != nil {
			t.Fatal(err)
		}
		var n int
		if err := j.conns.Read.QueryRow(`SELECT COUNT(*) FROM migrations`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != len(files) {
			t.Errorf("%d migrations recorded, want %d", n, len(files))
		}
		if err := j.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
