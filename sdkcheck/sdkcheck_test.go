package sdkcheck_test

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/quantum-alpaca/quantum/internal/simtest"
	"github.com/quantum-alpaca/quantum/sim"
)

// summary is check.mjs's closing line.
var summary = regexp.MustCompile(`^(\d+) passed, (\d+) failed$`)

// TestTypeScriptSDK runs the official Alpaca TypeScript SDK, unchanged,
// against an in-process broker: every trading, market-data and streaming
// call the broker serves must pass.
func TestTypeScriptSDK(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not on PATH: install Node.js >= 20, then run `npm ci --prefix sdkcheck/js` to run the TypeScript SDK check")
	}
	dir, err := filepath.Abs("js")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@alpacahq", "alpaca-trade-api", "package.json")); err != nil {
		t.Skip("the TypeScript SDK is not installed: run `npm ci --prefix sdkcheck/js` from the repository root")
	}

	b := simtest.Start(t, sim.Config{Seed: 1})

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "check.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"QUANTUM_BROKER_URL="+b.URL,
		"APCA_API_KEY_ID=PKSDKCHECKJS",
		"APCA_API_SECRET_KEY=sdkcheck-js-secret",
		"NO_COLOR=1",
	)
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout // one stream, in order
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}

	var last string
	var fails []string
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		t.Log(line)
		if len(line) > 5 && line[:5] == "FAIL " {
			fails = append(fails, line)
		}
		if line != "" {
			last = line
		}
	}
	waitErr := cmd.Wait()

	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatalf("check.mjs did not finish within 2 minutes")
	}
	for _, f := range fails {
		t.Error(f)
	}
	m := summary.FindStringSubmatch(last)
	if m == nil {
		t.Fatalf("check.mjs ended without its summary line (last line %q, exit: %v)", last, waitErr)
	}
	passed, _ := strconv.Atoi(m[1])
	failed, _ := strconv.Atoi(m[2])
	if failed != 0 {
		t.Errorf("%d SDK calls failed", failed)
	}
	if passed == 0 {
		t.Error("check.mjs passed no calls")
	}
	if waitErr != nil {
		t.Errorf("check.mjs: %v", waitErr)
	}
}
