// Package bars keeps recorded OHLCV bars on disk in a form other tools can
// open: plain CSV, one file per symbol per New York calendar day.
//
//	DIR/<timeframe>/<symbol>/<YYYY-MM-DD>.csv     e.g. DIR/1Min/AAPL/2024-01-02.csv
//
// Each file starts with the header
//
//	time,open,high,low,close,volume,trade_count,vwap
//
// and holds that day's bars in time order: time in RFC 3339, UTC, the
// bar's start; prices in decimal as given (no rounding, no exponent);
// volume and trade count as integers. A day is named by its date in
// America/New_York, Alpaca's market time zone, so a trading day, extended
// hours included, is one file. A file with only the header records a day
// without bars (a weekend or holiday), so that Fetch does not ask again.
//
// Symbols are directory names: bytes other than A-Z, a-z, 0-9, '.', '-'
// and '_', and a leading '.', are written as %XX with upper-case hex, so
// BTC/USD is stored as BTC%2FUSD and ".X" as %2EX. Decoding reverses
// it; a directory whose name is not such an encoding is not a symbol.
//
// Every file is written whole to a temporary name and renamed into place,
// so a reader, or a fetch that is interrupted, never sees half a day.
// Reading validates what it reads and reports a problem with the file
// and line.
package bars

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // days are New York dates on hosts without a zone database too

	"github.com/quantum-alpaca/quantum/alpaca"
)

// Bar is one OHLCV bar. Time is its start.
type Bar struct {
	Time                   time.Time
	Open, High, Low, Close float64
	Volume, TradeCount     uint64
	VWAP                   float64
}

// Wire converts bars to the Alpaca wire type (what the broker simulator's
// replay takes).
func Wire(bs []Bar) []alpaca.Bar {
	out := make([]alpaca.Bar, len(bs))
	for i, b := range bs {
		out[i] = alpaca.Bar{Timestamp: b.Time, Open: b.Open, High: b.High, Low: b.Low, Close: b.Close,
			Volume: b.Volume, TradeCount: b.TradeCount, VWAP: b.VWAP}
	}
	return out
}

func fromWire(b alpaca.Bar) Bar {
	return Bar{Time: b.Timestamp.UTC(), Open: b.Open, High: b.High, Low: b.Low, Close: b.Close,
		Volume: b.Volume, TradeCount: b.TradeCount, VWAP: b.VWAP}
}

// check reports what makes a bar unusable: a price that is not a
// positive finite number, an open or close outside [low, high], or a
// VWAP that is negative or not finite (zero means unknown).
func (b *Bar) check() error {
	for _, p := range [...]struct {
		name string
		v    float64
	}{{"open", b.Open}, {"high", b.High}, {"low", b.Low}, {"close", b.Close}} {
		if !(p.v > 0) || math.IsInf(p.v, 0) {
			return fmt.Errorf("%s %v is not a positive price", p.name, p.v)
		}
	}
	switch {
	case b.High < max(b.Open, b.Close):
		return fmt.Errorf("high %v is below the open %v or close %v", b.High, b.Open, b.Close)
	case b.Low > min(b.Open, b.Close):
		return fmt.Errorf("low %v is above the open %v or close %v", b.Low, b.Open, b.Close)
	case !(b.VWAP >= 0) || math.IsInf(b.VWAP, 0):
		return fmt.Errorf("vwap %v is not a non-negative number", b.VWAP)
	}
	return nil
}

// newYork is the zone days are dated in.
var newYork = func() *time.Location {
	loc, err := time.LoadLocation("America/New_York")
	if err != nil {
		panic("bars: " + err.Error()) // time/tzdata is linked in
	}
	return loc
}()

// Day is a calendar date in New York: the day a bar's file is named by.
type Day struct {
	Year  int
	Month time.Month
	Day   int
}

// DayOf returns the New York date of t.
func DayOf(t time.Time) Day {
	y, m, d := t.In(newYork).Date()
	return Day{y, m, d}
}

// ParseDay parses YYYY-MM-DD.
func ParseDay(s string) (Day, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return Day{}, fmt.Errorf("bars: day %q: want YYYY-MM-DD", s)
	}
	return Day{t.Year(), t.Month(), t.Day()}, nil
}

