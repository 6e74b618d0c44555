package postgres_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/quantum-alpaca/quantum/internal/journaltest"
	"github.com/quantum-alpaca/quantum/internal/pgtest"
	"github.com/quantum-alpaca/quantum/postgres"
	"github.com/quantum-alpaca/quantum/trading"
)

// A network cut between the journal and PostgreSQL (issue 8, item 1):
// appends fail with an error while it lasts, succeed again soon after it
// ends without anything being restarted, and the journal holds exactly
// what was acknowledged: each intent once, event ids without gaps,
// sequence numbers never handed out twice.
func TestOutageReconnects(t *testing.T) {
	proxy, dsn := pgtest.NewProxyDSN(t, pgtest.SchemaDSN(t))
	j := postgres.NewJournal(dsn)
	// Short pauses keep the test quick; the bound below is what it checks.
	j.ReconnectWait, j.MaxReconnectWait = 10*time.Millisecond, 100*time.Millisecond
	if err := j.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer j.Close()

	// Appenders run through the whole test, so that the cut catches
	// batches in flight. Each attempt's outcome goes to the test.
	type attempt struct {
		in  trading.Intent
		err error
	}
	var (
		mu       sync.Mutex
		attempts []attempt
		seqs     = make(map[trading.TenantID]map[uint64]bool)
		acked    atomic.Int64
		failed   = make(chan struct{}, 1)
	)
	const tenants = 4
	for i := range tenants {
		seqs[trading.TenantID(fmt.Sprint("t", i))] = make(map[uint64]bool)
	}
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for w := range 8 {
		tenant := trading.TenantID(fmt.Sprint("t", w%tenants))
		wg.Go(func() {
			for ctx.Err() == nil {
				// A bounded call: an outage must fail appends, not hang them.
				cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				seq, err := j.NextSequence(cctx, tenant)
				if err == nil {
					mu.Lock()
					if seqs[tenant][seq] {
						t.Errorf("%s: sequence %d handed out twice", tenant, seq)
					}
					seqs[tenant][seq] = true
					mu.Unlock()
					in := trading.Intent{Tenant: tenant, Seq: seq, ClientOrderID: trading.ClientOrderID(tenant, seq),
						Symbol: "AAPL", Side: trading.Buy, Type: trading.Market, TimeInForce: trading.Day, Qty: decimal.NewFromInt(1)}
					err = j.Append(cctx, trading.IntentEvent(in))
					mu.Lock()
					attempts = append(attempts, attempt{in, err})
					mu.Unlock()
				}
				cancel()
				if err == nil {
					acked.Add(1)
					continue
				}
				if !outageError(err) {
					t.Errorf("during the outage: %v; want EUNAVAILABLE or an unknown commit outcome", err)
				}
				select {
				case failed <- struct{}{}:
				default:
				}
				// The runners' restart backoff, shortened.
				select {
				case <-ctx.Done():
				case <-time.After(5 * time.Millisecond):
				}
			}
		})
	}
	defer func() {
		stop()
		wg.Wait()
	}()

	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.After(30 * time.Second)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for !cond() {
			select {
			case <-deadline:
				t.Fatalf("%s: not within 30s", what)
			case <-tick.C:
			}
		}
	}

	waitFor("appends before the cut", func() bool { return acked.Load() >= 200 })
	select {
	case <-failed:
		t.Fatal("an append failed before the cut")
	default:
	}
	proxy.Cut()
	select {
	case <-failed:
	case <-time.After(30 * time.Second):
		t.Fatal("appends kept succeeding (or hanging) with the database cut off")
	}
	// While cut, appends keep failing: none is acknowledged.
	before := acked.Load()
	for range 3 {
		select {
		case <-failed:
		case <-time.After(30 * time.Second):
			t.Fatal("appends stopped failing with the database cut off")
		}
	}
	if _, err := j.Order(context.Background(), "t0", "x"); err == nil || trading.ErrorCode(err) == trading.ENOTFOUND {
		t.Errorf("Order with the database cut off = %v, want an error", err)
	}
	if got := acked.Load(); got > before+8 { // at most the batch in flight at the cut
		t.Errorf("%d appends acknowledged while cut", got-before)
	}

	proxy.Restore()
	restored := acked.Load()
	waitFor("appends after the database came back", func() bool { return acked.Load() >= restored+200 })
	stop()
	wg.Wait()

	// Callers retry what failed: EUNAVAILABLE means nothing was written,
	// so the retry must succeed; an unknown outcome may have committed, so
	// the retry succeeds or reports ECONFLICT, never a second copy.
	bg := context.Background()
	var unavailable, unknown int
	want := make(map[string]bool)
	for _, a := range attempts {
		want[a.in.ClientOrderID] = true
		if a.err == nil {
			continue
		}
		err := j.Append(bg, trading.IntentEvent(a.in))
		switch {
		case trading.ErrorCode(a.err) == trading.EUNAVAILABLE:
			unavailable++
			if err != nil {
				t.Errorf("retry of %s after EUNAVAILABLE: %v, want nil (nothing was written)", a.in.ClientOrderID, err)
			}
		default:
			unknown++
			if err != nil && trading.ErrorCode(err) != trading.ECONFLICT {
				t.Errorf("retry of %s after %v: %v, want nil or ECONFLICT", a.in.ClientOrderID, a.err, err)
			}
		}
	}
	t.Logf("%d attempts: %d EUNAVAILABLE, %d unknown outcome", len(attempts), unavailable, unknown)
	if unavailable == 0 {
		t.Error("no append failed with EUNAVAILABLE while cut")
	}

	// The reader pool came back by itself too.
	total := 0
	for i := range tenants {
		tenant := trading.TenantID(fmt.Sprint("t", i))
		events := journaltest.MustEvents(t, j, tenant)
		seen := make(map[string]bool)
		for k, e := range events {
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
		}
		total += len(events)
	}
	if total != len(want) {
		t.Errorf("%d intents journaled, want the %d appended", total, len(want))
	}
}

// outageError reports whether err is what an append may return while
// the database is cut off.
func outageError(err error) bool {
	return trading.ErrorCode(err) == trading.EUNAVAILABLE ||
		(trading.ErrorCode(err) == trading.EINTERNAL && strings.Contains(err.Error(), "outcome unknown"))
}
