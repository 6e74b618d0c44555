package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/quantum-alpaca/quantum/alpaca"
	"github.com/quantum-alpaca/quantum/internal/brokeracct"
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
	if liveBrokerAPI(u) {
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
	spec := brokeracct.Spec{Run: strconv.FormatInt(time.Now().UnixNano(), 36), FundFrom: *fundFrom, Cash: amount}
	names := make([]string, *count)
	for i := range names {
		names[i] = fmt.Sprint(*prefix, i+1)
	}
	lastNote := time.Now()
	ids, errs := brokeracct.OpenMany(ctx, b, names, spec, brokeracct.DefaultParallel, func(done int) {
		if time.Since(lastNote) > 2*time.Second || done == *count {
			fmt.Fprintf(c.app.Stderr, "created %d of %d accounts\n", done, *count)
			lastNote = time.Now()
		}
	})

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

// liveBrokerAPI reports whether u is Alpaca's live Broker API, where the
// made-up customers of tenants create and stress --broker-api must never
// apply for accounts.
func liveBrokerAPI(u *url.URL) bool {
	live, _ := url.Parse(alpaca.BrokerLiveURL)
	return strings.EqualFold(u.Hostname(), live.Hostname())
}
