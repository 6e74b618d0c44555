package notify

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 3, 14, 15, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"", 0, false},
		{"7", 7 * time.Second, true},
		{" 2 ", 2 * time.Second, true},
		{"0", 0, true},
		{"-1", 0, false},
		{"soon", 0, false},
		{"99999999999", (1 << 20) * time.Second, true},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
	} {
		got, ok := parseRetryAfter(tc.in, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("parseRetryAfter(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestBackoff(t *testing.T) {
	n := &Notifier{MinBackoff: 100 * time.Millisecond, MaxBackoff: time.Second}
	for _, tc := range []struct {
		attempt  int
		lo, high time.Duration
	}{
		{1, 50 * time.Millisecond, 100 * time.Millisecond},
		{2, 100 * time.Millisecond, 200 * time.Millisecond},
		{4, 400 * time.Millisecond, 800 * time.Millisecond},
		{5, 500 * time.Millisecond, time.Second},
		{80, 500 * time.Millisecond, time.Second},
	} {
		for range 50 {
			if d := n.backoff(tc.attempt); d < tc.lo || d > tc.high {
				t.Fatalf("backoff(%d) = %v, want within [%v, %v]", tc.attempt, d, tc.lo, tc.high)
			}
		}
	}
}

func TestSecrets(t *testing.T) {
	// Free text quoting a token, alone or inside its URL, is scrubbed.
	n, err := New(Target{URL: "https://u:pw1234@api.telegram.org/bot123456:ABC-DEF1234ghIkl/sendMessage?key=qs-secret-1"})
	if err != nil {
		t.Fatal(err)
	}
	got := n.scrub.Replace("Unauthorized 123456:ABC-DEF1234ghIkl; pw1234; qs-secret-1; POST https://u:pw1234@api.telegram.org/bot123456:ABC-DEF1234ghIkl/sendMessage?key=qs-secret-1")
	for _, s := range []string{"123456:ABC", "pw1234", "qs-secret-1"} {
		if strings.Contains(got, s) {
			t.Errorf("%q left in %q", s, got)
		}
	}
}
