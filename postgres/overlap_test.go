package postgres_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/quantum-alpaca/quantum/internal/journaltest"
	"github.com/quantum-alpaca/quantum/internal/pgtest"
	"github.com/quantum-alpaca/quantum/trading"
)

// Overlapped commits (internal/sqljournal/overlap.go) under the two
// things that make a batch fail while the one after it has already run
// its inserts: intents whose ids are taken, and the server ending the
// writer's connections. Whatever happens, each acknowledged intent is
// journaled once, a duplicate gets ECONFLICT, an intent is never
// journaled twice, and each tenant's event ids run 1..n without a gap.
func TestOverlapFailures(t *testing.T) {
	for _, kill := range []bool{false, true} {
		t.Run(map[bool]string{false: "Duplicates", true: "ConnectionsKilled"}[kill], func(t *testing.T) {
			testOverlapFailures(t, kill)
		})
	}
}

func testOverlapFailures(t *testing.T, kill bool) {
	u, err := url.Parse(pgtest.SchemaDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	// A name of its own, so that only this journal's connections are ended.
	app := fmt.Sprintf("qj-overlap-%d", os.Getpid())
	q := u.Query()
	q.Set("application_name", app)
	u.RawQuery = q.Encode()
	j := mustOpen(t, u.String())
	j.ReconnectWait, j.MaxReconnectWait = 10*time.Millisecond, 50*time.Millisecond
	defer j.Close()

	const tenants, workers, each = 4, 64, 60
	type attempt struct {
		in  trading.Intent
		dup bool // a copy of an intent appended before
		err error
	}
	var (
		mu       sync.Mutex
		attempts []attempt
	)
	ctx := context.Background()
	qty := decimal.NewFromInt(1)
	var wg sync.WaitGroup
	for w := range workers {
		tenant := trading.TenantID(fmt.Sprint("t", w%tenants))
		wg.Go(func() {
			var last *trading.Intent
			for i := range each {
				// Every fifth append repeats this worker's last intent,
				// which may be committed or still in flight.
				if last != nil && i%5 == 0 {
					err := j.Append(ctx, trading.IntentEvent(*last))
					mu.Lock()
					attempts = append(attempts, attempt{in: *last, dup: true, err: err})
					mu.Unlock()
					continue
				}
				seq, err := j.NextSequence(ctx, tenant)
				if err != nil {
					if !outageError(err) || !kill {
						t.Errorf("NextSequence: %v", err)
						return
					}
					time.Sleep(5 * time.Millisecond)
					continue
				}
				in := trading.Intent{Tenant: tenant, Seq: seq, ClientOrderID: trading.ClientOrderID(tenant, seq),
					Symbol: "AAPL", Side: trading.Buy, Type: trading.Market, TimeInForce: trading.Day, Qty: qty}
				err = j.Append(ctx, trading.IntentEvent(in))
				mu.Lock()
				attempts = append(attempts, attempt{in: in, err: err})
				mu.Unlock()
				if err != nil {
					time.Sleep(5 * time.Millisecond)
					continue
				}
				last = &in
			}
		})
	}
	// Trading states go through the same batches: the last one saved is
	// the one stored.
	var lastState trading.TradingState
	var statesFailed bool
	wg.Go(func() {
		for i := range 100 {
			st := []trading.TradingState{trading.Active, trading.Halted}[i%2]
			if err := j.SetTradingState(ctx, "t0", st); err != nil {
				if !kill || !outageError(err) {
					t.Errorf("SetTradingState: %v", err)
				}
				statesFailed = true
				continue
			}
			lastState = st
			time.Sleep(time.Millisecond)
		}
	})
	if kill {
		admin, err := sql.Open("pgx", os.Getenv(pgtest.DSNEnv))
		if err != nil {
			t.Fatal(err)
		}
		defer admin.Close()
		for range 5 {
			time.Sleep(40 * time.Millisecond)
			if _, err := admin.Exec(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1`, app); err != nil {
				t.Fatal(err)
			}
		}
	}
	wg.Wait()

	// Settle every attempt: a failed one is retried (outage errors are
	// allowed only with kills), so that the journal ends holding each
	// intent the test made exactly once.
	if states, err := j.TradingStates(ctx); err != nil {
		t.Fatal(err)
	} else if !statesFailed && states["t0"] != lastState {
		t.Errorf("stored state %q, want the last saved, %q", states["t0"], lastState)
	}

	want := make(map[string]bool)
	var conflicts, retried int
	for _, a := range attempts {
		want[a.in.ClientOrderID] = true
		switch {
		case a.err == nil:
			if a.dup {
				t.Errorf("duplicate of %s acknowledged", a.in.ClientOrderID)
			}
			continue
		case trading.ErrorCode(a.err) == trading.ECONFLICT:
			conflicts++
			continue
		case !kill || !outageError(a.err):
			t.Errorf("append of %s (duplicate %v): %v", a.in.ClientOrderID, a.dup, a.err)
			continue
		}
		retried++
		err := j.Append(ctx, trading.IntentEvent(a.in))
		switch {
		case a.dup && trading.ErrorCode(err) != trading.ECONFLICT:
			t.Errorf("retry of a duplicate of %s after %v: %v, want ECONFLICT", a.in.ClientOrderID, a.err, err)
		case err != nil && trading.ErrorCode(err) != trading.ECONFLICT:
			t.Errorf("retry of %s after %v: %v", a.in.ClientOrderID, a.err, err)
		}
	}
	t.Logf("%d attempts, %d ECONFLICT, %d retried after an outage error, %d commits", len(attempts), conflicts, retried, j.Commits())
	if conflicts == 0 {
		t.Error("no duplicate got ECONFLICT")
	}
	total := 0
	for i := range tenants {
		tenant := trading.TenantID(fmt.Sprint("t", i))
		seen := make(map[string]bool)
		for k, e := range journaltest.MustEvents(t, j, tenant) {
			if e.ID != uint64(k+1) {
				t.Fatalf("%s: event %d has id %d; want 1..n without gaps", tenant, k, e.ID)
			}
			if seen[e.ClientOrderID] {
				t.Errorf("%s: %s journaled twice", tenant, e.ClientOrderID)
			}
			if !want[e.ClientOrderID] {
				t.Errorf("%s: %s journaled but never appended", tenant, e.ClientOrderID)
			}
			seen[e.ClientOrderID] = true
			total++
		}
	}
	if total != len(want) {
		t.Errorf("%d intents journaled, want the %d appended", total, len(want))
	}
}
