package engine_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/quantum-alpaca/quantum/engine"
	"github.com/quantum-alpaca/quantum/internal/simtest"
	"github.com/quantum-alpaca/quantum/sim"
	"github.com/quantum-alpaca/quantum/trading"
)

// locks is an in-process stand-in for a shared lock service (the real
// one, PostgreSQL advisory locks, is tested in the postgres package): one
// holder per tenant, and a way to take every lock of one holder away, as
// a dead database session does.
type locks struct {
	mu     sync.Mutex
	holder map[trading.TenantID]*owner
}

type owner struct {
	l       *locks
	mu      sync.Mutex
	cancels map[trading.TenantID]context.CancelFunc
	dead    bool // its session is gone and cannot come back
}

func (l *locks) owner() *owner {
	return &owner{l: l, cancels: map[trading.TenantID]context.CancelFunc{}}
}

func (o *owner) Acquire(ctx context.Context, t trading.TenantID) (context.Context, func(), error) {
	o.mu.Lock()
	dead := o.dead
	o.mu.Unlock()
	if dead {
		return nil, nil, errors.New("lock session lost")
	}
	o.l.mu.Lock()
	defer o.l.mu.Unlock()
	if h := o.l.holder[t]; h != nil && h != o {
		return nil, nil, nil
	}
	o.l.holder[t] = o
	lease, cancel := context.WithCancel(ctx)
	o.mu.Lock()
	o.cancels[t] = cancel
	o.mu.Unlock()
	return lease, func() {
		cancel()
		o.l.mu.Lock()
		if o.l.holder[t] == o {
			delete(o.l.holder, t)
		}
		o.l.mu.Unlock()
	}, nil
}

// lose drops every lock o holds, as if its session died for good.
func (o *owner) lose() {
	o.l.mu.Lock()
	for t, h := range o.l.holder {
		if h == o {
			delete(o.l.holder, t)
		}
	}
	o.l.mu.Unlock()
	o.mu.Lock()
	o.dead = true
	for _, c := range o.cancels {
		c()
	}
	o.mu.Unlock()
}

// Two engines share one journal and one tenant: the first owns it
// and trades; the second waits in standby; when the first loses its lock,
// it stops its runner and the second takes over and finishes the count,
// with every order at the broker exactly once.
func TestOwnershipMovesATenant(t *testing.T) {
	t.Parallel()
	srv := simtest.Start(t, sim.Config{Seed: 8})
	b, client := MustBroker(t, srv.URL)
	dir := t.TempDir()
	l := &locks{holder: map[trading.TenantID]*owner{}}

	// Both engines use one journal, as nodes sharing a database do.
	j := MustOpenJournal(t, dir)
	newNode := func() (*engine.Engine, *owner) {
		e := newEngine(t, j)
		o := l.owner()
		e.Owners = o
		e.AcquireInterval = 20 * time.Millisecond
		if err := e.AddTenant(dcaTenant("moved", b, 60, 10*time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		return e, o
	}
	e1, o1 := newNode()
	if err := e1.Open(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "node 1 trading", func() bool {
		s, _ := e1.Status("moved")
		return s.Health == trading.HealthRunning && s.OrdersPlaced >= 10
	})
	e2, _ := newNode()
	if err := e2.Open(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "node 2 in standby", func() bool {
		s, _ := e2.Status("moved")
		return s.Health == trading.HealthStandby
	})

	o1.lose()
	waitFor(t, 5*time.Second, "node 1 stopped trading", func() bool {
		s, _ := e1.Status("moved")
		return s.Health == trading.HealthStandby
	})
	waitFor(t, 20*time.Second, "node 2 finished the count", func() bool { return journalDone(t, j, "moved", 60) })
	if s, _ := e2.Status("moved"); s.Health != trading.HealthRunning {
		t.Errorf("node 2 health %s, want running", s.Health)
	}
	_ = e1.Close(context.Background())
	_ = e2.Close(context.Background())
	assertExactly(t, client, 60)
}
