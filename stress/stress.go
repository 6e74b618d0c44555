// Package stress is the concurrent order-placement load generator behind
// `quantum stress`. It drives any Alpaca-compatible endpoint through the
// project's own alpaca client, with a key pair per account (the Trading
// API) or with one firm key over many customer accounts (the Broker API),
// and then proves, by reconciling with each account's order list, that no
// order was lost, placed twice or placed in the wrong account.
package stress

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/shopspring/decimal"

	"github.com/quantum-alpaca/quantum/alpaca"
	"github.com/quantum-alpaca/quantum/alpaca/backoff"
	"github.com/quantum-alpaca/quantum/internal/brokeracct"
)

// Tenant is one account the run places orders for.
type Tenant struct {
	KeyID, Secret string
}

// BrokerAPI is the Broker API shape of a run: customer accounts opened
// behind one firm key, all traded through the firm's one client.
type BrokerAPI struct {
	// Key and Secret are the firm's credentials.
	Key, Secret string
	// Accounts is how many customer accounts the run opens; the orders
	// are spread over them evenly, a buy and the sell after it always in
	// the same account. At most Threads x ceil(OrdersPerThread/2), so
	// that every account gets orders.
	Accounts int
	// FundFrom, when set, is the firm account that Cash is journaled from
	// into each new account (Alpaca's sandbox opens them empty).
	FundFrom string
	Cash     decimal.Decimal
	// Progress, when set, is called after each account is opened (or has
	// failed) with the number finished so far; never concurrently.
	Progress func(done int)
}

// Config describes a run.
type Config struct {
	// Target is the broker's trading base URL, or with Broker its Broker
	// API base URL.
	Target string
	// Tenants are the Trading API accounts; workers are spread over them
	// round-robin. Empty with Broker.
	Tenants []Tenant
	// Broker, when set, runs the Broker API shape instead of Tenants.
	Broker *BrokerAPI
	// Threads is the number of concurrent workers.
	Threads int
	// OrdersPerThread is how many orders each worker places.
	OrdersPerThread int
	// ClientPerWorker gives every worker its own client (and so its own
	// connection pool), the original system's pattern; by default the
	// workers of a tenant share one client. Not with Broker, whose point
	// is one client for the firm.
	ClientPerWorker bool
	// RateLimit is requests per minute per client (with Broker, for the
	// whole firm); 0 means unlimited.
	RateLimit int
	// Symbols the orders rotate through. Default: AAPL.
	Symbols []string
	// RunID prefixes every client_order_id so that a run's orders can be
	// told from any other orders in the account.
	RunID string
	// Timeout bounds the whole run including reconciliation.
	Timeout time.Duration
	// Progress, when set, is called about every 200ms with the orders
	// finished so far and the errors among them.
	Progress func(done, errors int64)
	// ClientOptions are extra options for every client (tests use them for
	// tighter retry timing).
	ClientOptions []alpaca.Option
}

// Latency holds percentiles in milliseconds.
type Latency struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p999"`
	Max  float64 `json:"max"`
}

// AccountReport is one account's reconciliation.
type AccountReport struct {
	// Tenant is the account's index: the tenant, or the Broker API
	// account in the order they were opened.
	Tenant int `json:"tenant"`
	// AccountID is the Broker API account's id; empty for a Trading API
	// tenant, whose key pair is not for a report.
	AccountID string `json:"account_id,omitempty"`
	// Orders is how many orders the run meant for this account.
	Orders int64 `json:"orders"`
	// Held is how many of those the broker holds in it.
	Held int64 `json:"held"`
	// Lost, Duplicates and Unexpected are the account's shares of the
	// report's totals. An order held here that was meant for another
	// account is unexpected here and lost there.
	Lost       int64 `json:"lost"`
	Duplicates int64 `json:"duplicates"`
	Unexpected int64 `json:"unexpected"`
}

// Exact reports whether the account holds exactly the orders meant for
// it, each once.
func (a AccountReport) Exact() bool {
	return a.Held == a.Orders && a.Duplicates == 0 && a.Unexpected == 0
}

