package cli

import (
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/quantum-alpaca/quantum/bars"
	"github.com/quantum-alpaca/quantum/internal/simtest"
	"github.com/quantum-alpaca/quantum/sim"
)

var fetchSummaryRE = regexp.MustCompile(`^data fetch: (\d+) symbol-days \((\d+) already stored\), (\d+) bars written to .+ in \S+\n$`)

// fetchSummary runs quantum data fetch and returns what its summary
// line says: symbol-days, of those already stored, bars written.
func fetchSummary(t *testing.T, env map[string]string, args ...string) (days, stored, written int) {
	t.Helper()
	a, stdout, stderr := newApp(env)
	if err := a.Run(context.Background(), append([]string{"data", "fetch"}, args...)); err != nil {
		t.Fatalf("data fetch: %v\n%s", err, stderr)
	}
	m := fetchSummaryRE.FindStringSubmatch(stdout.String())
	if m == nil {
		t.Fatalf("summary %q does not match %s", stdout, fetchSummaryRE)
	}
	// Not a terminal: no progress bar, and never the secret.
	if strings.Contains(stderr.String(), "\r") || strings.Contains(stdout.String()+stderr.String(), env["APCA_API_SECRET_KEY"]) {
		t.Fatalf("stderr %q, stdout %q: a progress bar or the secret", stderr, stdout)
	}
	n := func(s string) int { v, _ := strconv.Atoi(s); return v }
	return n(m[1]), n(m[2]), n(m[3])
}

// A fetch from the broker simulator over TCP records every symbol-day of
// the window; running it again asks for nothing, and after a day's file
// is deleted it records that day alone, the same bars.
func TestDataFetch(t *testing.T) {
	t.Parallel()
	b := simtest.Start(t, sim.Config{Seed: 1, Session: sim.NYSE{}})
	env := map[string]string{"APCA_API_KEY_ID": "PKDATAFETCH", "APCA_API_SECRET_KEY": "data-fetch-s3cret"}
	// The simulator holds a week of minute bars before its start. Two days
	// well inside it, settled, at least one of them a trading day.
	today := bars.DayOf(time.Now())
	from := today.AddDays(-3)
	for k := 3; k <= 5; k++ {
		d := today.AddDays(-k)
		_, open := sim.NYSE{}.Day(d.Start().Add(12 * time.Hour))
		_, openNext := sim.NYSE{}.Day(d.AddDays(1).Start().Add(12 * time.Hour))
		if open || openNext {
			from = d
			break
		}
	}
	days := []bars.Day{from, from.AddDays(1)}
	dir := filepath.Join(t.TempDir(), "store")
	args := []string{"--symbols", "aapl, MSFT", "--from", from.String(), "--to", from.AddDays(2).String(), "--out", dir, "--data-url", b.URL, "--feed", "iex"}

	n, stored, written := fetchSummary(t, env, args...)
	if n != 4 || stored != 0 || written == 0 {
		t.Fatalf("first fetch: %d symbol-days, %d stored, %d bars; want 4, 0, some", n, stored, written)
	}
	s, err := bars.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, sym := range []string{"AAPL", "MSFT"} {
		for _, d := range days {
			if _, err := os.Stat(filepath.Join(dir, "1Min", sym, d.String()+".csv")); err != nil {
				t.Fatalf("%s %s: %v", sym, d, err)
			}
		}
		bs, err := s.Read(sym, "1Min", days[0].Start(), days[1].AddDays(1).Start())
		if err != nil {
			t.Fatal(err)
		}
		total += len(bs)
	}
	if total != written {
		t.Fatalf("the summary says %d bars written, the store reads %d", written, total)
	}

	if n, stored, written := fetchSummary(t, env, args...); n != 4 || stored != 4 || written != 0 {
		t.Fatalf("second fetch: %d symbol-days, %d stored, %d bars; want 4, 4, 0", n, stored, written)
	}

	// The trading day is fetched again, and only it.
	d := days[0]
	if _, open := (sim.NYSE{}).Day(d.Start().Add(12 * time.Hour)); !open {
		d = days[1]
	}
	before, err := s.Read("AAPL", "1Min", d.Start(), d.AddDays(1).Start())
	if err != nil || len(before) == 0 {
		t.Fatalf("AAPL %s: %d bars, %v", d, len(before), err)
	}
	if err := os.Remove(filepath.Join(dir, "1Min", "AAPL", d.String()+".csv")); err != nil {
		t.Fatal(err)
	}
	if n, stored, written := fetchSummary(t, env, args...); n != 4 || stored != 3 || written != len(before) {
		t.Fatalf("fetch after deleting a day: %d symbol-days, %d stored, %d bars; want 4, 3, %d", n, stored, written, len(before))
	}
	after, err := s.Read("AAPL", "1Min", d.Start(), d.AddDays(1).Start())
	if err != nil || !reflect.DeepEqual(after, before) {
		t.Fatalf("AAPL %s fetched again: %d bars, %v; had %d", d, len(after), err, len(before))
	}
}

