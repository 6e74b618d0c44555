package alpacabroker

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// A stream's outage is reported only past the grace, with when it began
// (the first moment, not the latest failed attempt) and the latest cause;
// connecting clears it.
func TestStreamHealth(t *testing.T) {
	h := &streamHealth{grace: 10 * time.Second}
	now := time.Now()
	if p := h.problem(now); p != "" {
		t.Fatalf("never started: %q", p)
	}
	h.connecting()
	began := h.down.Load().since
	if p := h.problem(now.Add(5 * time.Second)); p != "" {
		t.Fatalf("within the grace: %q", p)
	}
	if p := h.problem(began.Add(11 * time.Second)); !strings.Contains(p, "not connected yet") {
		t.Fatalf("past the grace: %q", p)
	}
	h.lost(errors.New("dial tcp 127.0.0.1:1: connect: connection refused"))
	if h.down.Load().since != began {
		t.Fatal("a failed attempt moved the outage's start")
	}
	if p := h.problem(began.Add(11 * time.Second)); !strings.Contains(p, "connection refused") || !strings.Contains(p, began.UTC().Format(time.RFC3339)) {
		t.Fatalf("after a refused attempt: %q", p)
	}
	h.connecting() // a new Run while down keeps the outage as it is
	if p := h.problem(began.Add(11 * time.Second)); !strings.Contains(p, "connection refused") {
		t.Fatalf("connecting again forgot the cause: %q", p)
	}
	h.connected()
	if p := h.problem(began.Add(time.Hour)); p != "" {
		t.Fatalf("connected: %q", p)
	}
}
