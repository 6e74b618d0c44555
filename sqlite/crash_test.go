package sqlite_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quantum-alpaca/quantum/trading"
	"github.com/shopspring/decimal"
)

// crashChildEnv switches this test binary into the child role of
// TestCrashDurability; its value is the database path.
const crashChildEnv = "QUANTUM_SQLITE_CRASH_CHILD"

// TestCrashDurability appends from a child process, kills it with SIGKILL
// mid-stream, reopens the file and checks that every append the child saw
// acknowledged is there, and that no append is there in part. (SIGKILL
// tests atomicity and ack-after-commit; surviving power loss is the job of
// synchronous=FULL, which TestWriteConnectionIsDurable checks.)
func TestCrashDurability(t *testing.T) {
	if path := os.Getenv(crashChildEnv); path != "" {
		crashChild(t, path)
		return
	}
	if testing.Short() {
		t.Skip("starts a subprocess")
	}
	path := filepath.Join(t.TempDir(), "journal.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashDurability$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+path)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })

	type ack struct {
		tenant trading.TenantID
		coid   string
	}
	var acked []ack
	lines := bufio.NewScanner(out)
	deadline := time.Now().Add(20 * time.Second)
	killed := false
	for lines.Scan() {
		f := strings.Fields(lines.Text())
		if len(f) == 3 && f[0] == "ack" {
			acked = append(acked, ack{trading.TenantID(f[1]), f[2]})
		}
		// Kill while appends are in flight; keep reading what the child
		// wrote before it died: those were acknowledged too.
		if !killed && (len(acked) >= 1500 || time.Now().After(deadline)) {
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			killed = true
		}
	}
	cmd.Wait()
	if len(acked) == 0 {
		t.Fatal("child acknowledged nothing")
	}

	j := MustOpenJournal(t, path)
	defer j.Close()
	ctx := context.Background()
	for _, a := range acked {
		st, err := j.Order(ctx, a.tenant, a.coid)
		if err != nil {
			t.Fatalf("acknowledged %s/%s lost: %v", a.tenant, a.coid, err)
		}
		if st.Status != trading.StatusNew {
			t.Errorf("%s/%s: status %q, want new", a.tenant, a.coid, st.Status)
		}
	}
	total := 0
	for _, tenant := range crashTenants {
		orders, err := j.Orders(ctx, trading.OrderFilter{TenantID: tenant, Limit: trading.MaxListLimit})
		if err != nil {
			t.Fatal(err)
		}
		total += len(orders)
		// Each Append was intent+ack: an intent alone would be half an Append.
		for _, o := range orders {
			if o.Status != trading.StatusNew {
				t.Errorf("%s: status %q: an Append survived in part", o.Intent.ClientOrderID, o.Status)
			}
		}
		// A sequence handed out before the crash is never handed out again.
		if len(orders) > 0 {
			seq, err := j.NextSequence(ctx, tenant)
			if err != nil || seq <= orders[0].Intent.Seq {
				t.Errorf("%s: NextSequence after crash = %d, %v; want > %d", tenant, seq, err, orders[0].Intent.Seq)
			}
		}
	}
	t.Logf("killed after %d acknowledged appends; %d on disk", len(acked), total)
}

var crashTenants = []trading.TenantID{"alpha", "bravo", "charlie", "delta"}

// crashChild appends intent+ack pairs from many goroutines and prints
// "ack TENANT COID" after each acknowledged Append, until it is killed.
func crashChild(t *testing.T, path string) {
	j := MustOpenJournal(t, path)
	ctx := context.Background()
	var mu sync.Mutex
	var wg sync.WaitGroup
	// A bound, so that a child whose parent died does not run forever.
	stop := time.Now().Add(time.Minute)
	for w := range 32 {
		tenant := crashTenants[w%len(crashTenants)]
		wg.Go(func() {
			for time.Now().Before(stop) {
				seq, err := j.NextSequence(ctx, tenant)
				if err != nil {
					t.Error(err)
					return
				}
				in := trading.Intent{Tenant: tenant, Seq: seq, ClientOrderID: trading.ClientOrderID(tenant, seq),
					Symbol: "AAPL", Side: trading.Buy, Type: trading.Market, TimeInForce: trading.Day, Qty: decimal.NewFromInt(1)}
				err = j.Append(ctx, trading.IntentEvent(in), trading.Event{Tenant: tenant, ClientOrderID: in.ClientOrderID,
					Kind: trading.EventAck, BrokerOrderID: "b" + in.ClientOrderID, Status: trading.StatusNew})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				fmt.Fprintf(os.Stdout, "ack %s %s\n", tenant, in.ClientOrderID)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}
