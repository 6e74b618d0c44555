package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/shopspring/decimal"

	"github.com/quantum-alpaca/quantum/alpaca"
	"github.com/quantum-alpaca/quantum/alpaca/backoff"
	"github.com/quantum-alpaca/quantum/trading"
)

type tenantsCommand struct{ app *App }

const tenantsUsage = `Usage: quantum tenants create --url URL --count K [flags]

Creates K customer accounts under a Broker API firm (the sandbox, or
quantum broker started with --broker-key and --broker-secret) and prints
them as tenants for the config file, each trading in its own account:

  broker_api: {url: URL, key_env: BROKER_API_KEY, secret_env: BROKER_API_SECRET}
  tenants:
    - {id: c1, broker_account_id: 7f3c..., strategy: dca, params: {symbol: AAPL}}

The firm's key and secret are read from the environment variables
BROKER_API_KEY and BROKER_API_SECRET (names changed with --key-env and
--secret-env). The accounts are test customers with made-up identities,
so the command refuses Alpaca's live Broker API. With --fund-from, each
new account also gets --cash from that firm account by a cash journal.

Flags:
`

// createParallel bounds the account applications in flight; the firm's
// rate limiter paces them anyway.
const createParallel = 8

func (c *tenantsCommand) Run(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] != "create" {
		fmt.Fprint(c.app.Stderr, tenantsUsage)
		if len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help") {
			return flag.ErrHelp
		}
		return usageError{"tenants: want the subcommand create"}
	}
	fs := flag.NewFlagSet("tenants create", flag.ContinueOnError)
	fs.SetOutput(c.app.Stderr)
	fs.Usage = func() { fmt.Fprint(c.app.Stderr, tenantsUsage); fs.PrintDefaults() }
	base := fs.String("url", alpaca.BrokerSandboxURL, "the Broker API `URL`")
	count := fs.Int("count", 1, "how many accounts to create")
	prefix := fs.String("prefix", "c", "tenant ids are `PREFIX`1, PREFIX2, ...")
	keyEnv := fs.String("key-env", "BROKER_API_KEY", "environment `VARIABLE` holding the firm's key")
	secretEnv := fs.String("secret-env", "BROKER_API_SECRET", "environment `VARIABLE` holding the firm's secret")
	fundFrom := fs.String("fund-from", "", "firm `ACCOUNT` id to journal --cash from into each new account")
	cash := fs.String("cash", "10000", "`AMOUNT` journaled into each account with --fund-from")
	strat := fs.String("strategy", "dca", "strategy written for each tenant")
	symbol := fs.String("symbol", "AAPL", "the strategy's symbol param")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("tenants create takes no arguments, got %q", fs.Args())}
	}
	switch {
	case *count < 1 || *count > 100000:
		return usageError{fmt.Sprintf("--count %d: want 1 to 100000", *count)}
	case trading.TenantID(*prefix+"1").Validate() != nil:
		return usageError{fmt.Sprintf("--prefix %q: tenant ids are letters, digits, - and _", *prefix)}
	}
	u, err := url.Parse(*base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return usageError{fmt.Sprintf("--url %q: want an http(s) URL", *base)}
	}
	if strings.EqualFold(u.Hostname(), "broker-api.alpaca.markets") {
		return usageError{"--url is Alpaca's live Broker API: these are test customers with made-up identities; use the sandbox"}
	}
	amount, err := decimal.NewFromString(*cash)
	if err != nil || amount.IsNegative() {
		return usageError{fmt.Sprintf("--cash %q: want a non-negative amount", *cash)}
	}
	key, secret := c.app.getenv(*keyEnv), c.app.getenv(*secretEnv)
	if key == "" || secret == "" {
		return usageError{fmt.Sprintf("set the firm's key and secret in %s and %s", *keyEnv, *secretEnv)}
	}
	b, err := alpaca.NewBroker(*base, alpaca.WithBrokerCredentials(key, secret))
	if err != nil {
		return err
	}
	// This invocation's mark on its customers, for looking them up.
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	ids := make([]string, *count)
	errs := make([]error, *count)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		done     int
		lastNote = time.Now()
	)
	work := make(chan int)
	for range min(createParallel, *count) {
		wg.Go(func() {
			for i := range work {
				ids[i], errs[i] = createTenantAccount(ctx, b, fmt.Sprint(*prefix, i+1), run, *fundFrom, amount)
				mu.Lock()
				done++
				if time.Since(lastNote) > 2*time.Second || done == *count {
					fmt.Fprintf(c.app.Stderr, "created %d of %d accounts\n", done, *count)
					lastNote = time.Now()
				}
				mu.Unlock()
			}
		})
	}
	for i := range *count {
		if ctx.Err() != nil {
			break
		}
		work <- i
	}
	close(work)
	wg.Wait()

	var out strings.Builder
	fmt.Fprintf(&out, "broker_api: {url: %s, key_env: %s, secret_env: %s}\ntenants:\n", *base, *keyEnv, *secretEnv)
	failed := 0
	for i, id := range ids {
		if errs[i] != nil || (id == "" && ctx.Err() != nil) {
			failed++
		}
		if id == "" {
			continue
		}
		note := ""
		if errs[i] != nil {
			note = " # not funded: see the error"
		}
		fmt.Fprintf(&out, "  - {id: %s%d, broker_account_id: %s, strategy: %s, params: {symbol: %s}}%s\n", *prefix, i+1, id, *strat, *symbol, note)
	}
	fmt.Fprint(c.app.Stdout, out.String())
	if failed > 0 {
		return fmt.Errorf("tenants create: %d of %d accounts not created or not funded (every account created is printed): %w", failed, *count, firstErr(errs, ctx.Err()))
	}
	return nil
}

