package alpaca_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/quantum-alpaca/quantum/alpaca"
	"github.com/quantum-alpaca/quantum/alpaca/stream"
	"github.com/quantum-alpaca/quantum/sim"
)

// MustBrokerSim runs the broker simulator with a Broker API firm over
// real TCP and returns a Broker for it, authenticated by auth
// (brokerBasic or brokerTokens), with fast retries and no client-side
// rate limit unless opts say otherwise.
func MustBrokerSim(tb testing.TB, cfg sim.Config, auth func() alpaca.Option, opts ...alpaca.Option) (*alpaca.Broker, *sim.Server) {
	tb.Helper()
	cfg.BrokerKey, cfg.BrokerSecret = testBrokerKey, testBrokerSecret
	if cfg.Seed == 0 {
		cfg.Seed = 42
	}
	s, err := sim.New(cfg)
	if err != nil {
		tb.Fatalf("sim.New: %v", err)
	}
	s.Start()
	srv := httptest.NewServer(s.Handler())
	tb.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
		s.Close()
	})
	base := []alpaca.Option{
		auth(),
		alpaca.WithRetry(3, time.Millisecond, 5*time.Millisecond),
		alpaca.WithRateLimit(0, 0),
		alpaca.WithDataRateLimit(0, 0),
		alpaca.WithTimeout(5 * time.Second),
	}
	b, err := alpaca.NewBroker(srv.URL, append(base, opts...)...)
	if err != nil {
		tb.Fatalf("NewBroker: %v", err)
	}
	tb.Cleanup(b.CloseIdleConnections)
	return b, s
}

func brokerBasic() alpaca.Option {
	return alpaca.WithBrokerCredentials(testBrokerKey, testBrokerSecret)
}

// brokerTokens uses the firm's key pair as client credentials, which the
// simulator accepts at its token endpoint.
func brokerTokens() alpaca.Option {
	return alpaca.WithClientCredentials(testBrokerKey, testBrokerSecret)
}

// application is a complete account application for the given e-mail.
func application(email string) alpaca.CreateAccountRequest {
	signed := time.Date(2026, 1, 5, 15, 0, 0, 0, time.UTC)
	return alpaca.CreateAccountRequest{
		Contact: alpaca.Contact{EmailAddress: email, PhoneNumber: "+15555550100",
			StreetAddress: []string{"20 N San Mateo Dr"}, City: "San Mateo", State: "CA", PostalCode: "94401"},
		Identity: alpaca.Identity{GivenName: "Ada", FamilyName: "Lovelace", DateOfBirth: "1990-01-01",
			TaxID: "666-55-4321", TaxIDType: "USA_SSN", CountryOfTaxResidence: "USA",
			FundingSource: []string{"employment_income"}},
		Agreements: []alpaca.Agreement{
			{Agreement: "customer_agreement", SignedAt: signed, IPAddress: "127.0.0.1"},
			{Agreement: "account_agreement", SignedAt: signed, IPAddress: "127.0.0.1"},
		},
	}
}

// mustOpen opens an account and waits for nothing: the simulator, like
// Alpaca's sandbox, makes it ACTIVE at once.
func mustOpen(tb testing.TB, b *alpaca.Broker, email string) *alpaca.BrokerAccount {
	tb.Helper()
	a, err := b.CreateAccount(context.Background(), application(email))
	if err != nil {
		tb.Fatalf("CreateAccount(%s): %v", email, err)
	}
	if a.Status != alpaca.AccountActive || a.ID == "" {
		tb.Fatalf("CreateAccount(%s): %+v, want an ACTIVE account", email, a)
	}
	return a
}

