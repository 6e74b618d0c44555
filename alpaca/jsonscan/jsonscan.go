// Package jsonscan is the fast path of the wire format's hottest JSON
// decoders: order replies in the client, order requests in the broker
// simulator, condition lists in market data. Alpaca's messages have a
// narrow common shape (flat objects of known keys, plain ASCII strings
// without escapes, literals), and a Scanner reads exactly that shape and
// reports false for anything else. Its callers then hand the whole input
// to encoding/json, so results and errors stay exactly encoding/json's;
// each caller keeps a fuzz test that holds the two to that.
//
// A Scanner never allocates: strings come back as slices of the input.
package jsonscan

import "bytes"

// Scanner reads JSON tokens from a byte slice. The zero value scans an
// empty input; use New.
type Scanner struct {
	b []byte
	i int
}

// New returns a Scanner positioned at the start of b.
func New(b []byte) Scanner { return Scanner{b: b} }

// skipSpace moves past JSON whitespace.
func (s *Scanner) skipSpace() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// End reports whether only whitespace is left.
func (s *Scanner) End() bool {
	s.skipSpace()
	return s.i == len(s.b)
}

// Peek returns the next byte after whitespace without consuming it, or 0
// at the end of the input.
func (s *Scanner) Peek() byte {
	s.skipSpace()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// Lit consumes w (a literal such as null, true, or a delimiter such as
// "{" or ",") after whitespace, and reports whether it was there.
func (s *Scanner) Lit(w string) bool {
	s.skipSpace()
	if bytes.HasPrefix(s.b[s.i:], []byte(w)) {
		s.i += len(w)
		return true
	}
	return false
}

// Null consumes a null literal if one is next.
func (s *Scanner) Null() bool { return s.Peek() == 'n' && s.Lit("null") }

// Raw consumes a string and returns its contents, a slice of the input.
// It reports false, consuming nothing, for anything but a plain ASCII
// string without escapes or control characters: those are encoding/json's
// to decode.
func (s *Scanner) Raw() ([]byte, bool) {
	if s.Peek() != '"' {
		return nil, false
	}
	start := s.i + 1
	for j := start; j < len(s.b); j++ {
		switch c := s.b[j]; {
		case c == '"':
			s.i = j + 1
			return s.b[start:j], true
		case c == '\\' || c < 0x20 || c >= 0x80:
			return nil, false
		}
	}
	return nil, false
}

// Bool consumes true or false into dst. A null is consumed and leaves
// dst alone, as encoding/json does.
func (s *Scanner) Bool(dst *bool) bool {
	switch {
	case s.Lit("true"):
		*dst = true
	case s.Lit("false"):
		*dst = false
	default:
		return s.Lit("null")
	}
	return true
}

// Number consumes a number and returns its text, a slice of the input. It
// reports false for anything encoding/json would not accept as a number.
func (s *Scanner) Number() ([]byte, bool) {
	s.skipSpace()
	start := s.i
	for s.i < len(s.b) {
		c := s.b[s.i]
		if c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E' {
			s.i++
			continue
		}
		break
	}
	if s.i == start || !validNumber(s.b[start:s.i]) {
		return nil, false
	}
	return s.b[start:s.i], true
}

// validNumber checks b against JSON's number grammar:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func validNumber(b []byte) bool {
	i := 0
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i == len(b) || b[i] < '0' || b[i] > '9' {
			return false
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i == len(b) || b[i] < '0' || b[i] > '9' {
			return false
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	return i == len(b)
}

// Strings consumes an array of plain strings (see Raw), such as a list
// of trade conditions. A null is consumed and gives a nil slice.
func (s *Scanner) Strings() ([]string, bool) {
	if s.Null() {
		return nil, true
	}
	if !s.Lit("[") {
		return nil, false
	}
	out := []string{}
	if s.Lit("]") {
		return out, true
	}
	for {
		b, ok := s.Raw()
		if !ok {
			return nil, false
		}
		out = append(out, string(b))
		if s.Lit(",") {
			continue
		}
		if s.Lit("]") {
			return out, true
		}
		return nil, false
	}
}

// Intern returns the element of words equal to b, so that decoding a
// recurring enumeration value ("buy", "market", "day") does not allocate,
// or a new string for any other value.
func Intern(b []byte, words []string) string {
	for _, w := range words {
		if string(b) == w {
			return w
		}
	}
	return string(b)
}
