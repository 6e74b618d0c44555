package alpaca

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 5, 15, 0, 0, 0, time.UTC)
	tests := []struct {
		in     string
		want   time.Duration
		wantOK bool
	}{
		{"", 0, false},
		{"0", 0, true},
		{"3", 3 * time.Second, true},
		{"-1", 0, false},
		{"soon", 0, false},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0, true},
	}
	for _, tt := range tests {
		got, ok := parseRetryAfter(tt.in, now)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("parseRetryAfter(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestParseRateLimitReset(t *testing.T) {
	now := time.Unix(1767625200, 0) // 2026-01-05T15:00:00Z
	tests := []struct {
		in     string
		want   time.Duration
		wantOK bool
	}{
		{"", 0, false},
		{"x", 0, false},
		{strconv.FormatInt(now.Unix()+12, 10), 12 * time.Second, true},
		{strconv.FormatInt(now.Unix()-5, 10), 0, true}, // already reset
		{"1767625200.5", 500 * time.Millisecond, true},
		{"7", 7 * time.Second, true}, // a delta, as some gateways send
	}
	for _, tt := range tests {
		got, ok := parseRateLimitReset(tt.in, now)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("parseRateLimitReset(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestDefaultBackoff(t *testing.T) {
	now := time.Unix(1767625200, 0)
	hdr := func(kv ...string) http.Header {
		h := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return h
	}
	const base, max, maxWait = 100 * time.Millisecond, 2 * time.Second, 10 * time.Second
	tests := []struct {
		name     string
		a        Attempt
		min, max time.Duration
	}{
		{"First", Attempt{Number: 1, StatusCode: 500}, 50 * time.Millisecond, 100 * time.Millisecond},
		{"Third", Attempt{Number: 3, StatusCode: 503}, 200 * time.Millisecond, 400 * time.Millisecond},
		{"Capped", Attempt{Number: 30, StatusCode: 503}, time.Second, 2 * time.Second},
		{"RetryAfter", Attempt{Number: 1, StatusCode: 503, Header: hdr("Retry-After", "4")}, 4 * time.Second, 5 * time.Second},
		{"ResetOn429", Attempt{Number: 1, StatusCode: 429, Header: hdr("X-RateLimit-Reset", strconv.FormatInt(now.Unix()+3, 10))},
			3 * time.Second, 4 * time.Second},
		{"ResetIgnoredOn500", Attempt{Number: 1, StatusCode: 500, Header: hdr("X-RateLimit-Reset", strconv.FormatInt(now.Unix()+30, 10))},
			50 * time.Millisecond, 100 * time.Millisecond},
		{"RetryAfterBeatsReset", Attempt{Number: 1, StatusCode: 429, Header: hdr("Retry-After", "1",
			"X-RateLimit-Reset", strconv.FormatInt(now.Unix()+30, 10))}, time.Second, 2 * time.Second},
		{"ServerWaitCapped", Attempt{Number: 1, StatusCode: 429, Header: hdr("Retry-After", "3600")}, maxWait, maxWait + time.Second},
	}
	for _, tt := range tests {
		tt.a.Now = now
		for range 50 { // jitter
			got := DefaultBackoff(&tt.a, base, max, maxWait)
			if got < tt.min || got > tt.max {
				t.Fatalf("%s: DefaultBackoff = %v, want within [%v, %v]", tt.name, got, tt.min, tt.max)
			}
		}
	}
}

func TestDefaultCheckRetry(t *testing.T) {
	netErr := errors.New("connection reset by peer")
	tests := []struct {
		name string
		a    Attempt
		want bool
	}{
		{"GET500", Attempt{Idempotent: true, StatusCode: 500, Sent: true}, true},
		{"GET502", Attempt{Idempotent: true, StatusCode: 502, Sent: true}, true},
		{"GET503", Attempt{Idempotent: true, StatusCode: 503, Sent: true}, true},
		{"GET504", Attempt{Idempotent: true, StatusCode: 504, Sent: true}, true},
		{"GET501", Attempt{Idempotent: true, StatusCode: 501, Sent: true}, false},
		{"GET404", Attempt{Idempotent: true, StatusCode: 404, Sent: true}, false},
		{"GET422", Attempt{Idempotent: true, StatusCode: 422, Sent: true}, false},
		{"GET429", Attempt{Idempotent: true, StatusCode: 429, Sent: true}, true},
		{"GETNetErr", Attempt{Idempotent: true, Err: netErr, Sent: true}, true},
		{"POST500", Attempt{StatusCode: 500, Sent: true}, false},
		{"POST429", Attempt{StatusCode: 429, Sent: true}, true},
		{"POSTNetErrSent", Attempt{Err: netErr, Sent: true}, false},
		{"POSTNetErrNotSent", Attempt{Err: netErr, Sent: false}, true},
	}
	for _, tt := range tests {
		got, err := DefaultCheckRetry(context.Background(), &tt.a)
		if got != tt.want || err != nil {
			t.Errorf("%s: DefaultCheckRetry = %v, %v; want %v", tt.name, got, err, tt.want)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if ok, err := DefaultCheckRetry(ctx, &Attempt{Idempotent: true, StatusCode: 503}); ok || err == nil {
		t.Error("retries after cancellation")
	}
}

// TestEncodeBodyOwnsItsBytes checks that an encoded body does not alias
// the pooled scratch buffer, which the next request reuses.
func TestEncodeBodyOwnsItsBytes(t *testing.T) {
	a, err := encodeBody(map[string]string{"symbol": "AAPL&<>"})
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		if _, err := encodeBody(map[string]string{"symbol": "MSFT-overwrite-overwrite"}); err != nil {
			t.Fatal(err)
		}
	}
	if string(a) != `{"symbol":"AAPL&<>"}` {
		t.Fatalf("body changed under reuse or was escaped: %s", a)
	}
}