// TestBrokerSim runs every Broker call, and the Trading API calls of an
// account view, against the simulator, with each of the Broker API's two
// ways to authenticate.
func TestBrokerSim(t *testing.T) {
	for _, auth := range []struct {
		name string
		opt  func() alpaca.Option
	}{{"Basic", brokerBasic}, {"ClientCredentials", brokerTokens}} {
		t.Run(auth.name, func(t *testing.T) {
			t.Parallel()
			b, s := MustBrokerSim(t, sim.Config{Cash: 25_000}, auth.opt)
			ctx := t.Context()
			acct := mustOpen(t, b, "ada@example.com")

			t.Run("Accounts", func(t *testing.T) {
				got, err := b.GetAccount(ctx, acct.ID)
				if err != nil {
					t.Fatal(err)
				}
				if got.Contact == nil || got.Contact.EmailAddress != "ada@example.com" || got.AccountNumber == "" {
					t.Fatalf("GetAccount: %+v", got)
				}
				if got.Identity != nil && got.Identity.TaxID != "" {
					t.Errorf("the tax id came back")
				}
				list, err := b.ListAccounts(ctx, alpaca.ListAccountsRequest{Query: "ada@example.com"})
				if err != nil || len(list) != 1 || list[0].ID != acct.ID {
					t.Fatalf("ListAccounts(query): %+v, %v", list, err)
				}
				_, err = b.CreateAccount(ctx, application("ada@example.com"))
				var apiErr *alpaca.APIError
				if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusConflict {
					t.Fatalf("second application with one e-mail: %v, want 409", err)
				}
				_, err = b.GetAccount(ctx, "00000000-0000-4000-8000-000000000000")
				if !errors.Is(err, alpaca.ErrNotFound) {
					t.Fatalf("unknown account: %v, want ErrNotFound", err)
				}
				bad := application("bad@example.com")
				bad.Agreements = nil
				if _, err := b.CreateAccount(ctx, bad); !errors.Is(err, alpaca.ErrValidation) {
					t.Fatalf("application without agreements: %v, want ErrValidation", err)
				}
			})

			t.Run("Funding", func(t *testing.T) {
				view := b.Account(mustOpen(t, b, "fund@example.com").ID)
				amount := decimal.NewFromInt(5000)
				j, err := b.CreateJournal(ctx, alpaca.JournalRequest{EntryType: alpaca.JournalCash,
					FromAccount: s.FirmAccountID(), ToAccount: view.AccountID(), Amount: &amount})
				if err != nil {
					t.Fatal(err)
				}
				if j.Status != alpaca.JournalExecuted || j.NetAmount == nil || !j.NetAmount.Equal(amount) {
					t.Fatalf("journal %+v: want executed for 5000", j)
				}
				if got, err := b.GetJournal(ctx, j.ID); err != nil || got.ID != j.ID {
					t.Fatalf("GetJournal: %+v, %v", got, err)
				}
				js, err := b.ListJournals(ctx, alpaca.ListJournalsRequest{ToAccount: view.AccountID()})
				if err != nil || len(js) != 1 {
					t.Fatalf("ListJournals: %+v, %v", js, err)
				}
				if err := b.CancelJournal(ctx, j.ID); !errors.Is(err, alpaca.ErrUnprocessable) {
					t.Fatalf("canceling an executed journal: %v, want ErrUnprocessable", err)
				}
				tr, err := b.CreateTransfer(ctx, view.AccountID(), alpaca.TransferRequest{TransferType: "ach",
					RelationshipID: "81412018-ffa2-43f9-a3eb-d39f1c5e0f87", Amount: decimal.NewFromInt(100),
					Direction: alpaca.TransferIncoming})
				if err != nil || tr.Status != alpaca.TransferComplete {
					t.Fatalf("CreateTransfer: %+v, %v", tr, err)
				}
				if ts, err := b.ListTransfers(ctx, view.AccountID()); err != nil || len(ts) != 1 || ts[0].ID != tr.ID {
					t.Fatalf("ListTransfers: %+v, %v", ts, err)
				}
				ta, err := view.GetAccount(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if want := decimal.NewFromInt(25_000 + 5000 + 100); !ta.Cash.Equal(want) {
					t.Fatalf("cash %s, want %s", ta.Cash, want)
				}
				// Back to the firm, and more than the account holds.
				too := decimal.NewFromInt(1_000_000)
				_, err = b.CreateJournal(ctx, alpaca.JournalRequest{EntryType: alpaca.JournalCash,
					FromAccount: view.AccountID(), ToAccount: s.FirmAccountID(), Amount: &too})
				if !errors.Is(err, alpaca.ErrForbidden) {
					t.Fatalf("journal beyond the cash: %v, want ErrForbidden", err)
				}
			})

			t.Run("Trading", func(t *testing.T) {
				view := b.Account(acct.ID)
				one := decimal.NewFromInt(1)
				o, err := view.SubmitOrder(ctx, alpaca.OrderRequest{Symbol: "AAPL", Qty: &one, Side: alpaca.Buy,
					Type: alpaca.Market, TimeInForce: alpaca.Day, ClientOrderID: "view-buy-1"})
				if err != nil {
					t.Fatal(err)
				}
				waitOrder(t, view, o.ID, func(o *alpaca.Order) bool { return o.Status == alpaca.StatusFilled })
				got, err := view.GetOrderByClientOrderID(ctx, "view-buy-1")
				if err != nil || got.ID != o.ID {
					t.Fatalf("GetOrderByClientOrderID: %+v, %v", got, err)
				}
				ps, err := view.ListPositions(ctx)
				if err != nil || len(ps) != 1 || ps[0].Symbol != "AAPL" {
					t.Fatalf("ListPositions: %+v, %v", ps, err)
				}
				if _, err := view.GetPosition(ctx, "AAPL"); err != nil {
					t.Fatal(err)
				}
				px := decimal.NewFromInt(1)
				lim, err := view.SubmitOrder(ctx, alpaca.OrderRequest{Symbol: "AAPL", Qty: &one, Side: alpaca.Buy,
					Type: alpaca.Limit, LimitPrice: &px, TimeInForce: alpaca.GTC, ClientOrderID: "view-limit-1"})
				if err != nil {
					t.Fatal(err)
				}
				px2 := decimal.NewFromInt(2)
				rep, err := view.ReplaceOrder(ctx, lim.ID, alpaca.ReplaceRequest{LimitPrice: &px2})
				if err != nil {
					t.Fatal(err)
				}
				if err := view.CancelOrder(ctx, rep.ID); err != nil {
					t.Fatal(err)
				}
				open, err := view.ListOrders(ctx, alpaca.ListOrdersRequest{Status: alpaca.OrdersAll})
				if err != nil || len(open) != 3 {
					t.Fatalf("ListOrders: %d orders, %v; want the buy, the limit and its replacement", len(open), err)
				}
				if _, err := view.GetClock(ctx); err != nil {
					t.Fatalf("GetClock through the Broker API: %v", err)
				}
				if _, err := view.GetAsset(ctx, "AAPL"); err != nil {
					t.Fatalf("GetAsset through the Broker API: %v", err)
				}
				if _, err := view.GetAccountActivities(ctx, alpaca.ActivitiesRequest{}); err != nil {
					t.Fatalf("GetAccountActivities through the Broker API: %v", err)
				}
				if _, err := view.GetLatestQuote(ctx, "AAPL", alpaca.LatestRequest{}); err != nil {
					t.Fatalf("market data with the firm's credentials: %v", err)
				}
				// Another account's view sees none of it.
				other := b.Account(mustOpen(t, b, "other@example.com").ID)
				if _, err := other.GetOrder(ctx, o.ID); !errors.Is(err, alpaca.ErrNotFound) {
					t.Fatalf("another account's order: %v, want ErrNotFound", err)
				}
			})

			t.Run("Close", func(t *testing.T) {
				closing := mustOpen(t, b, "close@example.com")
				if err := b.CloseAccount(ctx, closing.ID); err != nil {
					t.Fatal(err)
				}
				got, err := b.GetAccount(ctx, closing.ID)
				if err != nil || got.Status != alpaca.AccountClosed {
					t.Fatalf("after close: %+v, %v", got, err)
				}
				one := decimal.NewFromInt(1)
				_, err = b.Account(closing.ID).SubmitOrder(ctx, alpaca.OrderRequest{Symbol: "AAPL", Qty: &one,
					Side: alpaca.Buy, Type: alpaca.Market, TimeInForce: alpaca.Day, ClientOrderID: "closed-1"})
				if !errors.Is(err, alpaca.ErrOrderRejected) {
					t.Fatalf("order in a closed account: %v, want ErrOrderRejected", err)
				}
				if _, err := b.Account(closing.ID).GetAccount(ctx); err != nil {
					t.Fatalf("a closed account can still be read: %v", err)
				}
			})
		})
	}
}

// TestBrokerSimRefusesWrongCredentials checks that the Broker API routes
// and the token endpoint turn away anyone but the firm, and that an
// account's Trading API keys open nothing of the firm's.
func TestBrokerSimRefusesWrongCredentials(t *testing.T) {
	t.Parallel()
	b, _ := MustBrokerSim(t, sim.Config{AutoProvision: true}, brokerBasic)
	acct := mustOpen(t, b, "ada@example.com")
	for _, opt := range []alpaca.Option{
		alpaca.WithBrokerCredentials(testBrokerKey, "wrong-secret"),
		alpaca.WithBrokerCredentials("CKSOMEONEELSE", testBrokerSecret),
		alpaca.WithClientCredentials(testBrokerKey, "wrong-secret"),
	} {
		bad, err := alpaca.NewBroker(b.BaseURL(), opt, alpaca.WithRateLimit(0, 0), alpaca.WithRetry(0, 0, 0))
		if err != nil {
			t.Fatal(err)
		}
		_, err = bad.GetAccount(t.Context(), acct.ID)
		if !errors.Is(err, alpaca.ErrUnauthorized) && !errors.Is(err, alpaca.ErrForbidden) {
			t.Errorf("%v: want refused", err)
		}
		_, err = bad.Account(acct.ID).GetAccount(t.Context())
		if !errors.Is(err, alpaca.ErrUnauthorized) && !errors.Is(err, alpaca.ErrForbidden) {
			t.Errorf("account view: %v, want refused", err)
		}
		bad.CloseIdleConnections()
	}
	// A Trading API key pair (auto-provisioned) is not the firm's.
	c, err := alpaca.New(b.BaseURL(), alpaca.WithCredentials(testKey, testSecret), alpaca.WithRateLimit(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseIdleConnections()
	if _, err := c.GetAccount(t.Context()); err != nil {
		t.Fatalf("the Trading API beside the Broker API: %v", err)
	}
	tradingKeys, err := alpaca.NewBroker(b.BaseURL(), alpaca.WithBrokerCredentials(testKey, testSecret),
		alpaca.WithRateLimit(0, 0), alpaca.WithRetry(0, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	defer tradingKeys.CloseIdleConnections()
	if _, err := tradingKeys.ListAccounts(t.Context(), alpaca.ListAccountsRequest{}); !errors.Is(err, alpaca.ErrUnauthorized) {
		t.Fatalf("an account's key pair on the firm's routes: %v, want ErrUnauthorized", err)
	}
}

// TestBrokerSimEventStream follows the firm-wide trade-event stream while
// two accounts trade: every event names its account, the events of both
// arrive on one stream, and a stream resumed after an event id replays
// exactly what followed it.
func TestBrokerSimEventStream(t *testing.T) {
	t.Parallel()
	b, _ := MustBrokerSim(t, sim.Config{}, brokerTokens)
	ctx := t.Context()
	accts := []*alpaca.Client{
		b.Account(mustOpen(t, b, "one@example.com").ID),
		b.Account(mustOpen(t, b, "two@example.com").ID),
	}
	connected := make(chan struct{}, 1)
	es, err := stream.NewBrokerTradeEvents(b, stream.WithConnectHandlers(func() {
		select {
		case connected <- struct{}{}:
		default:
		}
	}, nil))
	if err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- es.Run(sctx) }()
	defer func() {
		cancel()
		<-done
	}()
	select {
	case <-connected:
	case <-time.After(safetyNet):
		t.Fatal("stream never connected")
	}

	one := decimal.NewFromInt(1)
	want := map[string]string{} // client order id -> account id
	for i, c := range accts {
		for j := range 3 {
			cid := fmt.Sprintf("stream-%d-%d", i, j)
			if _, err := c.SubmitOrder(ctx, alpaca.OrderRequest{Symbol: "AAPL", Qty: &one, Side: alpaca.Buy,
				Type: alpaca.Market, TimeInForce: alpaca.Day, ClientOrderID: cid}); err != nil {
				t.Fatal(err)
			}
			want[cid] = c.AccountID()
		}
	}
	var events []alpaca.TradeUpdate
	filled := map[string]bool{}
	for len(filled) < len(want) {
		select {
		case tu := <-es.Updates():
			events = append(events, tu)
			acct, ok := want[tu.Order.ClientOrderID]
			if !ok || tu.AccountID != acct {
				t.Fatalf("event %s for %q names account %q, want %q", tu.Event, tu.Order.ClientOrderID, tu.AccountID, acct)
			}
			if tu.Event == "fill" {
				filled[tu.Order.ClientOrderID] = true
			}
		case err := <-done:
			t.Fatalf("stream ended: %v", err)
		case <-time.After(safetyNet):
			t.Fatalf("fills of %d of %d orders", len(filled), len(want))
		}
	}
	for i := 1; i < len(events); i++ {
		if events[i].EventID <= events[i-1].EventID {
			t.Fatalf("event ids out of order: %s after %s", events[i].EventID, events[i-1].EventID)
		}
	}

	// Replay what followed the first event, up to the last one seen.
	first, last := events[0].EventID, events[len(events)-1].EventID
	replay, err := stream.NewBrokerTradeEvents(b, stream.WithResumeAfter(first), stream.WithUntilID(last))
	if err != nil {
		t.Fatal(err)
	}
	rdone := make(chan error, 1)
	go func() { rdone <- replay.Run(ctx) }()
	var got []string
	for tu := range replay.Updates() {
		got = append(got, tu.EventID)
	}
	if err := <-rdone; err != nil {
		t.Fatalf("bounded replay: %v", err)
	}
	if len(got) != len(events)-1 || got[0] != events[1].EventID || got[len(got)-1] != last {
		t.Fatalf("replay after %s: %d events, want %d (%s..%s)", first, len(got), len(events)-1, events[1].EventID, last)
	}
}

// TestBrokerSimSharedLimiter shows that the firm's budget is one for all
// its accounts, and that a per-account budget binds one account without
// touching another. A call that would have to wait past its deadline
// fails at once, which is what makes the budgets observable without
// waiting for them.
func TestBrokerSimSharedLimiter(t *testing.T) {
	t.Parallel()
	b, _ := MustBrokerSim(t, sim.Config{}, brokerBasic, alpaca.WithRateLimit(1, 3), alpaca.WithRetry(0, 0, 0))
	ids := make([]string, 4)
	for i := range ids {
		ids[i] = fmt.Sprintf("acct-%d", i) // the limiter answers before the server
	}
	short := func() context.Context {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		t.Cleanup(cancel)
		return ctx
	}
	for _, id := range ids[:3] {
		_, err := b.Account(id).GetAccount(short())
		if !errors.Is(err, alpaca.ErrNotFound) { // the request went out
			t.Fatalf("account %s within the firm's burst: %v", id, err)
		}
	}
	if _, err := b.Account(ids[3]).GetAccount(short()); err == nil || errors.Is(err, alpaca.ErrNotFound) {
		t.Fatalf("a fourth account after the firm's burst of 3 was sent at once (%v)", err)
	}

	per, _ := MustBrokerSim(t, sim.Config{}, brokerBasic, alpaca.WithAccountRateLimit(1, 1), alpaca.WithRetry(0, 0, 0))
	if _, err := per.Account("a").GetAccount(short()); !errors.Is(err, alpaca.ErrNotFound) {
		t.Fatalf("first call of account a: %v", err)
	}
	if _, err := per.Account("a").GetAccount(short()); err == nil || errors.Is(err, alpaca.ErrNotFound) {
		t.Fatalf("second call of account a past its own budget was sent at once (%v)", err)
	}
	if _, err := per.Account("b").GetAccount(short()); !errors.Is(err, alpaca.ErrNotFound) {
		t.Fatalf("account b is not held back by account a's budget: %v", err)
	}
}

// TestBrokerSimFaults is TestSimFaults through account views: orders sent
// into several accounts of one firm while the broker fails and drops
// requests. Every account ends up holding each acknowledged order exactly
// once, and nothing the client was told was refused.
func TestBrokerSimFaults(t *testing.T) {
	t.Parallel()
	var faults, adopted atomic.Int32
	b, _ := MustBrokerSim(t, sim.Config{Cash: 1e9, Faults: sim.Faults{FailRate: 0.15, DropRate: 0.15, Latency: time.Millisecond}},
		brokerTokens,
		alpaca.WithRetry(6, time.Millisecond, 10*time.Millisecond), alpaca.WithSubmitRounds(5),
		alpaca.WithObserver(func(ri alpaca.RequestInfo) {
			if ri.Err != nil && ri.Method == "POST" && ri.Route == "/v1/trading/accounts/{account_id}/orders" {
				faults.Add(1)
			}
			if ri.Err == nil && ri.Route == "/v1/trading/accounts/{account_id}/orders:by_client_order_id" {
				adopted.Add(1)
			}
		}))
	const accounts, workers, each = 4, 32, 30
	views := make([]*alpaca.Client, accounts)
	for i := range views {
		views[i] = b.Account(openUnderFaults(t, b, fmt.Sprintf("fault-%d@example.com", i)).ID)
	}

	var mu sync.Mutex
	acked := map[string]string{}
	unknown := map[string]bool{}
	var wg sync.WaitGroup
	one := decimal.NewFromInt(1)
	for w := range workers {
		wg.Go(func() {
			view := views[w%accounts]
			for i := range each {
				cid := fmt.Sprintf("bfault-%02d-%d", w, i)
				o, err := view.SubmitOrder(t.Context(), alpaca.OrderRequest{Symbol: "AAPL", Qty: &one, Side: alpaca.Buy,
					Type: alpaca.Market, TimeInForce: alpaca.Day, ClientOrderID: cid})
				mu.Lock()
				switch {
				case err == nil:
					acked[cid] = o.ID
				case errors.Is(err, alpaca.ErrUnknownOutcome):
					unknown[cid] = true
				default:
					t.Errorf("SubmitOrder(%s): %v", cid, err)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()

	total := 0
	for a, view := range views {
		seen := map[string]int{}
		for _, o := range listAllOrders(t, view) {
			total++
			seen[o.ClientOrderID]++
			var w, i int
			if _, err := fmt.Sscanf(o.ClientOrderID, "bfault-%02d-%d", &w, &i); err != nil || w%accounts != a {
				t.Errorf("account %d holds %s, sent to another account", a, o.ClientOrderID)
			}
			if id, ok := acked[o.ClientOrderID]; ok && id != o.ID {
				t.Errorf("%s: client was told %s, broker holds %s", o.ClientOrderID, id, o.ID)
			}
			if _, ok := acked[o.ClientOrderID]; !ok && !unknown[o.ClientOrderID] {
				t.Errorf("broker holds %s, which the client reported as not placed", o.ClientOrderID)
			}
		}
		for cid, n := range seen {
			if n != 1 {
				t.Errorf("%s placed %d times", cid, n)
			}
		}
		for cid := range acked {
			var w, i int
			fmt.Sscanf(cid, "bfault-%02d-%d", &w, &i)
			if w%accounts == a && seen[cid] != 1 {
				t.Errorf("acknowledged %s missing at the broker", cid)
			}
		}
	}
	if faults.Load() == 0 || adopted.Load() == 0 {
		t.Errorf("%d failed POSTs, %d adoptions: the faults did not exercise look-up-before-resend", faults.Load(), adopted.Load())
	}
	t.Logf("%d acknowledged (%d adopted), %d unknown, %d held across %d accounts; %d POSTs failed",
		len(acked), adopted.Load(), len(unknown), total, accounts, faults.Load())
}

// openUnderFaults opens an account on a failing broker the way
// CreateAccount's documentation says: after a failure that leaves it in
// doubt, look the application up by its e-mail address before sending it
// again, and take a 409 to mean an earlier attempt landed.
func openUnderFaults(tb testing.TB, b *alpaca.Broker, email string) *alpaca.BrokerAccount {
	tb.Helper()
	ctx := context.Background()
	for range 20 {
		a, err := b.CreateAccount(ctx, application(email))
		if err == nil {
			return a
		}
		found, lerr := b.ListAccounts(ctx, alpaca.ListAccountsRequest{Query: email})
		if lerr == nil && len(found) == 1 {
			return &found[0]
		}
		if lerr == nil && len(found) > 1 {
			tb.Fatalf("%s opened %d times", email, len(found))
		}
	}
	tb.Fatalf("could not open %s", email)
	return nil
}
