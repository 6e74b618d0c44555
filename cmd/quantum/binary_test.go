package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quantum-alpaca/quantum/alpaca"
)

// The tests that run quantum as a subprocess share one build of it.
var (
	binOnce sync.Once
	binDir  string
	binPath string
	binErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// binVersion is the version the test build is stamped with, as a
// release build is.
const binVersion = "v0.0.0-test"

// quantumBinary builds the command once per test run and returns its path.
func quantumBinary(tb testing.TB) string {
	tb.Helper()
	binOnce.Do(func() {
		if binDir, binErr = os.MkdirTemp("", "quantum-test-bin-"); binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "quantum")
		ldflags := "-X github.com/quantum-alpaca/quantum/cli.Version=" + binVersion
		if out, err := exec.Command("go", "build", "-ldflags", ldflags, "-o", binPath, ".").CombinedOutput(); err != nil {
			binErr = &buildError{err: err, out: string(out)}
		}
	})
	if binErr != nil {
		tb.Fatalf("go build: %v", binErr)
	}
	return binPath
}

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + e.out }

// listAll lists every order of an account, paging by creation time.
func listAll(ctx context.Context, c *alpaca.Client) ([]alpaca.Order, error) {
	seen := map[string]bool{}
	var out []alpaca.Order
	var after time.Time
	for {
		page, err := c.ListOrders(ctx, alpaca.ListOrdersRequest{Status: alpaca.OrdersAll, Limit: 500, Direction: alpaca.Asc, After: after})
		if err != nil {
			return nil, err
		}
		fresh := 0
		for _, o := range page {
			if !seen[o.ID] {
				seen[o.ID] = true
				out = append(out, o)
				fresh++
			}
		}
		if len(page) < 500 || fresh == 0 {
			return out, nil
		}
		after = page[len(page)-1].CreatedAt.Add(-time.Nanosecond)
	}
}

// TestBinary runs the built command as a shell does: the version stamped
// in with -ldflags, and the exit status of success, help, a mistake in the
// command line and a failure.
func TestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary; skipped with -short")
	}
	bin := quantumBinary(t)
	for _, tc := range []struct {
		args   []string
		status int
		output string // in stdout or stderr
	}{
		{[]string{"version"}, 0, "quantum " + binVersion + " "},
		{[]string{"run", "-h"}, 0, "meanrev: "},
		{[]string{"fly"}, 2, `unknown command "fly"`},
		{[]string{"run", "--config", filepath.Join(t.TempDir(), "missing.yaml")}, 1, "missing.yaml"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		out, err := exec.CommandContext(ctx, bin, tc.args...).CombinedOutput()
		cancel()
		status := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			status = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if status != tc.status || !strings.Contains(string(out), tc.output) {
			t.Errorf("quantum %s: status %d, want %d; output should mention %q:\n%s", strings.Join(tc.args, " "), status, tc.status, tc.output, out)
		}
	}
}