// Without a key pair, fetch says which variables to set, and touches
// nothing.
func TestDataFetchCredentials(t *testing.T) {
	t.Parallel()
	for _, env := range []map[string]string{nil, {"APCA_API_KEY_ID": "PKONLY"}, {"APCA_API_SECRET_KEY": "only-the-s3cret"}} {
		dir := filepath.Join(t.TempDir(), "store")
		a, stdout, stderr := newApp(env)
		status := a.Main([]string{"data", "fetch", "--symbols", "AAPL", "--from", "2024-01-02", "--to", "2024-01-03", "--out", dir, "--data-url", "http://127.0.0.1:1"})
		msg := stderr.String()
		if status == 0 || !strings.Contains(msg, "APCA_API_KEY_ID") || !strings.Contains(msg, "APCA_API_SECRET_KEY") {
			t.Errorf("env %v: status %d, stderr %q; want a failure naming both variables", env, status, msg)
		}
		if s := env["APCA_API_SECRET_KEY"]; s != "" && strings.Contains(msg+stdout.String(), s) {
			t.Errorf("the secret was printed: %q", msg)
		}
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("env %v: the store was created (%v)", env, err)
		}
	}
}

// Import reads CSV in the documented columns from files and stdin, says
// how many bars each file held, and what it stored reads back; a bad row
// is reported with its file and line.
func TestDataImport(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	store := filepath.Join(dir, "store")
	csv1 := filepath.Join(dir, "one.csv")
	if err := os.WriteFile(csv1, []byte("timestamp,o,h,l,c,v,vw\n"+
		"2024-01-02T14:31:00Z,187.64,187.7,187.5,187.5,250,187.6\n"+
		"1704205800,187.15,188.44,187,187.6351,1234567,\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	a, stdout, stderr := newApp(nil)
	a.Stdin = strings.NewReader("time,open,high,low,close,volume,trade_count\n1704205920000,187.5,187.9,187.4,187.8,900,12\n")
	if err := a.Run(context.Background(), []string{"data", "import", "--symbol", "aapl", "--out", store, csv1, "-"}); err != nil {
		t.Fatalf("import: %v\n%s", err, stderr)
	}
	if want := csv1 + ": 2 bars imported\nstdin: 1 bars imported\n"; stdout.String() != want {
		t.Fatalf("stdout %q, want %q", stdout, want)
	}
	s, err := bars.Open(store)
	if err != nil {
		t.Fatal(err)
	}
	day := bars.Day{Year: 2024, Month: time.January, Day: 2}
	got, err := s.Read("AAPL", "1Min", day.Start(), day.AddDays(1).Start())
	if err != nil {
		t.Fatal(err)
	}
	at := func(minute int) time.Time { return time.Date(2024, 1, 2, 14, minute, 0, 0, time.UTC) }
	want := []bars.Bar{
		{Time: at(30), Open: 187.15, High: 188.44, Low: 187, Close: 187.6351, Volume: 1234567},
		{Time: at(31), Open: 187.64, High: 187.7, Low: 187.5, Close: 187.5, Volume: 250, VWAP: 187.6},
		{Time: at(32), Open: 187.5, High: 187.9, Low: 187.4, Close: 187.8, Volume: 900, TradeCount: 12},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("read back %+v\nwant %+v", got, want)
	}

	// A high below the close on line 3: nothing of that file is stored.
	bad := filepath.Join(dir, "bad.csv")
	if err := os.WriteFile(bad, []byte("t,o,h,l,c,v\n2024-01-03T14:30:00Z,10,11,9,10,1\n2024-01-03T14:31:00Z,10,10,9,12,1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	a, _, stderr = newApp(nil)
	if status := a.Main([]string{"data", "import", "--symbol", "AAPL", "--out", store, bad}); status != 1 || !strings.Contains(stderr.String(), bad+":3: ") {
		t.Fatalf("bad file: status %d, stderr %q; want 1 and the file's line 3", status, stderr)
	}
	if s.Has("AAPL", "1Min", day.AddDays(1)) {
		t.Fatal("the invalid file was imported in part")
	}
}

// Mistakes in the command line are usage errors (exit status 2), found
// before anything is fetched or written.
func TestDataUsageErrors(t *testing.T) {
	t.Parallel()
	env := map[string]string{"APCA_API_KEY_ID": "PKUSAGE", "APCA_API_SECRET_KEY": "usage-s3cret"}
	fetch := func(drop string, extra ...string) []string {
		args := []string{"data", "fetch"}
		for _, kv := range [][2]string{{"--symbols", "AAPL"}, {"--from", "2024-01-02"}, {"--to", "2024-01-04"}, {"--out", "OUT"}, {"--data-url", "http://127.0.0.1:1"}} {
			if kv[0] != drop {
				args = append(args, kv[0], kv[1])
			}
		}
		return append(args, extra...)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"NoCommand", []string{"data"}, "no command"},
		{"UnknownCommand", []string{"data", "fly"}, `unknown command "fly"`},
		{"FetchNoOut", fetch("--out"), "--out"},
		{"FetchNoSymbols", fetch("--symbols"), "--symbols"},
		{"FetchNoFrom", fetch("--from"), "--from"},
		{"FetchBadDate", fetch("", "--from", "2024-13-01"), "--from"},
		{"FetchBadTo", fetch("", "--to", "yesterday"), "--to"},
		{"FetchEmptyWindow", fetch("", "--to", "2024-01-02"), "before --to"},
		{"FetchBadFeed", fetch("", "--feed", "nasdaq"), "--feed"},
		{"FetchBadTimeframe", fetch("", "--timeframe", "1Fortnight"), "--timeframe"},
		{"FetchBadURL", fetch("", "--data-url", "ftp://x"), "--data-url"},
		{"FetchUnknownFlag", fetch("", "--symbol", "AAPL"), "-symbol"},
		{"FetchArgument", fetch("", "AAPL"), "unexpected argument"},
		{"ImportNoSymbol", []string{"data", "import", "--out", "OUT", "x.csv"}, "--symbol"},
		{"ImportNoOut", []string{"data", "import", "--symbol", "AAPL", "x.csv"}, "--out"},
		{"ImportNoFiles", []string{"data", "import", "--symbol", "AAPL", "--out", "OUT"}, "CSV files"},
		{"ImportFlagAfterFile", []string{"data", "import", "--symbol", "AAPL", "x.csv", "--out", "OUT"}, "flags go before"},
		{"ImportStdinTwice", []string{"data", "import", "--symbol", "AAPL", "--out", "OUT", "-", "-"}, "once"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out := filepath.Join(t.TempDir(), "store")
			args := make([]string, len(tc.args))
			for i, a := range tc.args {
				args[i] = strings.ReplaceAll(a, "OUT", out)
			}
			a, _, _ := newApp(env)
			err := a.Run(context.Background(), args)
			var ue usageError
			if !errors.As(err, &ue) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("%q: err = %v, want a usage error mentioning %q", args, err, tc.want)
			}
			a, _, _ = newApp(env)
			if status := a.Main(args); status != 2 {
				t.Fatalf("%q: exit status %d, want 2", args, status)
			}
			if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("%q: the store was created (%v)", args, err)
			}
		})
	}
}

