package cli

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
)

// DefaultDemoDataDir is the demo's journal directory. It is its own, not
// DefaultDataDir, because the demo empties it at each start: a config
// that leaves data out must never lose its journal to a demo run.
const DefaultDemoDataDir = "./quantum-data/demo"

// demoDataDir is where the demo keeps its journal unless --data says.
func (a *App) demoDataDir() string {
	if a.demoData != "" {
		return a.demoData
	}
	return DefaultDemoDataDir
}

// demoFiles are what a run leaves in its data directory: the SQLite
// journal with its WAL and shared-memory files, and the trading-state
// file of older versions (imported into the journal, then renamed).
var demoFiles = []string{
	"journal.db", "journal.db-wal", "journal.db-shm", "journal.db-journal",
	stateFileName, stateFileName + ".imported",
}

// resetDemoData removes the previous demo's journal and trading states
// from dir, so that the demo starts as its embedded broker does: empty.
// Without it a second demo run showed the first run's positions, which
// the fresh broker does not hold, and started HALTED if the first was
// halted (issue 11). Only the files a run writes are removed, so anything
// else a user put there is kept.
func resetDemoData(dir string, log *slog.Logger) error {
	removed := 0
	for _, name := range demoFiles {
		err := os.Remove(filepath.Join(dir, name))
		switch {
		case err == nil:
			removed++
		case !errors.Is(err, os.ErrNotExist):
			return fmt.Errorf("demo: start from a clean state: %w", err)
		}
	}
	if removed > 0 {
		log.Info("demo: starting from a clean state, as the embedded broker does: the previous demo's journal and trading states are removed (--data keeps a journal)", "data", dir)
	}
	return nil
}
