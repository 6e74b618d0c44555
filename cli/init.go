package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/quantum-alpaca/quantum/strategy"
)

type initCommand struct{ app *App }

// DefaultInitOut is where `quantum init` writes without --out.
const DefaultInitOut = "quantum.yaml"

const initUsage = `Usage: quantum init [--out FILE] [--force]

Writes a commented starter config: one tenant for each strategy, on the
embedded paper broker, so that it runs as it is:

  quantum init && quantum run --config quantum.yaml

Every field is explained in the file, with commented examples for an Alpaca
paper account (keys from the environment) and for a PostgreSQL journal.

Flags:
`

func (c *initCommand) Run(_ context.Context, args []string) error {
	fs := flag.NewFlagSet("init", flag.ContinueOnError)
	fs.SetOutput(c.app.Stderr)
	fs.Usage = func() { fmt.Fprint(c.app.Stderr, initUsage); fs.PrintDefaults() }
	out := fs.String("out", DefaultInitOut, "write the config to `FILE` (- for stdout)")
	force := fs.Bool("force", false, "overwrite FILE if it exists")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("init takes no arguments, got %q", fs.Args())}
	}
	name := *out
	if name == "-" {
		name = DefaultInitOut
	}
	text, n := starterConfig(c.app.strategies.Specs(), name)
	if *out == "-" {
		_, err := io.WriteString(c.app.Stdout, text)
		return err
	}
	// 0600: the file is where a user may paste a secret key.
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if *force {
		flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	f, err := os.OpenFile(*out, flags, 0o600)
	if errors.Is(err, os.ErrExist) {
		return fmt.Errorf("init: %s exists; --force overwrites it", *out)
	}
	if err != nil {
		return fmt.Errorf("init: %w", err)
	}
	if _, err := io.WriteString(f, text); err != nil {
		f.Close()
		return fmt.Errorf("init: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("init: %w", err)
	}
	fmt.Fprintf(c.app.Stdout, "quantum init: wrote %s: %d tenants on the embedded paper broker. Run it with\n  quantum run --config %s\n", *out, n, *out)
	return nil
}

const starterHead = `# A starter config for quantum run, written by quantum init:
#
#   quantum run --config %[1]s
#
# As it is, it trades against the embedded paper broker, which quantum run
# starts in-process, in memory and empty each time: nothing real is bought
# or sold. Unknown keys are errors, so that a typo cannot silently switch
# a risk limit off. "quantum run -h" lists the same fields and every
# strategy's parameters.

# broker: the trading API's base URL. Left out, quantum run starts the
# embedded paper broker. It forgets its accounts when quantum run exits,
# while the journal under data keeps the orders and positions: between
# runs on it, delete data (or run quantum broker on its own and point
# broker at it). With any other broker every tenant needs a key pair of
# its own (see the Alpaca paper tenant at the end).
#broker: https://paper-api.alpaca.markets   # Alpaca paper trading
#broker: http://127.0.0.1:8090              # quantum broker on this machine

# data: the directory of the SQLite journal (every order is written there
# before it is sent, and reconciled with the broker after a crash) and of
# the trading states set through the ops API (the kill switch).
data: %[2]s

# journal: sqlite (a file under data) or a PostgreSQL database, which
# several engines can share: each runs some of the tenants and adopts those
# of an engine that stops. ${NAME} is read from the environment, so a
# password need not be written here.
journal: sqlite
#journal: postgres://quantum:${PGPASSWORD}@127.0.0.1:5432/quantum?sslmode=disable

# engine_name: how the dashboard's engine column names this engine when
# several share a PostgreSQL journal; default host:pid.
#engine_name: node-a

# listen: the ops API's address (tenants, orders, fills, the kill switch,
# /metrics). On an address that is not loopback it requires the bearer
# token in QUANTUM_API_TOKEN.
listen: %[3]s

# rate_limit: broker requests per minute per tenant; 0 is unlimited. Left
# out: unlimited for the embedded or a loopback broker, Alpaca's limit
# (200) for any other.
#rate_limit: 200

# idle_conn_timeout: how long a tenant's unused REST connection stays open.
#idle_conn_timeout: 5s

# notify: webhooks the engine's activity is sent to as alerts (Slack,
# Discord, Telegram or plain JSON), retried in the background: an alert
# never holds up trading. events defaults to all but order, fill and
# canceled; tenants, when given, limits tenant alerts to those.
#notify:
#  - url: https://hooks.slack.com/services/${SLACK_PATH}   # shown redacted in logs
#    format: slack                # slack, discord, telegram (with chat_id) or json
#    events: [fill, rejected, risk_rejected, breaker_open, tenant_failed, tenant_recovered]

# tenants: one isolated runner each, with its own account, strategy and
# risk limits. A tenant's fields:
#   id                      unique name, in logs, the ops API and client order ids
#   key_id, secret          the account's key pair (${NAME} is read from the
#                           environment), or
#   key_id_env, secret_env  the names of environment variables holding them;
#                           with the embedded broker leave them out: each
#                           tenant gets an account of its own
#   strategy                a strategy's name; params its parameters (one
#                           left out takes its default)
#   risk                    limits; one left out is not checked:
#     max_order_notional    largest qty x price of one order, USD
#     max_position_qty      largest position in one symbol, counting the open
#                           orders that would add to it
#     max_open_orders       most orders not yet finished
#     daily_loss_limit      once today's loss reaches it, only orders that
#                           reduce a position pass
#     breaker_errors, breaker_window
#                           this many broker errors within the window (e.g.
#                           10s) refuse orders for a while (default 5 in 10s)
#   state                   at start: ACTIVE (the default), REDUCING (only
#                           orders that shrink a position) or HALTED (none);
#                           a state set through the ops API takes precedence
# No limit refuses an order that only reduces a position; HALTED does.
tenants:
`

const starterTail = `
  # A tenant on an Alpaca paper account (keys from https://app.alpaca.markets):
  # set broker above to https://paper-api.alpaca.markets, export the two
  # variables, and give every other tenant keys of its own or remove it.
  #- id: paper
  #  key_id_env: APCA_API_KEY_ID
  #  secret_env: APCA_API_SECRET_KEY
  #  strategy: dca
  #  params: {symbol: AAPL, qty: 1, interval: 1h, count: 10}
  #  risk: {max_order_notional: 1000, max_position_qty: 10, max_open_orders: 2}
`

// starterRisk is every starter tenant's limits: loose enough for its
// strategy's defaults to trade, tight enough to show what they are for.
const starterRisk = "{max_order_notional: 10000, max_position_qty: 500, max_open_orders: 10, daily_loss_limit: 2000}"

// starterParams are the values a starter tenant is given where its
// strategy has no default (required parameters), or where the default is
// too slow for a first run to show anything.
var starterParams = map[string]strategy.Params{
	"dca":       {"symbol": "AAPL", "interval": "10s", "count": "100"},
	"macross":   {"symbol": "MSFT"},
	"meanrev":   {"symbol": "NVDA"},
	"rebalance": {"targets": "AAPL:0.4,NVDA:0.3,JPM:0.3", "interval": "30s"},
}

// starterGuess fills a required parameter of a strategy starterParams
// does not know (one a program registered) when its name says what it is.
var starterGuess = strategy.Params{"symbol": "AAPL", "symbols": "AAPL,MSFT", "targets": "AAPL:0.5,MSFT:0.5"}

// starterConfig is the text quantum init writes to path, with a tenant
// for each of specs, and the number of tenants in it that are not commented out. A
// strategy with a required parameter it cannot fill is written commented
// out, for the user to complete.
func starterConfig(specs []strategy.Spec, path string) (string, int) {
	var b strings.Builder
	fmt.Fprintf(&b, starterHead, path, DefaultDataDir, DefaultListen)
	n := 0
	for _, s := range specs {
		if writeStarterTenant(&b, s) {
			n++
		}
	}
	b.WriteString(starterTail)
	return b.String(), n
}

// writeStarterTenant writes s's tenant and says whether it is live (not
// commented out).
func writeStarterTenant(b *strings.Builder, s strategy.Spec) bool {
	type line struct{ name, value, note string }
	lines := make([]line, 0, len(s.Params))
	live, width := true, 0
	for _, p := range s.Params {
		v, given := starterParams[s.Name][p.Name]
		if !given && p.Required {
			v, given = starterGuess[p.Name]
		}
		note := "default " + p.Default
		switch {
		case p.Required:
			note = "required"
		case p.Default == "":
			note = "default empty"
		}
		switch {
		case given:
		case p.Required:
			v, live = "FILL_IN", false
		default:
			v = p.Default
		}
		if p.Help != "" {
			note += ": " + p.Help
		}
		l := line{p.Name, yamlScalar(v), note}
		lines = append(lines, l)
		width = max(width, len(l.name)+2+len(l.value))
	}
	prefix := "  "
	fmt.Fprintf(b, "\n  # %s: %s\n", s.Name, s.Summary)
	if !live {
		fmt.Fprintf(b, "  # Fill in the required parameters marked FILL_IN, then uncomment.\n")
		prefix = "  #"
	}
	fmt.Fprintf(b, "%s- id: %s\n", prefix, starterID(s.Name))
	fmt.Fprintf(b, "%s  strategy: %s\n", prefix, yamlScalar(s.Name))
	if len(lines) > 0 {
		fmt.Fprintf(b, "%s  params:\n", prefix)
		for _, l := range lines {
			kv := l.name + ": " + l.value
			fmt.Fprintf(b, "%s    %-*s  # %s\n", prefix, width, kv, l.note)
		}
	}
	fmt.Fprintf(b, "%s  risk: %s\n", prefix, starterRisk)
	return live
}

// starterID is a tenant id made from a strategy's name: the characters a
// client order id keeps verbatim.
func starterID(name string) string {
	id := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '-'
	}, name)
	return yamlScalar(id)
}

// plainYAML matches a value YAML reads back as the same string without
// quotes, in a block mapping.
var plainYAML = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:,/+-]*$`)

// yamlScalar writes v as a YAML scalar that reads back as v: plain when
// that is unambiguous, else double-quoted (Go's escapes are YAML's for
// the printable text of names and parameters).
func yamlScalar(v string) string {
	if plainYAML.MatchString(v) && !strings.HasSuffix(v, ":") {
		return v
	}
	return strconv.Quote(v)
}