// Report is the outcome of a run. Lost and Duplicates are the verdict;
// both must be zero.
type Report struct {
	Orders          int64    `json:"orders"`
	Acked           int64    `json:"acked"`
	Rejected        int64    `json:"rejected"`
	Errors          int64    `json:"errors"`
	Unknown         int64    `json:"unknown"`
	Lost            int64    `json:"lost"`
	Duplicates      int64    `json:"duplicates"`
	Unexpected      int64    `json:"unexpected"`
	Retries         int64    `json:"retries"`
	Lookups         int64    `json:"lookups"`
	RateLimitWaits  int64    `json:"rate_limit_waits"`
	Seconds         float64  `json:"seconds"`
	OrdersPerSec    float64  `json:"orders_per_sec"`
	LatencyMS       Latency  `json:"latency_ms"`
	RSSMiB          float64  `json:"rss_mib"`
	GoroutinesPeak  int      `json:"goroutines_peak"`
	ClientMode      string   `json:"client_mode"`
	Tenants         int      `json:"tenants"`
	Threads         int      `json:"threads"`
	OrdersPerThread int      `json:"orders_per_thread"`
	Target          string   `json:"target"`
	ReconcileSecs   float64  `json:"reconcile_seconds"`
	FirstErrors     []string `json:"first_errors,omitempty"`
	// API is "trading" (a key pair per tenant) or "broker" (customer
	// accounts behind one firm key).
	API string `json:"api"`
	// AccountsSecs is how long opening the Broker API accounts took,
	// which Seconds leaves out.
	AccountsSecs float64 `json:"accounts_seconds,omitempty"`
	// AccountsExact counts the accounts that hold exactly the orders
	// meant for them, each once; Accounts has each one's figures.
	AccountsExact int             `json:"accounts_exact"`
	Accounts      []AccountReport `json:"accounts"`
	// Baseline fields are set by the caller when it also measured a bare
	// net/http handler in the same run.
	BaselineOrdersPerSec float64 `json:"baseline_orders_per_sec,omitempty"`
	RatioToBaseline      float64 `json:"ratio_to_baseline,omitempty"`
}

// OK reports whether the run proved what it should: nothing lost,
// duplicated, unexpected or errored.
func (r *Report) OK() bool {
	return r.Lost == 0 && r.Duplicates == 0 && r.Unexpected == 0 && r.Errors == 0 && r.Unknown == 0
}

// outcome of one intent, as the worker saw it.
type outcome uint8

const (
	outPending outcome = iota
	outAcked
	outRejected
	outError
	outUnknown
)

type intent struct {
	cid     string
	tenant  int
	outcome outcome
	orderID string
}

