package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/quantum-alpaca/quantum/internal/journaltest"
)

// BenchmarkAppendIntent measures durable intents per second; see
// journaltest.BenchmarkAppendIntent.
//
//	go test -run '^$' -bench AppendIntent -benchtime 20000x -count 3 ./sqlite/
func BenchmarkAppendIntent(b *testing.B) {
	j := MustOpenJournal(b, filepath.Join(b.TempDir(), "journal.db"))
	defer j.Close()
	journaltest.BenchmarkAppendIntent(b, j)
}
