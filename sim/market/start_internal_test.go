package market

import (
	"context"
	"testing"
	"time"
)

// The ticker started with Start ends with its context, while the market
// itself stays open. The test waits for the ticker goroutine to exit
// rather than watching for quotes that stop moving.
func TestStartStopsWithContext(t *testing.T) {
	m, err := New(Config{HistoryDays: 1, TickInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	sub := m.Subscribe(0)
	defer sub.Close()
	ctx, cancel := context.WithCancel(context.Background())
	m.Start(ctx)
	select {
	case <-sub.C(): // the ticker has stepped
	case <-time.After(30 * time.Second):
		t.Fatal("no tick within 30s of Start")
	}
	cancel()
	stopped := make(chan struct{})
	go func() {
		m.tickWG.Wait()
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-time.After(30 * time.Second):
		t.Fatal("ticker still running 30s after its context ended")
	}
	if m.ctx.Err() != nil {
		t.Fatal("ending Start's context closed the market")
	}
}