// Run places the orders and reconciles them. It returns an error only when
// the run could not be carried out at all; a run that lost orders returns
// a report whose OK is false.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.Timeout)
		defer cancel()
	}
	var retries, lookups, rlWaits atomic.Int64
	observer := func(ri alpaca.RequestInfo) {
		if ri.Attempt > 1 {
			retries.Add(1)
		}
		if strings.Contains(ri.Route, "by_client_order_id") {
			lookups.Add(1)
		}
		if ri.RateLimitWait > time.Millisecond {
			rlWaits.Add(1)
		}
	}
	options := func(creds alpaca.Option) []alpaca.Option {
		opts := []alpaca.Option{
			creds,
			alpaca.WithRateLimit(cfg.RateLimit, max(1, cfg.RateLimit/20)),
			alpaca.WithMaxConns(cfg.Threads + 8),
			alpaca.WithObserver(observer),
		}
		return append(opts, cfg.ClientOptions...)
	}
	newClient := func(t Tenant) (*alpaca.Client, error) {
		return alpaca.New(cfg.Target, options(alpaca.WithCredentials(t.KeyID, t.Secret))...)
	}
	// One client per account, which reconciliation lists: a tenant's,
	// shared by its workers unless each worker is to have its own, or a
	// view of the firm's client.
	var shared []*alpaca.Client
	var accountIDs []string
	var accountsSecs float64
	if cfg.Broker != nil {
		b, err := alpaca.NewBroker(cfg.Target, options(alpaca.WithBrokerCredentials(cfg.Broker.Key, cfg.Broker.Secret))...)
		if err != nil {
			return nil, fmt.Errorf("firm client: %w", err)
		}
		t0 := time.Now()
		if accountIDs, err = openAccounts(ctx, b, cfg); err != nil {
			return nil, err
		}
		accountsSecs = time.Since(t0).Seconds()
		for _, id := range accountIDs {
			shared = append(shared, b.Account(id))
		}
	} else {
		for i, t := range cfg.Tenants {
			c, err := newClient(t)
			if err != nil {
				return nil, fmt.Errorf("client for tenant %d: %w", i, err)
			}
			shared = append(shared, c)
		}
	}

	intents := make([]intent, cfg.Threads*cfg.OrdersPerThread)
	hists := make([]*hdrhistogram.Histogram, cfg.Threads)
	var done, failed atomic.Int64
	var errMu sync.Mutex
	var firstErrors []string
	noteErr := func(err error) {
		errMu.Lock()
		if len(firstErrors) < 5 {
			firstErrors = append(firstErrors, err.Error())
		}
		errMu.Unlock()
	}

	workerClients := make([]*alpaca.Client, cfg.Threads)
	for w := range workerClients {
		workerClients[w] = shared[w%len(shared)]
		if cfg.ClientPerWorker {
			c, err := newClient(cfg.Tenants[w%len(cfg.Tenants)])
			if err != nil {
				return nil, fmt.Errorf("client for worker %d: %w", w, err)
			}
			workerClients[w] = c
		}
		hists[w] = hdrhistogram.New(1, int64(time.Minute/time.Microsecond), 3)
	}

	// route names the account and client of worker w's order i. A Trading
	// API tenant's workers trade only in it. Through the firm's client a
	// worker can trade in any account, so a worker's order pairs (a buy and
	// the sell that follows it, which must meet in one account) go round
	// the accounts, which may outnumber the workers.
	route := func(w, i int) (int, *alpaca.Client) { return w % len(shared), workerClients[w] }
	if cfg.Broker != nil {
		route = func(w, i int) (int, *alpaca.Client) {
			a := (w + i/2*cfg.Threads) % len(shared)
			return a, shared[a]
		}
	}

	peak := startGoroutineSampler()
	start := time.Now()
	stopProgress := startProgress(cfg.Progress, &done, &failed)
	var wg sync.WaitGroup
	for w := 0; w < cfg.Threads; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			base := w * cfg.OrdersPerThread
			for i := 0; i < cfg.OrdersPerThread; i++ {
				in := &intents[base+i]
				tenant, c := route(w, i)
				in.tenant = tenant
				in.cid = fmt.Sprintf("%s-%d-%d", cfg.RunID, w, i)
				if ctx.Err() != nil {
					in.outcome = outError
					failed.Add(1)
					done.Add(1)
					continue
				}
				req := orderFor(cfg.Symbols, w, i, in.cid)
				t0 := time.Now()
				o, err := submit(ctx, c, req)
				_ = hists[w].RecordValue(max(1, time.Since(t0).Microseconds()))
				switch {
				case err == nil:
					in.outcome, in.orderID = outAcked, o.ID
				case errors.Is(err, alpaca.ErrOrderRejected):
					in.outcome = outRejected
					noteErr(err)
				case errors.Is(err, alpaca.ErrUnknownOutcome):
					in.outcome = outUnknown
					failed.Add(1)
					noteErr(err)
				default: // the run's context ended before the order left
					in.outcome = outError
					failed.Add(1)
					noteErr(err)
				}
				done.Add(1)
			}
		}(w)
	}
	wg.Wait()
	elapsed := time.Since(start)
	stopProgress()

	rep := &Report{
		Orders:          int64(len(intents)),
		Retries:         retries.Load(),
		Lookups:         lookups.Load(),
		RateLimitWaits:  rlWaits.Load(),
		Seconds:         elapsed.Seconds(),
		ClientMode:      "shared-per-tenant",
		Tenants:         len(shared),
		Threads:         cfg.Threads,
		OrdersPerThread: cfg.OrdersPerThread,
		Target:          cfg.Target,
		FirstErrors:     firstErrors,
		API:             "trading",
		AccountsSecs:    accountsSecs,
	}
	switch {
	case cfg.Broker != nil:
		rep.API, rep.ClientMode = "broker", "one-per-firm"
	case cfg.ClientPerWorker:
		rep.ClientMode = "per-worker"
	}
	rep.count(intents)
	rep.OrdersPerSec = float64(rep.Acked+rep.Rejected) / elapsed.Seconds()
	merged := hdrhistogram.New(1, int64(time.Minute/time.Microsecond), 3)
	for _, h := range hists {
		merged.Merge(h)
	}
	ms := func(q float64) float64 { return float64(merged.ValueAtQuantile(q)) / 1000 }
	rep.LatencyMS = Latency{P50: ms(50), P90: ms(90), P99: ms(99), P999: ms(99.9), Max: float64(merged.Max()) / 1000}
	rep.GoroutinesPeak = peak()
	rep.RSSMiB = rssMiB()

	rstart := time.Now()
	if err := reconcile(ctx, cfg.RunID, shared, accountIDs, intents, rep); err != nil {
		return rep, fmt.Errorf("reconcile: %w", err)
	}
	rep.ReconcileSecs = time.Since(rstart).Seconds()
	// Count again: reconciliation settles what the workers could not.
	rep.count(intents)
	return rep, nil
}

