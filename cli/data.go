package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/quantum-alpaca/quantum/alpaca"
	"github.com/quantum-alpaca/quantum/bars"
)

// dataCommand is `quantum data`: it fills the bar store that backtest
// --data and broker --bars read.
type dataCommand struct{ app *App }

// storeLayout is shared by every -h of quantum data, so that whichever
// one a user reads says where the files go.
const storeLayout = `The store is plain CSV, one file per symbol per New York calendar day:
  DIR/TIMEFRAME/SYMBOL/YYYY-MM-DD.csv      e.g. DIR/1Min/AAPL/2024-01-02.csv
Each file has the header
  time,open,high,low,close,volume,trade_count,vwap
and the day's bars in time order: time is the bar's start in RFC 3339,
UTC; prices are decimals; volume and trade_count are whole numbers; a
vwap or trade_count of 0 means unknown. A file with only the header is a
day without bars (a weekend or holiday). In SYMBOL, bytes other than
A-Z a-z 0-9 . - _ (and a leading .) are written %XX, so BTC/USD is stored
as BTC%2FUSD. Files are written whole and renamed into place, so an
interrupted command never leaves half a day. "quantum backtest --data DIR"
and "quantum broker --bars DIR" read DIR/1Min.
`

const dataUsage = `Usage: quantum data COMMAND [flags]

Records historical bars in a directory that other tools can open as well.

Commands:
  fetch    download bars from Alpaca's market-data API (resumable)
  import   add bars from CSV files

Run "quantum data COMMAND -h" for a command's flags.

` + storeLayout

const dataFetchUsage = `Usage: quantum data fetch --symbols AAPL,MSFT --from YYYY-MM-DD --to YYYY-MM-DD --out DIR [flags]

Downloads bars from Alpaca's market-data API (or anything that serves it,
such as "quantum broker") into the store in DIR, with a progress bar on
stderr when it is a terminal, and prints a one-line summary.

Days are New York calendar days. --from is the first day recorded and --to
is exclusive: --from 2024-01-02 --to 2024-01-04 records January 2 and 3.
Every day of the window gets a file, an empty one when it had no bars.
Days that have not ended at least 15 minutes ago are left out, because
their bars are not final yet.

It is resumable: the days already in DIR are skipped, so running the same
command again after an interruption, or with a longer window, downloads
only the days still missing. To download a day again, delete its file.

Credentials come from the environment, as with Alpaca's SDKs:
  APCA_API_KEY_ID, APCA_API_SECRET_KEY   your Alpaca API key
  APCA_API_DATA_URL                      the default of --data-url

Flags:
`

const dataImportUsage = `Usage: quantum data import --symbol AAPL --out DIR [--timeframe 1Min] FILE.csv [FILE.csv ...]

Adds bars of one symbol from CSV files ("-" reads stdin) to the store in
DIR, and prints how many bars each file held. An imported bar replaces a
stored bar with the same time; the other stored bars stay. Flags go before
the files.

The first line of a file is a header naming its columns, in any order and
case (other columns are ignored):
  time, timestamp or t     the bar's start: RFC 3339, or Unix seconds, or
                           Unix milliseconds when 1e11 or more
  open or o, high or h, low or l, close or c
                           prices, positive, low <= open, close <= high
  volume or v              a whole number
  trade_count or n         optional, a whole number (missing: 0)
  vwap or vw               optional, the volume-weighted price (missing: 0)
Rows may come in any order, but not two for the same time. A file with any
invalid row imports nothing, and the error names the file and the line;
the files before it stay imported.

Flags:
`

func (c *dataCommand) Run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		io.WriteString(c.app.Stderr, dataUsage)
		return usageError{"data: no command given (fetch or import)"}
	}
	switch args[0] {
	case "fetch":
		return c.fetch(ctx, args[1:])
	case "import":
		return c.importCSV(args[1:])
	case "help", "-h", "-help", "--help":
		io.WriteString(c.app.Stderr, dataUsage)
		return flag.ErrHelp
	}
	io.WriteString(c.app.Stderr, dataUsage)
	return usageError{fmt.Sprintf("data: unknown command %q", args[0])}
}

// flagSet returns a flag set that reports to the app's stderr with the
// given usage text followed by the flags and the store layout.
func (c *dataCommand) flagSet(name, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet("data "+name, flag.ContinueOnError)
	fs.SetOutput(c.app.Stderr)
	fs.Usage = func() {
		io.WriteString(c.app.Stderr, usage)
		fs.PrintDefaults()
		fmt.Fprintln(c.app.Stderr)
		io.WriteString(c.app.Stderr, storeLayout)
	}
	return fs
}

// parseFlags parses args, turning a bad flag into a usage error (the flag
// package has already printed the usage).
func parseFlags(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return err
	}
	return usageError{err.Error()}
}

