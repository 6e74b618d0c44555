package bars_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/quantum-alpaca/quantum/bars"
)

// A store's own files import back unchanged, and other spellings of the
// columns and times give the same bars.
func TestImportRoundTrip(t *testing.T) {
	src := mustOpen(t)
	in := sample()
	if err := src.Write("AAPL", "1Min", day0, in); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(src.Dir(), "1Min", "AAPL", "2024-01-02.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dst := mustOpen(t)
	n, err := bars.ImportCSV(f, dst, "AAPL", "1Min")
	if err != nil || n != len(in) {
		t.Fatalf("import: %d, %v", n, err)
	}
	a, _ := os.ReadFile(filepath.Join(src.Dir(), "1Min", "AAPL", "2024-01-02.csv"))
	b, _ := os.ReadFile(filepath.Join(dst.Dir(), "1Min", "AAPL", "2024-01-02.csv"))
	if string(a) != string(b) {
		t.Fatalf("round trip:\n%s\nbecame\n%s", a, b)
	}

	// Short names in another order, Unix seconds and milliseconds, rows
	// out of order, an extra column, no trade count or VWAP, and a bar on
	// the next New York day.
	csv := "\ufeffSymbol, T, C, O, H, L, V\n" +
		"AAPL,1704205860000,187.5,187.64,187.7,187.5,250\n" + // 14:31Z in ms
		"AAPL,1704205800,187.6351,187.15,188.44,187,1234567\n" + // 14:30Z in s
		"AAPL,2024-01-03T14:30:00Z,190,190,190,190,1\n"
	other := mustOpen(t)
	n, err = bars.ImportCSV(strings.NewReader(csv), other, "AAPL", "1Min")
	if err != nil || n != 3 {
		t.Fatalf("import: %d, %v", n, err)
	}
	got, err := other.Read("AAPL", "1Min", day0.Start(), day0.AddDays(2).Start())
	if err != nil {
		t.Fatal(err)
	}
	want := []bars.Bar{
		{Time: at("14:30"), Open: 187.15, High: 188.44, Low: 187, Close: 187.6351, Volume: 1234567},
		{Time: at("14:31"), Open: 187.64, High: 187.7, Low: 187.5, Close: 187.5, Volume: 250},
		{Time: at("14:30").Add(24 * time.Hour), Open: 190, High: 190, Low: 190, Close: 190, Volume: 1},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("imported %+v\nwant %+v", got, want)
	}
	if !other.Has("AAPL", "1Min", day0.AddDays(1)) {
		t.Fatal("the second day has no file")
	}

	// Importing into a stored day merges: the imported bar replaces the
	// one at its time, the others stay.
	n, err = bars.ImportCSV(strings.NewReader("time,open,high,low,close,volume,vwap\n2024-01-02T14:31:00Z,1,1,1,1,7,1\n2024-01-02T15:00:00Z,2,2,2,2,8,2\n"), other, "AAPL", "1Min")
	if err != nil || n != 2 {
		t.Fatalf("merge: %d, %v", n, err)
	}
	got, _ = other.Read("AAPL", "1Min", day0.Start(), day0.AddDays(1).Start())
	want = []bars.Bar{want[0],
		{Time: at("14:31"), Open: 1, High: 1, Low: 1, Close: 1, Volume: 7, VWAP: 1},
		{Time: at("15:00"), Open: 2, High: 2, Low: 2, Close: 2, Volume: 8, VWAP: 2}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("merged %+v\nwant %+v", got, want)
	}
}

// Malformed input is refused with its line, and nothing is written.
func TestImportMalformed(t *testing.T) {
	const hdr = "time,open,high,low,close,volume\n"
	for name, c := range map[string]struct {
		body string
		line int
		want string
	}{
		"empty":          {"", 1, "header is required"},
		"no header":      {"2024-01-02T14:30:00Z,1,1,1,1,1\n", 1, "no time column"},
		"missing column": {"time,open,high,low,volume\n", 1, "no close column"},
		"twice":          {"time,t,open,high,low,close,volume\n", 1, "twice"},
		"fields":         {hdr + "2024-01-02T14:30:00Z,1,1,1,1,1\n2024-01-02T14:31:00Z,1,1,1,1\n", 3, "wrong number of fields"},
		"time":           {hdr + "2024-01-02 14:30,1,1,1,1,1\n", 2, "neither RFC 3339 nor a Unix time"},
		"huge time":      {hdr + "99999999999999999999,1,1,1,1,1\n", 2, "too large"},
		"price":          {hdr + "2024-01-02T14:30:00Z,1,one,1,1,1\n", 2, `high "one"`},
		"inverted":       {hdr + "2024-01-02T14:30:00Z,1,1,2,1,1\n", 2, "low 2"},
		"negative vol":   {hdr + "2024-01-02T14:30:00Z,1,1,1,1,-5\n", 2, "volume"},
		"duplicate":      {hdr + "2024-01-02T14:30:00Z,1,1,1,1,1\n2024-01-02T14:31:00Z,1,1,1,1,1\n1704205800,1,1,1,1,1\n", 4, "first is on line 2"},
	} {
		s := mustOpen(t)
		n, err := bars.ImportCSV(strings.NewReader(c.body), s, "AAPL", "1Min")
		var ce *bars.CSVError
		if n != 0 || !errors.As(err, &ce) || ce.Line != c.line || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: n=%d err=%v; want line %d and %q", name, n, err, c.line, c.want)
		}
		if syms, _ := s.Symbols("1Min"); len(syms) != 0 {
			t.Errorf("%s: wrote %v", name, syms)
		}
	}
	if _, err := bars.ImportCSV(strings.NewReader("t,o,h,l,c,v\n"), mustOpen(t), "AAPL", "../x"); err == nil {
		t.Error("a timeframe that escapes the store was accepted")
	}
}
