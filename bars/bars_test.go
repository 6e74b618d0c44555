package bars_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/quantum-alpaca/quantum/bars"
)

// day0 is 2024-01-02, a Tuesday; its bars are in 14:30Z-21:00Z.
var day0 = bars.Day{Year: 2024, Month: time.January, Day: 2}

func at(hhmm string) time.Time {
	t, err := time.Parse(time.RFC3339, "2024-01-02T"+hhmm+":00Z")
	if err != nil {
		panic(err)
	}
	return t
}

func sample() []bars.Bar {
	return []bars.Bar{
		{Time: at("14:30"), Open: 187.15, High: 188.44, Low: 187.0, Close: 187.6351, Volume: 1_234_567, TradeCount: 9876, VWAP: 187.712345},
		{Time: at("14:31"), Open: 187.64, High: 187.7, Low: 187.5, Close: 187.5, Volume: 250, TradeCount: 3, VWAP: 187.6},
		{Time: at("20:59"), Open: 0.0051, High: 0.0052, Low: 0.005, Close: 0.0051, Volume: 0, TradeCount: 0, VWAP: 0},
	}
}

func mustOpen(t *testing.T) *bars.Store {
	t.Helper()
	s, err := bars.Open(filepath.Join(t.TempDir(), "store"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestStoreRoundTrip(t *testing.T) {
	s := mustOpen(t)
	in := sample()
	if s.Has("AAPL", "1Min", day0) {
		t.Fatal("Has before Write")
	}
	if err := s.Write("AAPL", "1Min", day0, in); err != nil {
		t.Fatal(err)
	}
	if !s.Has("AAPL", "1Min", day0) || s.Has("AAPL", "1Min", day0.AddDays(1)) || s.Has("AAPL", "1Day", day0) {
		t.Fatal("Has disagrees with what was written")
	}
	data, err := os.ReadFile(filepath.Join(s.Dir(), "1Min", "AAPL", "2024-01-02.csv"))
	if err != nil {
		t.Fatal(err)
	}
	want := "time,open,high,low,close,volume,trade_count,vwap\n" +
		"2024-01-02T14:30:00Z,187.15,188.44,187,187.6351,1234567,9876,187.712345\n" +
		"2024-01-02T14:31:00Z,187.64,187.7,187.5,187.5,250,3,187.6\n" +
		"2024-01-02T20:59:00Z,0.0051,0.0052,0.005,0.0051,0,0,0\n"
	if string(data) != want {
		t.Fatalf("file:\n%s\nwant:\n%s", data, want)
	}
	got, err := s.Read("AAPL", "1Min", day0.Start(), day0.AddDays(1).Start())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, in) {
		t.Fatalf("read %+v\nwant %+v", got, in)
	}
	// [from, to): the 14:31 bar starts at to, and is left out.
	got, err = s.Read("AAPL", "1Min", at("14:30"), at("14:31"))
	if err != nil || len(got) != 1 || !got[0].Time.Equal(at("14:30")) {
		t.Fatalf("window read: %v %+v", err, got)
	}
	if _, err := s.Read("MSFT", "1Min", day0.Start(), day0.AddDays(1).Start()); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("unknown symbol: %v", err)
	}

	// A day without bars is a file with the header only.
	if err := s.Write("AAPL", "1Min", day0.AddDays(-2), nil); err != nil {
		t.Fatal(err)
	}
	data, _ = os.ReadFile(filepath.Join(s.Dir(), "1Min", "AAPL", "2023-12-31.csv"))
	if string(data) != "time,open,high,low,close,volume,trade_count,vwap\n" {
		t.Fatalf("empty day: %q", data)
	}
	days, err := s.Days("AAPL", "1Min")
	if err != nil || !reflect.DeepEqual(days, []bars.Day{day0.AddDays(-2), day0}) {
		t.Fatalf("days %v %v", days, err)
	}
	all, err := s.ReadAll("1Min", time.Time{}, time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil || !reflect.DeepEqual(all, map[string][]bars.Bar{"AAPL": in}) {
		t.Fatalf("ReadAll = %v, %v", all, err)
	}
	// No temporary files are left behind.
	ents, _ := os.ReadDir(filepath.Join(s.Dir(), "1Min", "AAPL"))
	if len(ents) != 2 {
		t.Fatalf("files %v", ents)
	}
}

func TestSymbolEscaping(t *testing.T) {
	s := mustOpen(t)
	b := []bars.Bar{{Time: at("14:30"), Open: 1, High: 1, Low: 1, Close: 1}}
	for _, sym := range []string{"BTC/USD", "BRK.B", ".X", "A%B", "a b", "AAPL"} {
		if err := s.Write(sym, "1Min", day0, b); err != nil {
			t.Fatalf("%s: %v", sym, err)
		}
	}
	for dir, want := range map[string]bool{"BTC%2FUSD": true, "BRK.B": true, "%2EX": true, "A%25B": true, "a%20b": true} {
		if _, err := os.Stat(filepath.Join(s.Dir(), "1Min", dir, "2024-01-02.csv")); (err == nil) != want {
			t.Errorf("%s: %v", dir, err)
		}
	}
	// Directories that are not encodings of a symbol are not symbols.
	for _, junk := range []string{"btc%2fusd", "%ZZ", ".hidden", "x%2"} {
		if err := os.MkdirAll(filepath.Join(s.Dir(), "1Min", junk), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	syms, err := s.Symbols("1Min")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{".X", "A%B", "AAPL", "BRK.B", "BTC/USD", "a b"}; !reflect.DeepEqual(syms, want) {
		t.Fatalf("symbols %q, want %q", syms, want)
	}
	if got, err := s.Read("BTC/USD", "1Min", day0.Start(), day0.AddDays(1).Start()); err != nil || len(got) != 1 {
		t.Fatalf("read BTC/USD: %v %v", got, err)
	}
	if syms, err := s.Symbols("1Day"); err != nil || len(syms) != 0 {
		t.Fatalf("no 1Day bars: %v %v", syms, err)
	}
	for _, tf := range []string{"", "Min", "0Min", "1Min/..", "../1Min", "1"} {
		if err := s.Write("AAPL", tf, day0, b); err == nil {
			t.Errorf("timeframe %q accepted", tf)
		}
	}
	if err := s.Write("", "1Min", day0, b); err == nil {
		t.Error("empty symbol accepted")
	}
}

func TestWriteRejectsBadBars(t *testing.T) {
	s := mustOpen(t)
	good := sample()
	for name, c := range map[string]struct {
		bars []bars.Bar
		want string
	}{
		"other day": {[]bars.Bar{{Time: at("14:30").Add(24 * time.Hour), Open: 1, High: 1, Low: 1, Close: 1}}, "not on 2024-01-02"},
		"unsorted":  {[]bars.Bar{good[1], good[0]}, "not after"},
		"duplicate": {[]bars.Bar{good[0], good[0]}, "not after"},
		"zero":      {[]bars.Bar{{Time: at("14:30"), Open: 0, High: 1, Low: 1, Close: 1}}, "open 0"},
		"high":      {[]bars.Bar{{Time: at("14:30"), Open: 2, High: 1.5, Low: 1, Close: 1}}, "high 1.5"},
		"low":       {[]bars.Bar{{Time: at("14:30"), Open: 1, High: 2, Low: 1.5, Close: 2}}, "low 1.5"},
		"vwap":      {[]bars.Bar{{Time: at("14:30"), Open: 1, High: 1, Low: 1, Close: 1, VWAP: -1}}, "vwap"},
	} {
		err := s.Write("AAPL", "1Min", day0, c.bars)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", name, err, c.want)
		}
	}
	if s.Has("AAPL", "1Min", day0) {
		t.Fatal("a rejected day was written")
	}
}

// A damaged or hand-edited file is reported with its path and line, never
// a panic.
func TestReadReportsFileAndLine(t *testing.T) {
	const hdr = "time,open,high,low,close,volume,trade_count,vwap\n"
	const ok = "2024-01-02T14:30:00Z,1,2,0.5,1.5,10,1,1.2\n"
	for name, c := range map[string]struct {
		body string
		line int
		want string
	}{
		"empty":        {"", 1, "missing the header"},
		"header":       {"t,o,h,l,c,v,n,vw\n" + ok, 1, "header"},
		"fields":       {hdr + ok + "2024-01-02T14:31:00Z,1,2,0.5,1.5,10,1\n", 3, "wrong number of fields"},
		"time":         {hdr + "yesterday,1,2,0.5,1.5,10,1,1.2\n", 2, "RFC 3339"},
		"price":        {hdr + ok + "2024-01-02T14:31:00Z,1,x,0.5,1.5,10,1,1.2\n", 3, "high \"x\""},
		"negative":     {hdr + "2024-01-02T14:31:00Z,-1,2,-2,1.5,10,1,1.2\n", 2, "open -1"},
		"nan":          {hdr + "2024-01-02T14:31:00Z,NaN,2,1,1.5,10,1,1.2\n", 2, "open NaN"},
		"high < close": {hdr + "2024-01-02T14:31:00Z,1,2,0.5,2.5,10,1,1.2\n", 2, "high 2"},
		"volume":       {hdr + "2024-01-02T14:31:00Z,1,2,0.5,1.5,1.5,1,1.2\n", 2, "volume"},
		"unsorted":     {hdr + "2024-01-02T14:31:00Z,1,2,0.5,1.5,10,1,1.2\n" + ok, 3, "not after"},
		"other day":    {hdr + "2024-01-03T14:31:00Z,1,2,0.5,1.5,10,1,1.2\n", 2, "not on 2024-01-02"},
		"quote":        {hdr + "\"2024-01-02T14:31:00Z,1,2,0.5,1.5,10,1,1.2\n", 2, "quote"},
	} {
		s := mustOpen(t)
		path := filepath.Join(s.Dir(), "1Min", "AAPL", "2024-01-02.csv")
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(c.body), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := s.Read("AAPL", "1Min", day0.Start(), day0.AddDays(1).Start())
		var ce *bars.CSVError
		if !errors.As(err, &ce) || ce.File != path || ce.Line != c.line || !strings.Contains(err.Error(), c.want) ||
			!strings.Contains(err.Error(), path) {
			t.Errorf("%s: %v; want %s:%d and %q", name, err, path, c.line, c.want)
		}
	}
}
