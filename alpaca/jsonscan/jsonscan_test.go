package jsonscan_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/quantum-alpaca/quantum/alpaca/jsonscan"
)

func TestRaw(t *testing.T) {
	tests := []struct {
		in   string
		want string
		ok   bool
	}{
		{`"AAPL"`, "AAPL", true},
		{`  ""`, "", true},
		{`"a\"b"`, "", false},   // escape: encoding/json's
		{`"é"`, "", false},      // non-ASCII: encoding/json's
		{"\"a\tb\"", "", false}, // control character: invalid JSON
		{`"open`, "", false},
		{`12`, "", false},
	}
	for _, tt := range tests {
		s := jsonscan.New([]byte(tt.in))
		got, ok := s.Raw()
		if ok != tt.ok || string(got) != tt.want {
			t.Errorf("Raw(%s) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
		if !ok && s.Peek() != tt.in[firstNonSpace(tt.in)] {
			t.Errorf("Raw(%s) consumed input on failure", tt.in)
		}
	}
}

func firstNonSpace(s string) int {
	for i := range len(s) {
		if s[i] != ' ' {
			return i
		}
	}
	return len(s)
}

func TestLiterals(t *testing.T) {
	s := jsonscan.New([]byte(` { "k" : true , "n": null, "f":false}  `))
	var b bool
	if !s.Lit("{") || s.Peek() != '"' {
		t.Fatal("object start")
	}
	if k, ok := s.Raw(); !ok || string(k) != "k" || !s.Lit(":") || !s.Bool(&b) || !b || !s.Lit(",") {
		t.Fatal("first member")
	}
	if _, ok := s.Raw(); !ok || !s.Lit(":") || !s.Null() || !s.Lit(",") {
		t.Fatal("null member")
	}
	b = true
	if _, ok := s.Raw(); !ok || !s.Lit(":") || !s.Bool(&b) || b || !s.Lit("}") || !s.End() {
		t.Fatal("last member")
	}
	if s = jsonscan.New([]byte(`nul`)); s.Null() || s.Bool(&b) {
		t.Error("accepted a truncated literal")
	}
}

func TestStrings(t *testing.T) {
	tests := []struct {
		in   string
		want []string
		ok   bool
	}{
		{`[]`, []string{}, true},
		{`null`, nil, true},
		{`["@"]`, []string{"@"}, true},
		{`[ "@" , "F","T" ]`, []string{"@", "F", "T"}, true},
		{`["a\"b"]`, nil, false},
		{`[1]`, nil, false},
		{`["a"`, nil, false},
		{`["a",]`, nil, false},
	}
	for _, tt := range tests {
		s := jsonscan.New([]byte(tt.in))
		got, ok := s.Strings()
		ok = ok && s.End()
		if ok != tt.ok || (ok && !slices.Equal(got, tt.want)) || (ok && (got == nil) != (tt.want == nil)) {
			t.Errorf("Strings(%s) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestIntern(t *testing.T) {
	words := []string{"buy", "sell"}
	b := []byte("sell")
	if got := jsonscan.Intern(b, words); got != "sell" {
		t.Errorf("Intern = %q", got)
	}
	if allocs := testing.AllocsPerRun(100, func() { _ = jsonscan.Intern(b, words) }); allocs != 0 {
		t.Errorf("Intern of a known word allocates %v times", allocs)
	}
	if got := jsonscan.Intern([]byte("short"), words); got != "short" {
		t.Errorf("Intern = %q", got)
	}
}

// Number accepts exactly the numbers encoding/json accepts.
func FuzzNumber(f *testing.F) {
	for _, s := range []string{"0", "-0", "01", "1.5", "1.", ".5", "1e400", "1E+2", "1e", "-", "+1", "2.5e-3", "1.2.3", "--1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		s := jsonscan.New([]byte(in))
		got, ok := s.Number()
		ok = ok && s.End()
		if want := json.Valid([]byte(in)) && isNumberToken(in); ok != want {
			t.Fatalf("Number(%q) = %q, %v; encoding/json says %v", in, got, ok, want)
		}
	})
}

// isNumberToken reports whether a valid JSON text is a bare number: the
// only JSON values that start with a digit or a minus sign.
func isNumberToken(in string) bool {
	t := strings.TrimLeft(in, " \t\r\n")
	return t != "" && (t[0] == '-' || t[0] >= '0' && t[0] <= '9')
}
