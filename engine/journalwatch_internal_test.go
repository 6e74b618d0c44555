package engine

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quantum-alpaca/quantum/trading"
)

// fakeClock is the watch's clock, moved by the test; the watch's own
// timer is set an hour out so that only the test's check calls judge.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// heldWrite is a journal write that finishes when the test says so, or
// when its context ends.
type heldWrite struct {
	finish  chan struct{}
	started chan struct{}
	err     chan error
}

func startWrite(w *journalWatch) *heldWrite {
	h := &heldWrite{finish: make(chan struct{}), started: make(chan struct{}), err: make(chan error, 1)}
	go func() {
		h.err <- w.write(context.Background(), func(ctx context.Context) error {
			close(h.started)
			select {
			case <-h.finish:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	<-h.started
	return h
}

// stepJournal is a journal's writer-step counter, moved by the test.
type stepJournal struct {
	trading.Journal
	steps atomic.Uint64
}

func (j *stepJournal) Progress() uint64 { return j.steps.Load() }

func newTestWatch(stall time.Duration) (*journalWatch, *fakeClock) {
	clk := &fakeClock{t: time.Date(2026, 1, 5, 15, 0, 0, 0, time.UTC)}
	w := newJournalWatch(time.Hour, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	w.stall = stall
	w.now = clk.now
	return w, clk
}

func TestJournalWatchSlowButProgressing(t *testing.T) {
	w, clk := newTestWatch(5 * time.Second)
	// Three writes queued behind one another, finishing 4 s apart: the
	// last waits 12 s, more than the stall bound, yet the journal never
	// went 5 s without finishing one.
	writes := []*heldWrite{startWrite(w), startWrite(w), startWrite(w)}
	for _, h := range writes {
		clk.add(4 * time.Second)
		w.check()
		close(h.finish)
		if err := <-h.err; err != nil {
			t.Fatalf("a write of a progressing journal failed: %v", err)
		}
	}
	if w.stalls != 0 {
		t.Fatalf("%d stalls declared for a journal that kept finishing writes", w.stalls)
	}
}

func TestJournalWatchWriterSteps(t *testing.T) {
	w, clk := newTestWatch(5 * time.Second)
	j := &stepJournal{}
	w.progress = j.Progress
	// One write inside a batch that takes 12 s to commit: no write
	// finishes, but the writer keeps stepping through the batch.
	h := startWrite(w)
	for range 3 {
		clk.add(4 * time.Second)
		j.steps.Add(100)
		w.check()
	}
	close(h.finish)
	if err := <-h.err; err != nil {
		t.Fatalf("a write in a long batch of a working journal failed: %v", err)
	}
	// The writer stops stepping: stuck.
	h = startWrite(w)
	clk.add(3 * time.Second)
	w.check()
	clk.add(3 * time.Second)
	w.check()
	if err := <-h.err; !errors.Is(err, errJournalStalled) {
		t.Fatalf("a write to a journal whose writer stopped returned %v, want the stall", err)
	}
}

func TestJournalWatchStuck(t *testing.T) {
	w, clk := newTestWatch(5 * time.Second)
	a := startWrite(w)
	clk.add(3 * time.Second)
	b := startWrite(w)
	clk.add(2 * time.Second)
	w.check()
	for _, h := range []*heldWrite{a, b} {
		err := <-h.err
		if !errors.Is(err, errJournalStalled) || !errors.Is(err, context.Canceled) {
			t.Fatalf("a write to a stuck journal returned %v, want the stall as its cause", err)
		}
	}
	// The watch starts afresh: a write after the stall is judged on its
	// own time.
	c := startWrite(w)
	clk.add(4 * time.Second)
	w.check()
	close(c.finish)
	if err := <-c.err; err != nil {
		t.Fatalf("a write after a stall failed: %v", err)
	}
}

func TestJournalWatchIdleThenWrite(t *testing.T) {
	w, clk := newTestWatch(5 * time.Second)
	h := startWrite(w)
	close(h.finish)
	if err := <-h.err; err != nil {
		t.Fatal(err)
	}
	// An hour with nothing to write is not a stall.
	clk.add(time.Hour)
	h = startWrite(w)
	w.check()
	close(h.finish)
	if err := <-h.err; err != nil {
		t.Fatalf("the first write after an idle hour failed: %v", err)
	}
}
