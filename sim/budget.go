package sim

import (
	"context"
	"net/http"
	"strconv"
)

// budget is a pool of bytes that a request reserves before it builds a
// large response and holds until its client has read the response, so
// that clients that do not read (issue 8, item 6: HTTP/2 streams with a
// zero flow-control window, each asking for 10,000 bars) cannot make the
// server hold more than the pool, however many connections they open.
// It counts in units of budgetUnit bytes, one token each.
type budget struct {
	// turn is held by the one request gathering tokens, so that two
	// requests can never each hold part of what both need.
	turn   chan struct{}
	tokens chan struct{} // one per free unit
}

const budgetUnit = 64 << 10

// dataReserve is what a market-data request reserves while its handler
// runs: roughly the peak of building the largest response (10,000 items:
// the page of items, its JSON, the gzip state), measured at about 1 MB of
// JSON and a few MB allocated in all. Once the response is built, the
// reservation shrinks to the response's size.
const dataReserve = 4 << 20

func newBudget(bytes int64) *budget {
	n := max(1, unitsOf(bytes))
	b := &budget{turn: make(chan struct{}, 1), tokens: make(chan struct{}, n)}
	for range n {
		b.tokens <- struct{}{}
	}
	return b
}

func unitsOf(bytes int64) int { return int((bytes + budgetUnit - 1) / budgetUnit) }

// acquire reserves n units (at most the whole pool), waiting until they
// are free or ctx ends. It returns the number of units held.
func (b *budget) acquire(ctx context.Context, n int) (int, error) {
	n = min(n, cap(b.tokens))
	select {
	case b.turn <- struct{}{}:
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	defer func() { <-b.turn }()
	for i := 0; i < n; i++ {
		select {
		case <-b.tokens:
		case <-ctx.Done():
			b.release(i)
			return 0, ctx.Err()
		}
	}
	return n, nil
}

// release returns n units that acquire handed out.
func (b *budget) release(n int) {
	for range n {
		b.tokens <- struct{}{}
	}
}

// serveBudgeted runs a market-data handler against a buffer under a
// reservation of the response budget. The handler's working memory (the
// page of items, the encoder, the gzip state) is released before the
// client is asked to read anything; the response itself stays counted
// until it is written or the write deadline (Config.WriteTimeout) gives
// up on the client.
func (s *Server) serveBudgeted(w http.ResponseWriter, r *http.Request, h http.Handler) {
	wait, cancel := context.WithTimeout(r.Context(), s.cfg.WriteTimeout)
	held, err := s.budget.acquire(wait, unitsOf(dataReserve))
	cancel()
	if err != nil {
		if r.Context().Err() == nil { // still there: tell it to come back
			w.Header().Set("Retry-After", "1")
			writeRaw(w, http.StatusServiceUnavailable, []byte(`{"message":"too many market data responses in flight, retry later"}`+"\n"))
		}
		return
	}
	defer func() { s.budget.release(held) }()
	rec := bufferedResponse{header: w.Header(), status: http.StatusOK}
	h.ServeHTTP(&rec, r)
	if keep := unitsOf(int64(cap(rec.body))); keep < held {
		s.budget.release(held - keep)
		held = keep
	}
	if rec.header.Get("Content-Length") == "" {
		rec.header.Set("Content-Length", strconv.Itoa(len(rec.body)))
	}
	w.WriteHeader(rec.status)
	_, _ = w.Write(rec.body)
}

// bufferedResponse collects a response for serveBudgeted. Its header is
// the real one: nothing is sent before WriteHeader is called on the real
// writer.
type bufferedResponse struct {
	header http.Header
	status int
	wrote  bool
	body   []byte
}

func (b *bufferedResponse) Header() http.Header { return b.header }

func (b *bufferedResponse) WriteHeader(code int) {
	if !b.wrote {
		b.status, b.wrote = code, true
	}
}

func (b *bufferedResponse) Write(p []byte) (int, error) {
	b.wrote = true
	b.body = append(b.body, p...)
	return len(p), nil
}
