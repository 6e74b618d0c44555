package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/quantum-alpaca/quantum/trading"
)

// journalStall is how long the journal may go without finishing any
// tenant's write, while some wait, before the waiting writes give up.
const journalStall = 5 * time.Second

// errJournalStalled is the cause of a journal write given up because the
// journal stopped making progress.
var errJournalStalled = errors.New("the journal made no progress for " + journalStall.String())

// journalWatch bounds runners' journal writes by the journal's progress,
// not by each write's own age. Every tenant shares one writer, so on a
// loaded machine with a thousand tenants a write may queue behind many
// batches for longer than any fixed bound while the journal is perfectly
// healthy; failing it would restart the runner (and reconcile it by REST)
// for nothing, making the load worse. A journal that finishes nothing at
// all for journalStall is stuck: then every waiting write fails at once,
// with errJournalStalled as the context's cause, and the runners restart
// and show it, as any journal failure does.
//
// A journal that counts its writer's steps (sqlite's and postgres's do:
// see progressReporter) is judged by those instead: a batch of a
// thousand appends can take longer than journalStall to commit under
// -race on a loaded machine, while its writer is plainly at work.
//
// It needs no goroutine: a timer runs only while writes wait.
type journalWatch struct {
	stall    time.Duration
	log      *slog.Logger
	now      func() time.Time
	progress func() uint64 // nil: judged by finished writes only
	steps    uint64        // progress() at the last check

	mu      sync.Mutex
	waiting int
	// last is when a write last finished, or when the first of those
	// waiting now began, whichever is later.
	last   time.Time
	timer  *time.Timer
	armed  bool
	gen    context.Context
	cancel context.CancelCauseFunc
	stalls int
}

// progressReporter is a journal that counts its writer's steps.
type progressReporter interface{ Progress() uint64 }

func newJournalWatch(stall time.Duration, log *slog.Logger, j trading.Journal) *journalWatch {
	w := &journalWatch{stall: stall, log: log, now: time.Now}
	if p, ok := j.(progressReporter); ok {
		w.progress = p.Progress
		w.steps = p.Progress()
	}
	w.gen, w.cancel = context.WithCancelCause(context.Background())
	return w
}

// write runs append with a context that ends when the journal is judged
// stuck. base supplies values only; it must not be cancellable by the
// runner, as what the broker said must be recorded.
func (w *journalWatch) write(base context.Context, append func(context.Context) error) error {
	gen := w.begin()
	ctx, cancel := context.WithCancelCause(base)
	stop := context.AfterFunc(gen, func() { cancel(context.Cause(gen)) })
	err := append(ctx)
	stop()
	w.end(ctx.Err() == nil)
	if err != nil && ctx.Err() != nil {
		err = fmt.Errorf("%w: %w", err, context.Cause(ctx))
	}
	cancel(nil)
	return err
}

func (w *journalWatch) begin() context.Context {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.waiting == 0 {
		w.last = w.now()
		if w.progress != nil {
			w.steps = w.progress()
		}
	}
	w.waiting++
	if !w.armed {
		w.armed = true
		if w.timer == nil {
			w.timer = time.AfterFunc(w.stall, w.check)
		} else {
			w.timer.Reset(w.stall)
		}
	}
	return w.gen
}

// end records a finished write; progressed is false when it ended only
// because the watch gave up on it.
func (w *journalWatch) end(progressed bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.waiting--
	if progressed {
		w.last = w.now()
	}
}

func (w *journalWatch) check() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.waiting == 0 {
		w.armed = false
		return
	}
	if w.progress != nil {
		if steps := w.progress(); steps != w.steps {
			w.steps, w.last = steps, w.now()
		}
	}
	idle := w.now().Sub(w.last)
	if idle < w.stall {
		w.timer.Reset(w.stall - idle)
		return
	}
	w.stalls++
	w.log.Error("journal stalled: writes waiting and no progress; they fail, and their runners restart", "waiting", w.waiting, "idle", idle.Round(time.Millisecond))
	w.cancel(errJournalStalled)
	w.gen, w.cancel = context.WithCancelCause(context.Background())
	// The next judgement is another whole stall away.
	w.last = w.now()
	w.timer.Reset(w.stall)
}

// journalAppend journals evs for a runner, bounded by the journal's
// progress (see journalWatch), or not at all with UnboundedJournal.
func (e *Engine) journalAppend(base context.Context, evs ...trading.Event) error {
	if e.UnboundedJournal {
		return e.Journal.Append(base, evs...)
	}
	return e.jwatch.write(base, func(ctx context.Context) error { return e.Journal.Append(ctx, evs...) })
}