// count sets the outcome totals from the intents.
func (r *Report) count(intents []intent) {
	r.Acked, r.Rejected, r.Errors, r.Unknown = 0, 0, 0, 0
	for i := range intents {
		switch intents[i].outcome {
		case outAcked:
			r.Acked++
		case outRejected:
			r.Rejected++
		case outError:
			r.Errors++
		case outUnknown:
			r.Unknown++
		}
	}
}

// unknownRetries bounds how often a worker resubmits an order whose
// outcome the client could not settle. Resubmitting is safe because the
// client_order_id is the same: the broker refuses a second copy and the
// client then adopts the first.
const unknownRetries = 5

// unknownRetryDelay is the first wait before such a resubmission; it
// doubles each time.
const unknownRetryDelay = 20 * time.Millisecond

func submit(ctx context.Context, c *alpaca.Client, req alpaca.OrderRequest) (*alpaca.Order, error) {
	o, err := c.SubmitOrder(ctx, req)
	for n := 1; n <= unknownRetries && errors.Is(err, alpaca.ErrUnknownOutcome); n++ {
		if backoff.Sleep(ctx, backoff.Exponential(unknownRetryDelay, time.Second, n)) != nil {
			return nil, err
		}
		o, err = c.SubmitOrder(ctx, req)
	}
	return o, err
}

func (cfg *Config) validate() error {
	switch {
	case cfg.Target == "":
		return errors.New("stress: no target URL")
	case cfg.Threads <= 0:
		return errors.New("stress: threads must be at least 1")
	case cfg.OrdersPerThread <= 0:
		return errors.New("stress: orders per thread must be at least 1")
	case cfg.Broker == nil && len(cfg.Tenants) == 0:
		return errors.New("stress: no tenants")
	case int64(cfg.Threads)*int64(cfg.OrdersPerThread) > 10_000_000:
		return errors.New("stress: more than 10 million orders in one run")
	case cfg.RunID == "" || len(cfg.RunID) > 24:
		return errors.New("stress: run id must be 1 to 24 characters")
	}
	if b := cfg.Broker; b != nil {
		pairs := MaxAccounts(cfg.Threads, cfg.OrdersPerThread)
		switch {
		case len(cfg.Tenants) > 0:
			return errors.New("stress: Trading API tenants and a Broker API firm in one run")
		case cfg.ClientPerWorker:
			return errors.New("stress: a Broker API run has one client for the firm, not one per worker")
		case b.Key == "" || b.Secret == "":
			return errors.New("stress: the Broker API needs the firm's key and secret")
		case b.Accounts < 1 || b.Accounts > pairs:
			return fmt.Errorf("stress: %d Broker API accounts: want 1 to %d, so that each gets orders", b.Accounts, pairs)
		}
	}
	if len(cfg.Symbols) == 0 {
		cfg.Symbols = []string{"AAPL"}
	}
	return nil
}

// MaxAccounts is the most Broker API accounts a run of threads x
// ordersPerThread orders can spread its orders over: one per order pair.
func MaxAccounts(threads, ordersPerThread int) int {
	return threads * ((ordersPerThread + 1) / 2)
}

// openAccounts opens the run's Broker API accounts, each named after the
// run so that an application sent twice after a failure is found rather
// than opened again.
func openAccounts(ctx context.Context, b *alpaca.Broker, cfg Config) ([]string, error) {
	names := make([]string, cfg.Broker.Accounts)
	for i := range names {
		names[i] = fmt.Sprint("s", i+1)
	}
	spec := brokeracct.Spec{Run: cfg.RunID, FundFrom: cfg.Broker.FundFrom, Cash: cfg.Broker.Cash}
	ids, errs := brokeracct.OpenMany(ctx, b, names, spec, brokeracct.DefaultParallel, cfg.Broker.Progress)
	failed := 0
	var first error
	for i, id := range ids {
		if errs[i] != nil || id == "" {
			failed++
			if first == nil {
				first = errs[i]
			}
		}
	}
	if failed > 0 {
		if first == nil {
			first = ctx.Err()
		}
		return nil, fmt.Errorf("opening Broker API accounts: %d of %d failed: %w", failed, len(ids), first)
	}
	return ids, nil
}

// orderFor alternates buying and selling one share, so that every account
// stays inside its buying power and holds at most one share per symbol
// per worker however long the run: a round trip per two orders.
func orderFor(symbols []string, w, i int, cid string) alpaca.OrderRequest {
	side := alpaca.Buy
	if i%2 == 1 {
		side = alpaca.Sell
	}
	one := decimal.NewFromInt(1)
	return alpaca.OrderRequest{
		Symbol:        symbols[(w+i/2)%len(symbols)],
		Qty:           &one,
		Side:          side,
		Type:          alpaca.Market,
		TimeInForce:   alpaca.Day,
		ClientOrderID: cid,
	}
}