// String returns YYYY-MM-DD.
func (d Day) String() string { return fmt.Sprintf("%04d-%02d-%02d", d.Year, d.Month, d.Day) }

// Start returns the day's first instant, midnight in New York.
func (d Day) Start() time.Time { return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, newYork) }

// AddDays returns the day n days later (earlier when n is negative).
func (d Day) AddDays(n int) Day {
	t := time.Date(d.Year, d.Month, d.Day+n, 12, 0, 0, 0, time.UTC)
	return Day{t.Year(), t.Month(), t.Day()}
}

// Before reports whether d is earlier than e.
func (d Day) Before(e Day) bool {
	if d.Year != e.Year {
		return d.Year < e.Year
	}
	if d.Month != e.Month {
		return d.Month < e.Month
	}
	return d.Day < e.Day
}

// CSVError is a problem at one line of a bar file or of an imported CSV.
type CSVError struct {
	File string // empty for ImportCSV's input
	Line int
	Err  error
}

func (e *CSVError) Error() string {
	if e.File == "" {
		return fmt.Sprintf("bars: line %d: %v", e.Line, e.Err)
	}
	return fmt.Sprintf("bars: %s:%d: %v", e.File, e.Line, e.Err)
}

func (e *CSVError) Unwrap() error { return e.Err }

// Store is a directory of bar files. Its methods are safe for concurrent
// use by one process; two writers of the same day race (the last rename
// wins, whole).
type Store struct {
	dir string
}

// Open returns the store in dir, creating the directory if it is missing.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("bars: %w", err)
	}
	return &Store{dir: dir}, nil
}

// Dir returns the store's directory.
func (s *Store) Dir() string { return s.dir }

// header is the first line of every bar file.
var header = []string{"time", "open", "high", "low", "close", "volume", "trade_count", "vwap"}

// checkTimeframe keeps a timeframe usable as a directory name: a count and
// a unit, as Alpaca spells them ("1Min", "15Min", "1Hour", "1Day").
func checkTimeframe(tf string) error {
	i := 0
	for i < len(tf) && tf[i] >= '0' && tf[i] <= '9' {
		i++
	}
	unit := tf[i:]
	if i == 0 || tf[0] == '0' || i > 3 || unit == "" || strings.IndexFunc(unit, func(r rune) bool { return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') }) >= 0 {
		return fmt.Errorf("bars: timeframe %q: want a count and a unit such as 1Min or 1Day", tf)
	}
	return nil
}

// symbolDir returns the directory of a symbol's files.
func (s *Store) symbolDir(symbol, tf string) (string, error) {
	if err := checkTimeframe(tf); err != nil {
		return "", err
	}
	if symbol == "" || len(symbol) > 64 {
		return "", fmt.Errorf("bars: symbol %q: want 1 to 64 bytes", symbol)
	}
	return filepath.Join(s.dir, tf, escapeSymbol(symbol)), nil
}

func (s *Store) path(symbol, tf string, day Day) (string, error) {
	dir, err := s.symbolDir(symbol, tf)
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, day.String()+".csv"), nil
}

func plainByte(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_'
}

const hexDigits = "0123456789ABCDEF"

