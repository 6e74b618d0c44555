package engine_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/quantum-alpaca/quantum/internal/simtest"
	"github.com/quantum-alpaca/quantum/sim"
	"github.com/quantum-alpaca/quantum/trading"
)

// copyJournal copies the SQLite files of a closed journal in from to to.
func copyJournal(t *testing.T, from, to string) {
	t.Helper()
	entries, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		src, err := os.Open(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		dst, err := os.Create(filepath.Join(to, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(dst, src); err != nil {
			t.Fatal(err)
		}
		src.Close()
		if err := dst.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestEngine_JournalLoss: a journal that lost orders the broker holds (an
// empty one, or an older copy) must not make a count-bounded strategy
// place them again: the engine asks the broker before the tenant trades
// and journals what it finds.
func TestEngine_JournalLoss(t *testing.T) {
	t.Parallel()
	srv := simtest.Start(t, sim.Config{Seed: 21})

	// restartOn runs the 30-order dca tenant on the journal in dir until
	// its strategy has decided 20 more times, and returns what it placed.
	restartOn := func(t *testing.T, dir string, b trading.Broker) int {
		t.Helper()
		j := MustOpenJournal(t, dir)
		defer j.Close()
		e := newEngine(t, j)
		tc, ticks := countTicks(dcaTenant("t1", b, 30, 2*time.Millisecond))
		if err := e.AddTenant(tc); err != nil {
			t.Fatal(err)
		}
		if err := e.Open(); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 5*time.Second, "20 decisions after the restart", func() bool { return ticks.Load() >= 20 })
		if err := e.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		n, err := j.Placed(context.Background(), "t1")
		if err != nil {
			t.Fatal(err)
		}
		if !journalDone(t, j, "t1", 30) {
			t.Errorf("journal does not hold 30 settled orders after the restart")
		}
		return n
	}

	t.Run("EmptyJournal", func(t *testing.T) {
		t.Parallel()
		b, client := MustBroker(t, srv.URL)
		runDCA(t, t.TempDir(), b)
		if placed := restartOn(t, t.TempDir(), b); placed != 30 {
			t.Errorf("journal counts %d placed orders after adopting, want 30", placed)
		}
		assertExactly(t, client, 30)
	})

	t.Run("OlderCopy", func(t *testing.T) {
		t.Parallel()
		b, client := MustBroker(t, srv.URL)
		// An older copy of the journal: taken after 10 of the 30 orders.
		dir, old := t.TempDir(), t.TempDir()
		j := MustOpenJournal(t, dir)
		e := newEngine(t, j)
		if err := e.AddTenant(dcaTenant("t1", b, 10, 2*time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		if err := e.Open(); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 10*time.Second, "10 orders filled", func() bool { return journalDone(t, j, "t1", 10) })
		if err := e.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := j.Close(); err != nil {
			t.Fatal(err)
		}
		copyJournal(t, dir, old)
		runDCA(t, dir, b) // on to 30
		if placed := restartOn(t, old, b); placed != 30 {
			t.Errorf("journal counts %d placed orders after adopting, want 30", placed)
		}
		assertExactly(t, client, 30)
	})
}