// reconcile lists every account's orders at the broker and compares them
// with the intents: an acknowledged or unresolved intent that its account
// does not hold is lost, an intent held more than once is duplicated,
// and an order of this run that matches no intent of its account
// (including one meant for another account) is unexpected.
// clients[i] is account i's; ids[i], when given, its Broker API id.
func reconcile(ctx context.Context, runID string, clients []*alpaca.Client, ids []string, intents []intent, rep *Report) error {
	byTenant := make([][]*intent, len(clients))
	for i := range intents {
		in := &intents[i]
		byTenant[in.tenant] = append(byTenant[in.tenant], in)
	}
	prefix := runID + "-"
	rep.Accounts = make([]AccountReport, len(clients))
	rep.AccountsExact = 0
	for t, c := range clients {
		held, err := listAll(ctx, c, prefix)
		if err != nil {
			return fmt.Errorf("account %d: %w", t, err)
		}
		ar := &rep.Accounts[t]
		ar.Tenant, ar.Orders = t, int64(len(byTenant[t]))
		if ids != nil {
			ar.AccountID = ids[t]
		}
		want := make(map[string]*intent, len(byTenant[t]))
		for _, in := range byTenant[t] {
			want[in.cid] = in
		}
		for cid, n := range held {
			in, ok := want[cid]
			if !ok {
				ar.Unexpected += int64(n)
				continue
			}
			ar.Held++
			if n > 1 {
				ar.Duplicates += int64(n - 1)
			}
			if in.outcome == outUnknown || in.outcome == outError {
				// The broker has it although we never heard back: the
				// order was placed once, which is the right outcome.
				in.outcome = outAcked
			}
		}
		for cid, in := range want {
			if _, ok := held[cid]; ok {
				continue
			}
			// Acknowledged but absent is lost; so is an order sent whose
			// outcome never settled and that the broker does not hold,
			// because nobody can say it was not placed and then dropped.
			if in.outcome == outAcked || in.outcome == outUnknown {
				ar.Lost++
			}
		}
		rep.Lost += ar.Lost
		rep.Duplicates += ar.Duplicates
		rep.Unexpected += ar.Unexpected
		if ar.Exact() {
			rep.AccountsExact++
		}
	}
	return nil
}

// listAll pages through all orders of the account, oldest first, keyed by
// client_order_id with a count, keeping only this run's orders. Alpaca's
// list has no cursor token: it pages by submission time, so each page
// starts after the last time seen and the overlap at equal times is
// removed by order id.
func listAll(ctx context.Context, c *alpaca.Client, prefix string) (map[string]int, error) {
	held := map[string]int{}
	seen := map[string]bool{}
	var after time.Time
	for {
		req := alpaca.ListOrdersRequest{Status: "all", Limit: 500, Direction: "asc", Nested: false}
		if !after.IsZero() {
			req.After = after.Add(-time.Nanosecond)
		}
		page, err := c.ListOrders(ctx, req)
		if err != nil {
			return nil, err
		}
		fresh := 0
		for _, o := range page {
			if seen[o.ID] {
				continue
			}
			seen[o.ID] = true
			fresh++
			if strings.HasPrefix(o.ClientOrderID, prefix) {
				held[o.ClientOrderID]++
			}
			if ts := submitted(o); ts.After(after) {
				after = ts
			}
		}
		if len(page) < 500 || fresh == 0 {
			return held, nil
		}
	}
}

func submitted(o alpaca.Order) time.Time {
	if o.SubmittedAt != nil {
		return *o.SubmittedAt
	}
	return o.CreatedAt
}

func startGoroutineSampler() func() int {
	var peak atomic.Int64
	peak.Store(int64(runtime.NumGoroutine()))
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				if n := int64(runtime.NumGoroutine()); n > peak.Load() {
					peak.Store(n)
				}
			case <-stop:
				return
			}
		}
	}()
	return func() int {
		close(stop)
		wg.Wait()
		return int(peak.Load())
	}
}

func startProgress(fn func(done, errors int64), done, failed *atomic.Int64) func() {
	if fn == nil {
		return func() {}
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				fn(done.Load(), failed.Load())
			case <-stop:
				fn(done.Load(), failed.Load())
				return
			}
		}
	}()
	return func() { close(stop); wg.Wait() }
}
