package alpaca_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quantum-alpaca/quantum/alpaca"
)

// TestSecretNeverLeaks provokes every error path, with a server that
// echoes the secret back wherever it can, and greps every error string,
// log record and observation for the secret.
func TestSecretNeverLeaks(t *testing.T) {
	t.Parallel()
	echo := func(r *http.Request) string { return r.Header.Get("APCA-API-SECRET-KEY") }
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		route := r.URL.Path
		if !strings.HasPrefix(route, "/v2/") {
			route = "/" + strings.Split(route, "/")[1] // "/401/v2/account" -> "/401"
		}
		switch route {
		case "/401":
			writeJSON(w, 401, map[string]any{"message": "bad secret " + echo(r)})
		case "/403":
			writeJSON(w, 403, map[string]any{"code": 40310000, "message": "insufficient buying power", "secret_key": echo(r)})
		case "/404":
			writeJSON(w, 404, map[string]any{"code": 40410000, "message": "order not found for " + echo(r)})
		case "/429":
			w.Header().Set("Retry-After", "0")
			writeJSON(w, 429, map[string]any{"code": 42910000, "message": "rate limit exceeded " + echo(r)})
		case "/500":
			w.WriteHeader(500)
			io.WriteString(w, "<html>proxy error; headers: APCA-API-SECRET-KEY: "+echo(r)+"</html>")
		case "/slow":
			<-r.Context().Done()
		case "/drop":
			hijackClose(w)
		case "/garbage":
			io.WriteString(w, `{"id": `+echo(r))
		case "/v2/orders":
			writeJSON(w, 500, map[string]any{"code": 50010000, "message": "internal " + echo(r)})
		case "/v2/orders:by_client_order_id":
			writeJSON(w, 503, map[string]any{"message": "unavailable " + echo(r)})
		default:
			writeJSON(w, 404, map[string]any{"message": "no route " + echo(r)})
		}
	}))
	defer srv.Close()

	var logs bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewJSONHandler(&lockedWriter{w: &logs, mu: &mu}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var observed []string
	var errs []error
	var newErrs []error

	mk := func(base string, extra ...alpaca.Option) *alpaca.Client {
		opts := append([]alpaca.Option{
			alpaca.WithCredentials(testKey, testSecret),
			alpaca.WithRetry(1, time.Millisecond, time.Millisecond),
			alpaca.WithRateLimit(0, 0),
			alpaca.WithTimeout(50 * time.Millisecond),
			alpaca.WithLogger(logger),
			alpaca.WithObserver(func(ri alpaca.RequestInfo) {
				mu.Lock()
				observed = append(observed, fmt.Sprintf("%+v %v", ri, ri.Err))
				mu.Unlock()
			}),
		}, extra...)
		c, err := alpaca.New(base, opts...)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	ctx := t.Context()
	for _, p := range []string{"/401", "/403", "/404", "/429", "/500", "/slow", "/drop", "/garbage"} {
		c := mk(srv.URL + p)
		_, err := c.GetAccount(ctx) // the base path is kept: /401/v2/account
		errs = append(errs, err)
	}
	c := mk(srv.URL)
	_, err := c.SubmitOrder(ctx, orderReq("cid-secret")) // 500, then failing look-ups
	errs = append(errs, err)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = c.GetAccount(cctx)
	errs = append(errs, err)
	_, err = mk("http://127.0.0.1:1").GetAccount(ctx) // connection refused
	errs = append(errs, err)

	_, err = alpaca.New("http://user:"+testSecret+"@example.com", alpaca.WithCredentials(testKey, testSecret))
	newErrs = append(newErrs, err)
	_, err = alpaca.New("::"+testSecret, alpaca.WithCredentials(testKey, testSecret))
	newErrs = append(newErrs, err)
	_, err = alpaca.New(alpaca.PaperURL, alpaca.WithCredentials("", testSecret))
	newErrs = append(newErrs, err)

	opts := alpaca.DefaultOptions()
	alpaca.WithCredentials(testKey, testSecret)(&opts)
	alpaca.WithOAuthToken(testSecret)(&opts)
	var cfgLog bytes.Buffer
	slog.New(slog.NewJSONHandler(&cfgLog, nil)).Info("config", "opts", opts, "secret", opts.SecretKey)
	printed := []string{
		fmt.Sprintf("%v %+v %#v", opts, opts, opts),
		fmt.Sprintf("%v %+v %#v", c, c, c),
		cfgLog.String(),
	}

	for i, err := range errs {
		if err == nil {
			t.Errorf("path %d: no error", i)
			continue
		}
		printed = append(printed, fmt.Sprintf("%v | %+v | %#v", err, err, err))
		var apiErr *alpaca.APIError
		if errors.As(err, &apiErr) {
			printed = append(printed, string(apiErr.Body), apiErr.Message, fmt.Sprint(apiErr.Fields))
		}
	}
	for i, err := range newErrs {
		if err == nil {
			t.Errorf("New %d: no error", i)
			continue
		}
		printed = append(printed, err.Error())
	}
	mu.Lock()
	printed = append(printed, logs.String())
	printed = append(printed, observed...)
	mu.Unlock()

	if !strings.Contains(logs.String(), "retrying") {
		t.Error("expected debug records; the test would prove nothing without them")
	}
	if !strings.Contains(strings.Join(printed, "\n"), "[REDACTED]") {
		t.Error("expected scrubbed echoes; the server did not echo the secret")
	}
	for _, s := range printed {
		if containsSecret(s) {
			t.Errorf("secret leaked in:\n%s", s)
		}
	}
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
