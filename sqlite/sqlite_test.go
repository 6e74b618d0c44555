package sqlite_test

import (
	"context"
	"path/filepath"
	"sync"
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
	// The suite reopens a test's storage to simulate a restart, so each
	// test's file is remembered by its *testing.T.
	var mu sync.Mutex
	paths := make(map[*testing.T]string)
	journaltest.Run(t, func(t *testing.T) trading.Journal {
		mu.Lock()
		path, ok := paths[t]
		if !ok {
			path = filepath.Join(t.TempDir(), "journal.db")
			paths[t] = path
		}
		mu.Unlock()
		return MustOpenJournal(t, path)
	})
}
