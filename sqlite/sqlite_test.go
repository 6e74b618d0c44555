package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/quantum-alpaca/quantum/internal/journaltest"
	"github.com/quantum-alpaca/quantum/sqlite"
	"github.com/quantum-alpaca/quantum/trading"
)

// MustOpenJournal opens a Journal at path and fails the test on error.
// The caller (or the conformance suite) closes it.
func MustOpenJournal(tb testing.TB, path string) *sqlite.Journal {
	tb.Helper()
	j := sqlite.NewJournal(path)
	if err := j.Open(context.Background()); err != nil {
		tb.Fatalf("Open(%s): %v", path, err)
	}
	return j
}

func TestJournal(t *testing.T) {
	journaltest.Run(t, journaltest.PerTest(
		func(t *testing.T) string { return filepath.Join(t.TempDir(), "journal.db") },
		func(t *testing.T, path string) trading.Journal { return MustOpenJournal(t, path) }))
}
