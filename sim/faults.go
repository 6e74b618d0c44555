package sim

import (
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Faults make the simulator misbehave the way a real broker sometimes does,
// so that clients can prove they lose and duplicate nothing. Half of the
// injected failures happen before the request is processed and half after
// it has been processed: the second kind is the dangerous one for order
// submission, because the order exists although the client saw an error.
type Faults struct {
	// Latency is added before every REST request is handled.
	Latency time.Duration
	// FailRate is the probability in [0, 1] that a REST request is answered
	// with 500 or 503.
	FailRate float64
	// DropRate is the probability in [0, 1] that a REST request's
	// connection is closed without any response.
	DropRate float64
}

func (f Faults) active() bool { return f.Latency > 0 || f.FailRate > 0 || f.DropRate > 0 }

type faultKind int

const (
	faultNone faultKind = iota
	failBefore
	failAfter
	dropBefore
	dropAfter
)

// faultInjector draws faults from its own seeded source so that runs are
// repeatable for a given seed and request order.
type faultInjector struct {
	Faults
	mu  sync.Mutex
	rng *rand.Rand
	// counts of injected faults, for the broker's own report.
	failed, dropped int64
}

func newFaultInjector(f Faults, seed uint64) *faultInjector {
	return &faultInjector{Faults: f, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

func (fi *faultInjector) draw() faultKind {
	fi.mu.Lock()
	defer fi.mu.Unlock()
	x := fi.rng.Float64()
	after := fi.rng.IntN(2) == 1
	switch {
	case x < fi.FailRate:
		fi.failed++
		if after {
			return failAfter
		}
		return failBefore
	case x < fi.FailRate+fi.DropRate:
		fi.dropped++
		if after {
			return dropAfter
		}
		return dropBefore
	}
	return faultNone
}

func (fi *faultInjector) wrap(next http.Handler) http.Handler {
	if fi == nil || !fi.active() {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fi.Latency > 0 {
			t := time.NewTimer(fi.Latency)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
		switch fi.draw() {
		case failBefore:
			writeFailure(w)
		case dropBefore:
			dropConnection(w)
		case failAfter:
			next.ServeHTTP(discardWriter{h: http.Header{}}, r)
			writeFailure(w)
		case dropAfter:
			next.ServeHTTP(discardWriter{h: http.Header{}}, r)
			dropConnection(w)
		default:
			next.ServeHTTP(w, r)
		}
	})
}

var failureStatus = [2]int{http.StatusInternalServerError, http.StatusServiceUnavailable}

func writeFailure(w http.ResponseWriter) {
	st := failureStatus[rand.IntN(2)]
	if st == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "0")
	}
	writeError(w, st, codeInternal, "internal server error occurred", nil)
}

// dropConnection closes the TCP connection under the request, which the
// client sees as EOF or a reset: the "did my order go through?" case.
func dropConnection(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		// HTTP/2 has no hijacking; aborting the handler resets the stream.
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0) // a reset, not a graceful FIN
	}
	_ = conn.Close()
}

type discardWriter struct{ h http.Header }

func (d discardWriter) Header() http.Header         { return d.h }
func (d discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d discardWriter) WriteHeader(int)             {}

// rateWindow is a per-key fixed window (a minute, as Alpaca's limits are
// per minute), which is what Alpaca's X-RateLimit-Reset (an epoch second
// at which the quota refills) implies.
type rateWindow struct {
	mu    sync.Mutex
	start int64 // window index
	used  int
}

// take consumes one request and sets the X-RateLimit-* headers. It reports
// false when the key is over its limit.
func (rw *rateWindow) take(h http.Header, limit int, window time.Duration, now time.Time) bool {
	idx := now.UnixNano() / int64(window)
	rw.mu.Lock()
	if idx != rw.start {
		rw.start, rw.used = idx, 0
	}
	ok := rw.used < limit
	if ok {
		rw.used++
	}
	remaining := limit - rw.used
	rw.mu.Unlock()
	resetAt := time.Unix(0, (idx+1)*int64(window))
	h.Set("X-RateLimit-Limit", strconv.Itoa(limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(remaining))
	h.Set("X-RateLimit-Reset", strconv.FormatInt((resetAt.UnixNano()+int64(time.Second)-1)/int64(time.Second), 10))
	if !ok {
		secs := int64(resetAt.Sub(now)+time.Second-1) / int64(time.Second)
		h.Set("Retry-After", strconv.FormatInt(max(secs, 1), 10))
	}
	return ok
}