// timeframeRE accepts the timeframes Alpaca's bars endpoint does, in its
// spellings; the store would take more, but a fetch could not fill them.
var timeframeRE = regexp.MustCompile(`^[1-9][0-9]{0,2}(Min|T|Hour|H|Day|D|Week|W|Month|M)$`)

func checkTimeframeFlag(cmd, tf string) error {
	if !timeframeRE.MatchString(tf) {
		return usageError{fmt.Sprintf("data %s: --timeframe %q: want a count and a unit such as 1Min, 15Min, 1Hour or 1Day", cmd, tf)}
	}
	return nil
}

func (c *dataCommand) fetch(ctx context.Context, args []string) error {
	fs := c.flagSet("fetch", dataFetchUsage)
	symbolsS := fs.String("symbols", "", "comma-separated `SYMBOLS` to record, e.g. AAPL,MSFT")
	fromS := fs.String("from", "", "first `DAY` to record, YYYY-MM-DD (New York)")
	toS := fs.String("to", "", "`DAY` after the last one to record (exclusive), YYYY-MM-DD (New York)")
	tf := fs.String("timeframe", "1Min", "bar `TIMEFRAME` as Alpaca spells it: 1Min, 5Min, 1Hour, 1Day, ...")
	feed := fs.String("feed", "", "market-data `FEED`, iex or sip (default: the server's choice for your subscription)")
	out := fs.String("out", "", "store `DIR` (created if missing)")
	dataURL := fs.String("data-url", c.envOr("APCA_API_DATA_URL", alpaca.DataURL), "market-data API base `URL`")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("data fetch: unexpected argument %q", fs.Arg(0))}
	}
	var symbols []string
	for _, s := range strings.Split(*symbolsS, ",") {
		s = strings.ToUpper(strings.TrimSpace(s))
		if s != "" && !slices.Contains(symbols, s) {
			symbols = append(symbols, s)
		}
	}
	if len(symbols) == 0 {
		return usageError{"data fetch: --symbols is required, e.g. --symbols AAPL,MSFT"}
	}
	from, err := dayFlag("fetch", "from", *fromS)
	if err != nil {
		return err
	}
	to, err := dayFlag("fetch", "to", *toS)
	if err != nil {
		return err
	}
	if !from.Before(to) {
		return usageError{fmt.Sprintf("data fetch: --from %s must be before --to %s (--to is exclusive)", from, to)}
	}
	if err := checkTimeframeFlag("fetch", *tf); err != nil {
		return err
	}
	switch *feed {
	case "", alpaca.FeedIEX, alpaca.FeedSIP:
	default:
		return usageError{fmt.Sprintf("data fetch: --feed %q: want iex or sip", *feed)}
	}
	if *out == "" {
		return usageError{"data fetch: --out DIR is required"}
	}
	if u, err := url.Parse(*dataURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return usageError{fmt.Sprintf("data fetch: --data-url %q is not an http(s) URL", *dataURL)}
	}
	key, secret := c.app.getenv("APCA_API_KEY_ID"), c.app.getenv("APCA_API_SECRET_KEY")
	if key == "" || secret == "" {
		var missing []string
		if key == "" {
			missing = append(missing, "APCA_API_KEY_ID")
		}
		if secret == "" {
			missing = append(missing, "APCA_API_SECRET_KEY")
		}
		return usageError{fmt.Sprintf("data fetch: no Alpaca API key: set APCA_API_KEY_ID and APCA_API_SECRET_KEY in the environment (%s not set)", strings.Join(missing, " and "))}
	}
	// Only the market-data API is called, so it serves as the trading
	// base URL too: no request goes anywhere the user did not name.
	client, err := alpaca.New(*dataURL, alpaca.WithCredentials(key, secret), alpaca.WithDataURL(*dataURL))
	if err != nil {
		return usageError{"data fetch: " + err.Error()}
	}
	defer client.CloseIdleConnections()
	store, err := bars.Open(*out)
	if err != nil {
		return err
	}

	start := time.Now()
	var last bars.Progress
	var already int
	var bar *progressbar.ProgressBar
	err = bars.Fetch(ctx, client, store, bars.FetchRequest{
		Symbols:   symbols,
		From:      from.Start(),
		To:        to.Start(),
		Timeframe: *tf,
		Feed:      *feed,
	}, func(p bars.Progress) {
		if p.Symbol == "" {
			already = p.Done
			bar = c.progressBar(p)
		}
		last = p
		if bar == nil {
			return
		}
		if p.Symbol != "" {
			bar.Describe(fmt.Sprintf("%s %s", p.Symbol, p.Day))
		}
		_ = bar.Set64(int64(p.Done))
	})
	elapsed := time.Since(start).Round(time.Millisecond)
	if bar != nil {
		if err != nil {
			// Leave the line to the error, not to a stale bar.
			_ = bar.Clear()
			_ = bar.Exit()
		} else {
			_ = bar.Finish()
		}
	}
	if err != nil {
		if last.Total > 0 {
			fmt.Fprintf(c.app.Stderr, "data fetch: stopped after %d of %d symbol-days (%d bars written); run the same command again to resume\n", last.Done, last.Total, last.Bars)
		}
		return err
	}
	wanted := 0
	for d := from; d.Before(to); d = d.AddDays(1) {
		wanted++
	}
	summary := fmt.Sprintf("data fetch: %d symbol-days (%d already stored), %d bars written to %s in %s", last.Total, already, last.Bars, store.Dir(), elapsed)
	if left := wanted - last.Total/len(symbols); left > 0 {
		summary += fmt.Sprintf("; skipped %d day(s) that have not ended yet", left)
	}
	fmt.Fprintln(c.app.Stdout, summary)
	return nil
}

