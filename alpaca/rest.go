package alpaca

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// get fetches an idempotent resource into out.
func (c *Client) get(ctx context.Context, route, path string, q url.Values, out any) error {
	_, err := c.do(ctx, &call{method: http.MethodGet, route: route, path: path, query: q, idempotent: true, out: out})
	return err
}

// getData is get against the market-data host.
func (c *Client) getData(ctx context.Context, route, path string, q url.Values, out any) error {
	_, err := c.do(ctx, &call{method: http.MethodGet, route: route, path: path, query: q, idempotent: true, data: true, out: out})
	return err
}

// send issues a request with an optional JSON body. idempotent says
// whether repeating it is harmless, which decides what may be retried.
func (c *Client) send(ctx context.Context, method, route, path string, q url.Values, in, out any, idempotent bool) (result, error) {
	cl := &call{method: method, route: route, path: path, query: q, idempotent: idempotent, out: out}
	if in != nil {
		body, err := encodeBody(in)
		if err != nil {
			return result{}, err
		}
		cl.body = body
	}
	return c.do(ctx, cl)
}

func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func formatDate(t time.Time) string { return t.Format(time.DateOnly) }

// seg escapes one path segment ("BTC/USD" becomes "BTC%2FUSD").
func seg(s string) string { return url.PathEscape(s) }

func setNonEmpty(q url.Values, key, value string) {
	if value != "" {
		q.Set(key, value)
	}
}

func setTime(q url.Values, key string, t time.Time) {
	if !t.IsZero() {
		q.Set(key, formatTime(t))
	}
}
