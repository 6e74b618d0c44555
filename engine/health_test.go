package engine_test

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quantum-alpaca/quantum/alpaca"
	"github.com/quantum-alpaca/quantum/trading"
)

// syncBuffer is a log destination several goroutines write to.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// closedPort returns a loopback address where nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestEngine_BrokerDownIsLoud: a tenant whose broker does not answer is
// not silently "running": its status carries the problem with the cause,
// and the first failure is logged at once, the same one again at most
// once a minute.
func TestEngine_BrokerDownIsLoud(t *testing.T) {
	t.Parallel()
	addr := closedPort(t)
	var logs syncBuffer
	j := MustOpenJournal(t, t.TempDir())
	e := newEngine(t, j)
	e.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	b, _ := MustBroker(t, "http://"+addr, alpaca.WithRetry(1, time.Millisecond, time.Millisecond))
	if err := e.AddTenant(dcaTenant("down", b, 0, time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := e.Open(); err != nil {
		t.Fatal(err)
	}
	// The runner cannot even ask the broker what it holds, so it fails
	// and is restarted with backoff, again and again.
	var s trading.TenantStatus
	waitFor(t, 5*time.Second, "three failed starts", func() bool {
		s, _ = e.Status("down")
		return s.Restarts >= 3
	})
	if !strings.Contains(s.Problem, "connection refused") || !strings.Contains(s.Problem, addr) {
		t.Errorf("problem %q does not give the cause and the address %s", s.Problem, addr)
	}
	if err := e.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	out := logs.String()
	if n := strings.Count(out, "broker calls failing"); n != 1 {
		t.Errorf("%d 'broker calls failing' log lines, want exactly 1 (the first failure, at once):\n%s", n, out)
	}
	if n := strings.Count(out, "tenant runner failed"); n != 1 {
		t.Errorf("%d 'tenant runner failed' log lines for %d failures with the same cause, want 1:\n%s", n, s.Restarts, out)
	}
	if !strings.Contains(out, "level=WARN") || !strings.Contains(out, addr) {
		t.Errorf("the failure is not logged at WARN with the address:\n%s", out)
	}
}