func escapeSymbol(sym string) string {
	var b strings.Builder
	for i := 0; i < len(sym); i++ {
		c := sym[i]
		if plainByte(c) && !(i == 0 && c == '.') {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}

// unescapeSymbol decodes a directory name; false unless escapeSymbol
// would have produced exactly that name.
func unescapeSymbol(name string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		if name[i] != '%' {
			b.WriteByte(name[i])
			continue
		}
		if i+2 >= len(name) {
			return "", false
		}
		hi, lo := strings.IndexByte(hexDigits, name[i+1]), strings.IndexByte(hexDigits, name[i+2])
		if hi < 0 || lo < 0 {
			return "", false
		}
		b.WriteByte(byte(hi<<4 | lo))
		i += 2
	}
	sym := b.String()
	return sym, sym != "" && escapeSymbol(sym) == name
}

// Write stores a day's bars for symbol, replacing the day's file if there
// is one; no bars records a day without any. The bars must be that New
// York day's, in increasing time order, and valid (see Read). The file
// is written under a temporary name, synced and renamed into place, so
// the day is either all there or not at all.
func (s *Store) Write(symbol, timeframe string, day Day, bars []Bar) error {
	path, err := s.path(symbol, timeframe, day)
	if err != nil {
		return err
	}
	for i := range bars {
		b := &bars[i]
		bad := func(format string, args ...any) error {
			return fmt.Errorf("bars: %s %s %s bar %d at %s: %s", symbol, timeframe, day, i, b.Time.UTC().Format(time.RFC3339Nano), fmt.Sprintf(format, args...))
		}
		if DayOf(b.Time) != day {
			return bad("not on %s in New York", day)
		}
		if i > 0 && !b.Time.After(bars[i-1].Time) {
			return bad("not after the bar before it")
		}
		if err := b.check(); err != nil {
			return bad("%v", err)
		}
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("bars: %w", err)
	}
	// The temporary name does not end in .csv, so readers skip it; one
	// left behind by a crash is harmless.
	f, err := os.CreateTemp(dir, "."+day.String()+".*.tmp")
	if err != nil {
		return fmt.Errorf("bars: %w", err)
	}
	tmp := f.Name()
	err = writeCSV(f, bars)
	if err == nil {
		err = f.Chmod(0o644)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("bars: write %s: %w", path, err)
	}
	return nil
}

func writeCSV(w io.Writer, bars []Bar) error {
	bw := bufio.NewWriter(w)
	bw.WriteString(strings.Join(header, ",") + "\n")
	var buf []byte
	for i := range bars {
		b := &bars[i]
		buf = b.Time.UTC().AppendFormat(buf[:0], time.RFC3339Nano)
		for _, p := range [...]float64{b.Open, b.High, b.Low, b.Close} {
			buf = append(buf, ',')
			buf = strconv.AppendFloat(buf, p, 'f', -1, 64)
		}
		buf = append(buf, ',')
		buf = strconv.AppendUint(buf, b.Volume, 10)
		buf = append(buf, ',')
		buf = strconv.AppendUint(buf, b.TradeCount, 10)
		buf = append(buf, ',')
		buf = strconv.AppendFloat(buf, b.VWAP, 'f', -1, 64)
		buf = append(buf, '\n')
		bw.Write(buf)
	}
	return bw.Flush()
}

// Has reports whether the store has a file for symbol's day, bars or a
// record that it had none.
func (s *Store) Has(symbol, timeframe string, day Day) bool {
	path, err := s.path(symbol, timeframe, day)
	if err != nil {
		return false
	}
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular()
}

// Days returns the days the store has files for, in order.
func (s *Store) Days(symbol, timeframe string) ([]Day, error) {
	dir, err := s.symbolDir(symbol, timeframe)
	if err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("bars: no %s %s bars in %s: %w", symbol, timeframe, s.dir, fs.ErrNotExist)
	}
	if err != nil {
		return nil, fmt.Errorf("bars: %w", err)
	}
	var days []Day
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), ".csv")
		if !ok || !e.Type().IsRegular() {
			continue
		}
		d, err := ParseDay(name)
		if err != nil || d.String() != name {
			continue
		}
		days = append(days, d)
	}
	// ReadDir sorts by name, and YYYY-MM-DD names sort by date.
	return days, nil
}

// Read returns symbol's bars that start in [from, to), in time order,
// from every day file in that window, and fails on the first file that
// does not read back as Write writes: the exact header, eight fields a
// line, times in RFC 3339 on the file's New York day and increasing,
// prices positive with low <= open, close <= high, a non-negative VWAP.
// The error names the file and line (a *CSVError). Days without files
// are simply absent; Has and Days tell them apart. A symbol with no
// files at all is an error that matches fs.ErrNotExist.
func (s *Store) Read(symbol, timeframe string, from, to time.Time) ([]Bar, error) {
	days, err := s.Days(symbol, timeframe)
	if err != nil {
		return nil, err
	}
	if !from.Before(to) {
		return nil, nil
	}
	first, last := DayOf(from), DayOf(to.Add(-time.Nanosecond))
	var out []Bar
	for _, d := range days {
		if d.Before(first) || last.Before(d) {
			continue
		}
		path, _ := s.path(symbol, timeframe, d)
		bs, err := readFile(path, d)
		if err != nil {
			return nil, err
		}
		for _, b := range bs {
			if !b.Time.Before(from) && b.Time.Before(to) {
				out = append(out, b)
			}
		}
	}
	return out, nil
}