func firstErr(errs []error, fallback error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return fallback
}

// createAttempts bounds how often one account application or funding
// journal is sent when the broker fails without saying what it did.
const createAttempts = 5

// createTenantAccount applies for one test customer's account and, with
// fundFrom, journals cash into it; it returns the account id. run makes
// the customer's e-mail address unique to this invocation, so that an
// application the broker may have acted on before failing (a 5xx, a
// dropped connection) is looked up by it before being sent again, as an
// order is by its client_order_id: a retry never opens a second account
// for a tenant, nor funds one twice.
func createTenantAccount(ctx context.Context, b *alpaca.Broker, tenant, run, fundFrom string, cash decimal.Decimal) (string, error) {
	now := time.Now().UTC()
	agree := func(name string) alpaca.Agreement {
		return alpaca.Agreement{Agreement: name, SignedAt: now, IPAddress: "127.0.0.1"}
	}
	email := tenant + "." + run + "@example.com"
	req := alpaca.CreateAccountRequest{
		Contact: alpaca.Contact{EmailAddress: email, PhoneNumber: "555-666-7788",
			StreetAddress: []string{"20 N San Mateo Dr"}, City: "San Mateo", State: "CA", PostalCode: "94401", Country: "USA"},
		Identity: alpaca.Identity{GivenName: "Test", FamilyName: "Tenant " + tenant, DateOfBirth: "1990-01-01",
			TaxID: "666-55-4321", TaxIDType: "USA_SSN", CountryOfCitizenship: "USA", CountryOfBirth: "USA",
			CountryOfTaxResidence: "USA", FundingSource: []string{"employment_income"}},
		Disclosures: alpaca.Disclosures{EmploymentStatus: "employed"},
		Agreements:  []alpaca.Agreement{agree("customer_agreement"), agree("margin_agreement"), agree("account_agreement")},
	}
	id, err := sendOnce(ctx, "create account",
		func() (string, error) {
			a, err := b.CreateAccount(ctx, req)
			if err != nil {
				return "", err
			}
			return a.ID, nil
		},
		func() (string, error) {
			found, err := b.ListAccounts(ctx, alpaca.ListAccountsRequest{Query: email, Entities: []string{"contact"}})
			if err != nil {
				return "", err
			}
			for _, a := range found {
				if a.Contact != nil && strings.EqualFold(a.Contact.EmailAddress, email) {
					return a.ID, nil
				}
			}
			return "", nil
		})
	if err != nil {
		return "", fmt.Errorf("%s: %w", tenant, err)
	}
	if fundFrom == "" || !cash.IsPositive() {
		return id, nil
	}
	note := "quantum tenants create: " + tenant + " " + run
	_, err = sendOnce(ctx, "funding journal",
		func() (string, error) {
			j, err := b.CreateJournal(ctx, alpaca.JournalRequest{EntryType: alpaca.JournalCash, FromAccount: fundFrom, ToAccount: id,
				Amount: &cash, Description: note})
			if err != nil {
				return "", err
			}
			return j.ID, nil
		},
		func() (string, error) {
			list, err := b.ListJournals(ctx, alpaca.ListJournalsRequest{EntryType: string(alpaca.JournalCash), ToAccount: id})
			if err != nil {
				return "", err
			}
			for _, j := range list {
				if j.Description == note {
					return j.ID, nil
				}
			}
			return "", nil
		})
	if err != nil {
		return id, fmt.Errorf("%s: account %s created, not funded: %w", tenant, id, err)
	}
	return id, nil
}

// sendOnce sends a request that is not idempotent until it succeeds,
// looking up whether the broker acted on a failed attempt before sending
// it again; lookup returns "" when the broker holds nothing. A refusal
// (4xx) is final.
func sendOnce(ctx context.Context, what string, send, lookup func() (string, error)) (string, error) {
	for attempt := 1; ; attempt++ {
		id, err := send()
		if err == nil {
			return id, nil
		}
		var temp interface{ Temporary() bool }
		if !errors.As(err, &temp) || !temp.Temporary() || attempt == createAttempts {
			return "", fmt.Errorf("%s: %w", what, err)
		}
		if err := backoff.Sleep(ctx, backoff.Exponential(100*time.Millisecond, 3*time.Second, attempt)); err != nil {
			return "", err
		}
		id, lerr := lookup()
		if lerr != nil {
			return "", fmt.Errorf("%s: %w; and looking up whether it was done: %w", what, err, lerr)
		}
		if id != "" {
			return id, nil
		}
	}
}