// progressBar returns a bar of symbol-days on a terminal, in stress's
// style, or nil: piped or logged output gets only the summary, not
// carriage returns.
func (c *dataCommand) progressBar(p bars.Progress) *progressbar.ProgressBar {
	tty, ok := c.app.Stderr.(*os.File)
	if !ok || !term.IsTerminal(int(tty.Fd())) || p.Done >= p.Total {
		return nil
	}
	return progressbar.NewOptions64(int64(p.Total),
		progressbar.OptionSetWriter(c.app.Stderr),
		progressbar.OptionSetDescription("symbol-days"),
		progressbar.OptionShowCount(),
		progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionClearOnFinish())
}

func (c *dataCommand) importCSV(args []string) error {
	fs := c.flagSet("import", dataImportUsage)
	symbol := fs.String("symbol", "", "the `SYMBOL` the files hold bars of")
	tf := fs.String("timeframe", "1Min", "the bars' `TIMEFRAME`: 1Min, 5Min, 1Hour, 1Day, ...")
	out := fs.String("out", "", "store `DIR` (created if missing)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	files := fs.Args()
	// The flag package stops at the first file, so a flag after it would
	// be taken for a file name; say so rather than "no such file".
	stdin := 0
	for _, f := range files {
		if f == "-" {
			stdin++
		} else if strings.HasPrefix(f, "-") {
			return usageError{fmt.Sprintf("data import: %q after the files: flags go before the files", f)}
		}
	}
	switch {
	case *symbol == "":
		return usageError{"data import: --symbol is required"}
	case *out == "":
		return usageError{"data import: --out DIR is required"}
	case len(files) == 0:
		return usageError{`data import: name the CSV files to import ("-" for stdin)`}
	case stdin > 1:
		return usageError{`data import: "-" (stdin) may be named once`}
	}
	if err := checkTimeframeFlag("import", *tf); err != nil {
		return err
	}
	store, err := bars.Open(*out)
	if err != nil {
		return err
	}
	for _, name := range files {
		label := name
		if name == "-" {
			label = "stdin"
		}
		n, err := c.importFile(store, strings.ToUpper(*symbol), *tf, name, label)
		if err != nil {
			return err
		}
		fmt.Fprintf(c.app.Stdout, "%s: %d bars imported\n", label, n)
	}
	return nil
}

func (c *dataCommand) importFile(store *bars.Store, symbol, tf, name, label string) (int, error) {
	var r io.Reader
	if name == "-" {
		if c.app.Stdin == nil {
			return 0, errors.New("data import: no stdin")
		}
		r = c.app.Stdin
	} else {
		f, err := os.Open(name)
		if err != nil {
			return 0, fmt.Errorf("data import: %w", err)
		}
		defer f.Close()
		r = f
	}
	n, err := bars.ImportCSV(r, store, symbol, tf)
	if err == nil {
		return n, nil
	}
	// ImportCSV does not know the file's name; a CSVError that already
	// has one is about a stored day file, and names that instead.
	var ce *bars.CSVError
	if errors.As(err, &ce) && ce.File == "" {
		ce.File = label
		return n, err
	}
	return n, fmt.Errorf("data import: %s: %w", label, err)
}

// dayFlag parses a YYYY-MM-DD flag into a usage error naming it. The
// years are those Fetch accepts, so that a typo is caught before any
// file is written.
func dayFlag(cmd, name, s string) (bars.Day, error) {
	if s == "" {
		return bars.Day{}, usageError{fmt.Sprintf("data %s: --%s YYYY-MM-DD is required", cmd, name)}
	}
	d, err := bars.ParseDay(s)
	if err != nil {
		return bars.Day{}, usageError{fmt.Sprintf("data %s: --%s %q: want a date YYYY-MM-DD", cmd, name, s)}
	}
	if d.Year < 1970 || d.Year >= 2200 {
		return bars.Day{}, usageError{fmt.Sprintf("data %s: --%s %s: want a year from 1970 to 2199", cmd, name, s)}
	}
	return d, nil
}

// envOr reads an environment variable with a default.
func (c *dataCommand) envOr(name, def string) string {
	if v := c.app.getenv(name); v != "" {
		return v
	}
	return def
}