// ReadAll reads every symbol of timeframe over [from, to), as Read does.
func (s *Store) ReadAll(timeframe string, from, to time.Time) (map[string][]Bar, error) {
	syms, err := s.Symbols(timeframe)
	if err != nil {
		return nil, err
	}
	out := make(map[string][]Bar, len(syms))
	for _, sym := range syms {
		bs, err := s.Read(sym, timeframe, from, to)
		if err != nil {
			return nil, err
		}
		out[sym] = bs
	}
	return out, nil
}

// Symbols returns the symbols the store has bars of timeframe for,
// sorted.
func (s *Store) Symbols(timeframe string) ([]string, error) {
	if err := checkTimeframe(timeframe); err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(filepath.Join(s.dir, timeframe))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("bars: %w", err)
	}
	var out []string
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		if sym, ok := unescapeSymbol(e.Name()); ok {
			out = append(out, sym)
		}
	}
	slices.Sort(out)
	return out, nil
}

// readFile reads and validates one day file.
func readFile(path string, day Day) ([]Bar, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("bars: %w", err)
	}
	defer f.Close()
	r := csv.NewReader(bufio.NewReader(f))
	r.FieldsPerRecord = len(header)
	r.ReuseRecord = true
	fail := func(line int, err error) error { return &CSVError{File: path, Line: line, Err: err} }
	rec, err := r.Read()
	if err == io.EOF {
		return nil, fail(1, errors.New("empty file: missing the header"))
	}
	if err != nil {
		return nil, csvFail(path, err)
	}
	if !slices.Equal(rec, header) {
		return nil, fail(1, fmt.Errorf("header %q, want %q", strings.Join(rec, ","), strings.Join(header, ",")))
	}
	var out []Bar
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, csvFail(path, err)
		}
		line, _ := r.FieldPos(0)
		b, err := parseRecord(rec)
		if err == nil && DayOf(b.Time) != day {
			err = fmt.Errorf("time %s is not on %s in New York", rec[0], day)
		}
		if err == nil && len(out) > 0 && !b.Time.After(out[len(out)-1].Time) {
			err = fmt.Errorf("time %s is not after the line before", rec[0])
		}
		if err != nil {
			return nil, fail(line, err)
		}
		out = append(out, b)
	}
}

// csvFail turns encoding/csv's error into a CSVError with its line.
func csvFail(path string, err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return &CSVError{File: path, Line: pe.Line, Err: pe.Err}
	}
	return fmt.Errorf("bars: %s: %w", path, err)
}

// parseRecord parses a line in the store's own column order.
func parseRecord(rec []string) (Bar, error) {
	t, err := time.Parse(time.RFC3339Nano, rec[0])
	if err != nil {
		return Bar{}, fmt.Errorf("time %q is not RFC 3339", rec[0])
	}
	b := Bar{Time: t.UTC()}
	for i, p := range []*float64{&b.Open, &b.High, &b.Low, &b.Close} {
		if *p, err = parsePrice(header[1+i], rec[1+i]); err != nil {
			return Bar{}, err
		}
	}
	if b.Volume, err = parseCount("volume", rec[5]); err != nil {
		return Bar{}, err
	}
	if b.TradeCount, err = parseCount("trade_count", rec[6]); err != nil {
		return Bar{}, err
	}
	if b.VWAP, err = parsePrice("vwap", rec[7]); err != nil {
		return Bar{}, err
	}
	return b, b.check()
}

func parsePrice(name, s string) (float64, error) {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("%s %q is not a number", name, s)
	}
	return v, nil
}

func parseCount(name, s string) (uint64, error) {
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s %q is not a whole non-negative number", name, s)
	}
	return v, nil
}
