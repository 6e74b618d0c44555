package bars

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

// importColumns are the columns ImportCSV understands, by the names it
// accepts (case-insensitive); index into Bar's fields as parseImported
// reads them.
var importColumns = [...][]string{
	{"time", "timestamp", "t"},
	{"open", "o"},
	{"high", "h"},
	{"low", "l"},
	{"close", "c"},
	{"volume", "v"},
	{"trade_count", "n"},
	{"vwap", "vw"},
}

const (
	colTrades = 6
	colVWAP   = 7
)

// ImportCSV reads bars of one symbol from CSV and merges them into the
// store, day by day: an imported bar replaces a stored bar with the same
// time, and the other stored bars stay. It returns how many bars it
// imported.
//
// The first line is a header naming the columns, in any order and case:
// time (or timestamp, t), open (o), high (h), low (l), close (c), volume
// (v), and optionally trade_count (n) and vwap (vw); other columns are
// ignored. A time is RFC 3339 or a Unix time in whole seconds, or
// milliseconds when it is 1e11 or more (after March 1973 in
// milliseconds, after the year 5000 in seconds). Prices must be positive
// with low <= open, close <= high; volume and trade count are whole
// numbers; a missing trade count or VWAP is 0. Rows may come in any order
// but not twice for the same time.
//
// Nothing is written unless every row is valid; the error names the line
// (a *CSVError). Each day is then written whole, as Write does, so a
// failure part way (a full disk) leaves some days imported and the rest
// as they were.
func ImportCSV(r io.Reader, s *Store, symbol, timeframe string) (n int, err error) {
	if _, err := s.symbolDir(symbol, timeframe); err != nil {
		return 0, err
	}
	cr := csv.NewReader(r)
	cr.TrimLeadingSpace = true
	cr.ReuseRecord = true
	rec, err := cr.Read()
	if err == io.EOF {
		return 0, &CSVError{Line: 1, Err: errors.New("empty input: a header is required")}
	}
	if err != nil {
		return 0, csvFail("", err)
	}
	cols, err := importHeader(rec)
	if err != nil {
		return 0, &CSVError{Line: 1, Err: err}
	}
	type row struct {
		bar  Bar
		line int
	}
	var rows []row
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, csvFail("", err)
		}
		line, _ := cr.FieldPos(0)
		b, err := parseImported(rec, cols)
		if err != nil {
			return 0, &CSVError{Line: line, Err: err}
		}
		rows = append(rows, row{b, line})
	}
	slices.SortStableFunc(rows, func(a, b row) int { return a.bar.Time.Compare(b.bar.Time) })
	for i := 1; i < len(rows); i++ {
		if rows[i].bar.Time.Equal(rows[i-1].bar.Time) {
			return 0, &CSVError{Line: max(rows[i].line, rows[i-1].line), Err: fmt.Errorf("a second bar at %s (the first is on line %d)",
				rows[i].bar.Time.Format(time.RFC3339Nano), min(rows[i].line, rows[i-1].line))}
		}
	}
	for i := 0; i < len(rows); {
		day := DayOf(rows[i].bar.Time)
		j := i
		var imported []Bar
		for ; j < len(rows) && DayOf(rows[j].bar.Time) == day; j++ {
			imported = append(imported, rows[j].bar)
		}
		merged := imported
		if s.Has(symbol, timeframe, day) {
			path, _ := s.path(symbol, timeframe, day)
			stored, err := readFile(path, day)
			if err != nil {
				return n, err
			}
			merged = mergeBars(stored, imported)
		}
		if err := s.Write(symbol, timeframe, day, merged); err != nil {
			return n, err
		}
		n += j - i
		i = j
	}
	return n, nil
}

// importHeader maps each known column to its index in the records, -1
// when absent.
func importHeader(rec []string) ([len(importColumns)]int, error) {
	var cols [len(importColumns)]int
	for i := range cols {
		cols[i] = -1
	}
	for i, name := range rec {
		name = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(name, "\ufeff")))
		for c, names := range importColumns {
			if !slices.Contains(names, name) {
				continue
			}
			if cols[c] >= 0 {
				return cols, fmt.Errorf("header names the %s column twice", importColumns[c][0])
			}
			cols[c] = i
		}
	}
	for c, names := range importColumns {
		if cols[c] < 0 && c != colTrades && c != colVWAP {
			return cols, fmt.Errorf("header has no %s column (accepted names: %s)", names[0], strings.Join(names, ", "))
		}
	}
	return cols, nil
}

func parseImported(rec []string, cols [len(importColumns)]int) (Bar, error) {
	field := func(c int) string { return strings.TrimSpace(rec[cols[c]]) }
	t, err := parseImportTime(field(0))
	if err != nil {
		return Bar{}, err
	}
	b := Bar{Time: t}
	for i, p := range []*float64{&b.Open, &b.High, &b.Low, &b.Close} {
		if *p, err = parsePrice(importColumns[1+i][0], field(1+i)); err != nil {
			return Bar{}, err
		}
	}
	if b.Volume, err = parseCount("volume", field(5)); err != nil {
		return Bar{}, err
	}
	if cols[colTrades] >= 0 && field(colTrades) != "" {
		if b.TradeCount, err = parseCount("trade_count", field(colTrades)); err != nil {
			return Bar{}, err
		}
	}
	if cols[colVWAP] >= 0 && field(colVWAP) != "" {
		if b.VWAP, err = parsePrice("vwap", field(colVWAP)); err != nil {
			return Bar{}, err
		}
	}
	return b, b.check()
}

// parseImportTime reads RFC 3339 or Unix seconds or milliseconds.
func parseImportTime(s string) (time.Time, error) {
	if s != "" && strings.Trim(s, "0123456789") == "" {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil || v > 1e15 {
			return time.Time{}, fmt.Errorf("time %q is too large for Unix seconds or milliseconds", s)
		}
		if v >= 1e11 {
			return time.UnixMilli(v).UTC(), nil
		}
		return time.Unix(v, 0).UTC(), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("time %q is neither RFC 3339 nor a Unix time", s)
	}
	return t.UTC(), nil
}

// mergeBars merges two sorted runs of bars; on equal times the imported
// bar wins.
func mergeBars(stored, imported []Bar) []Bar {
	out := make([]Bar, 0, len(stored)+len(imported))
	i, j := 0, 0
	for i < len(stored) || j < len(imported) {
		switch {
		case j == len(imported) || i < len(stored) && stored[i].Time.Before(imported[j].Time):
			out = append(out, stored[i])
			i++
		case i < len(stored) && stored[i].Time.Equal(imported[j].Time):
			out = append(out, imported[j])
			i++
			j++
		default:
			out = append(out, imported[j])
			j++
		}
	}
	return out
}