// Each -h documents what a user needs without the source: the
// subcommands, the store's layout, --to's meaning and resuming, the CSV
// columns.
func TestDataHelp(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"data", "-h"}, []string{"Usage: quantum data", "  fetch ", "  import ", "DIR/1Min/AAPL/2024-01-02.csv", "BTC%2FUSD", "time,open,high,low,close,volume,trade_count,vwap"}},
		{[]string{"data", "fetch", "-h"}, []string{"Usage: quantum data fetch", "exclusive", "resumable", "APCA_API_KEY_ID", "APCA_API_DATA_URL", "-data-url", "DIR/1Min/AAPL"}},
		{[]string{"data", "import", "-h"}, []string{"Usage: quantum data import", "timestamp or t", "trade_count or n", "vwap or vw", "Unix milliseconds", "DIR/1Min/AAPL"}},
	} {
		a, stdout, stderr := newApp(nil)
		if err := a.Run(context.Background(), tc.args); !errors.Is(err, flag.ErrHelp) {
			t.Errorf("%q: err = %v, want flag.ErrHelp", tc.args, err)
		}
		for _, w := range tc.want {
			if !strings.Contains(stderr.String(), w) {
				t.Errorf("%q does not show %q:\n%s", tc.args, w, stderr)
			}
		}
		if stdout.String() != "" {
			t.Errorf("%q wrote to stdout: %q", tc.args, stdout)
		}
	}
	a, stdout, _ := newApp(nil)
	if err := a.Run(context.Background(), []string{"help"}); err != nil || !strings.Contains(stdout.String(), "quantum data ") {
		t.Errorf("the command's usage does not list data: %v\n%s", err, stdout)
	}
}
