package web_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/quantum-alpaca/quantum/trading"
	"github.com/quantum-alpaca/quantum/web"
)

// feed is an activity feed with engine.Activities' policy: publishing
// never blocks, a full subscriber misses the activity and counts it.
type feed struct {
	mu   sync.Mutex
	subs map[*feedSub]bool
}

type feedSub struct {
	c       chan trading.Activity
	dropped atomic.Uint64
}

func (s *feedSub) C() <-chan trading.Activity { return s.c }
func (s *feedSub) Dropped() uint64            { return s.dropped.Load() }

var _ web.Subscription = (*feedSub)(nil)

func (f *feed) Subscribe(buffer int) (web.Subscription, func()) {
	s := &feedSub{c: make(chan trading.Activity, buffer)}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.subs == nil {
		f.subs = map[*feedSub]bool{}
	}
	f.subs[s] = true
	return s, func() {
		f.mu.Lock()
		delete(f.subs, s)
		f.mu.Unlock()
	}
}

func (f *feed) Publish(a trading.Activity) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for s := range f.subs {
		select {
		case s.c <- a:
		default:
			s.dropped.Add(1)
		}
	}
}

// drop counts n misses on every subscriber, as a full buffer would.
func (f *feed) drop(n uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for s := range f.subs {
		s.dropped.Add(n)
	}
}

func (f *feed) subscribers() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.subs)
}

// sseEvent is one Server-Sent Event.
type sseEvent struct{ name, data string }

// readSSE parses the stream into events until it ends; the channel
// closes then.
func readSSE(r io.Reader) <-chan sseEvent {
	out := make(chan sseEvent, 64)
	go func() {
		defer close(out)
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.name != "" || ev.data != "" {
					out <- ev
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, "event: "):
				ev.name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				ev.data += strings.TrimPrefix(line, "data: ")
			}
		}
	}()
	return out
}

// openStream opens the event stream of the server at base; the stream
// ends with the test.
func openStream(t *testing.T, base, token string) (*http.Response, <-chan sseEvent) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/api/v1/events", nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp, readSSE(resp.Body)
}

// next returns the next event named name, skipping others; it fails the
// test if the stream ends first or ctx ends.
func next(ctx context.Context, t *testing.T, evs <-chan sseEvent, name string) sseEvent {
	t.Helper()
	for {
		select {
		case ev, ok := <-evs:
			if !ok {
				t.Fatalf("stream ended before a %q event", name)
			}
			if ev.name == name {
				return ev
			}
		case <-ctx.Done():
			t.Fatalf("no %q event: %v", name, ctx.Err())
		}
	}
}
