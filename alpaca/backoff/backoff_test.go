package backoff_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/quantum-alpaca/quantum/alpaca/backoff"
)

func TestExponential(t *testing.T) {
	const base, max = 100 * time.Millisecond, 2 * time.Second
	tests := []struct {
		name     string
		base     time.Duration
		max      time.Duration
		n        int
		min, lim time.Duration // inclusive bounds
	}{
		{"First", base, max, 1, 50 * time.Millisecond, 100 * time.Millisecond},
		{"Zeroth", base, max, 0, 50 * time.Millisecond, 100 * time.Millisecond},
		{"Third", base, max, 3, 200 * time.Millisecond, 400 * time.Millisecond},
		{"Capped", base, max, 30, time.Second, 2 * time.Second},
		{"HugeN", base, max, 1 << 30, time.Second, 2 * time.Second},
		{"MaxNearOverflow", time.Second, time.Duration(1<<63 - 1), 80, time.Duration(1<<63-1) / 2, time.Duration(1<<63 - 1)},
		{"BaseAboveMax", time.Minute, time.Second, 1, 500 * time.Millisecond, time.Second},
		{"ZeroBase", 0, max, 3, 0, 0},
		{"ZeroMax", base, 0, 3, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for range 200 { // jitter
				got := backoff.Exponential(tt.base, tt.max, tt.n)
				if got < tt.min || got > tt.lim {
					t.Fatalf("Exponential(%v, %v, %d) = %v, want within [%v, %v]", tt.base, tt.max, tt.n, got, tt.min, tt.lim)
				}
			}
		})
	}
}

func TestJitter(t *testing.T) {
	if got := backoff.Jitter(0); got != 0 {
		t.Errorf("Jitter(0) = %v", got)
	}
	if got := backoff.Jitter(-time.Second); got != 0 {
		t.Errorf("Jitter(-1s) = %v", got)
	}
	for range 100 {
		if got := backoff.Jitter(time.Millisecond); got < 0 || got >= time.Millisecond {
			t.Fatalf("Jitter(1ms) = %v", got)
		}
	}
}

func TestSleep(t *testing.T) {
	t.Run("Elapses", func(t *testing.T) {
		if err := backoff.Sleep(t.Context(), time.Millisecond); err != nil {
			t.Fatalf("Sleep = %v", err)
		}
	})
	t.Run("ZeroChecksContext", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		if err := backoff.Sleep(ctx, 0); err != nil {
			t.Fatalf("Sleep(0) = %v", err)
		}
		cancel()
		if err := backoff.Sleep(ctx, 0); !errors.Is(err, context.Canceled) {
			t.Fatalf("Sleep(0) on a cancelled context = %v", err)
		}
	})
	t.Run("CancelEndsWait", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- backoff.Sleep(ctx, time.Hour) }()
		cancel()
		// An hour-long sleep that ends at all ended with the context; the
		// timeout below is only a safety net.
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("Sleep = %v, want context.Canceled", err)
			}
		case <-time.After(time.Minute):
			t.Fatal("Sleep ignored the cancelled context")
		}
	})
}
