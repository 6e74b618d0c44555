package sim

import (
	"sort"
	"sync"
	"time"
)

// feed is one account's trade-update log: a bounded ring kept for replay
// (SSE since/since_id) plus the live subscribers. Publishing never blocks:
// a subscriber whose buffer is full is cut off, and it can resume from the
// ring with since_id, which is what a real client does after a disconnect.
type feed[T any] struct {
	mu     sync.Mutex
	ring   []feedEntry[T]
	head   int // index of the oldest entry
	n      int
	lastMs int64
	seq    uint64
	subs   map[*feedSub[T]]struct{}
}

type feedEntry[T any] struct {
	id string // ULID: sorts by time, then by sequence
	at time.Time
	v  T
}

type feedSub[T any] struct {
	ch   chan feedEntry[T]
	gone chan struct{} // closed when the feed cut this subscriber off
	once sync.Once
}

func (s *feedSub[T]) cut() { s.once.Do(func() { close(s.gone) }) }

func newFeed[T any](capacity int) *feed[T] {
	return &feed[T]{ring: make([]feedEntry[T], 0, min(capacity, 1024)), subs: map[*feedSub[T]]struct{}{}, head: 0, n: 0, lastMs: 0, seq: 0}
}

// publish appends v and hands it to live subscribers. cap bounds the ring.
func (f *feed[T]) publish(v T, now time.Time, capacity int) {
	f.mu.Lock()
	ms := now.UnixMilli()
	if ms < f.lastMs {
		ms = f.lastMs // the clock may step back; IDs must not
	}
	f.lastMs = ms
	f.seq++
	e := feedEntry[T]{id: ulid(ms, f.seq), at: now, v: v}
	if f.n < capacity {
		if len(f.ring) < capacity && f.n == len(f.ring) {
			f.ring = append(f.ring, e)
		} else {
			f.ring[(f.head+f.n)%len(f.ring)] = e
		}
		f.n++
	} else {
		f.ring[f.head] = e
		f.head = (f.head + 1) % len(f.ring)
	}
	for s := range f.subs {
		select {
		case s.ch <- e:
		default:
			delete(f.subs, s)
			s.cut()
		}
	}
	f.mu.Unlock()
}

// subscribe registers a live subscriber and returns, atomically with the
// registration, the retained entries selected by from, so that replay and
// live delivery have neither a gap nor an overlap.
func (f *feed[T]) subscribe(buf int, from func(e *feedEntry[T]) bool) (*feedSub[T], []feedEntry[T]) {
	s := &feedSub[T]{ch: make(chan feedEntry[T], buf), gone: make(chan struct{})}
	f.mu.Lock()
	defer f.mu.Unlock()
	var backlog []feedEntry[T]
	if from != nil {
		// Entries are in ID order; find the first one to replay.
		i := sort.Search(f.n, func(i int) bool { return from(&f.ring[(f.head+i)%len(f.ring)]) })
		for ; i < f.n; i++ {
			backlog = append(backlog, f.ring[(f.head+i)%len(f.ring)])
		}
	}
	f.subs[s] = struct{}{}
	return s, backlog
}

func (f *feed[T]) unsubscribe(s *feedSub[T]) {
	f.mu.Lock()
	delete(f.subs, s)
	f.mu.Unlock()
}

const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// ulid formats a 48-bit millisecond time and an 80-bit sequence as a
// 26-character ULID. Using a per-account sequence instead of randomness
// keeps IDs strictly increasing within the account, which since_id resume
// relies on.
func ulid(ms int64, seq uint64) string {
	var b [26]byte
	t := uint64(ms)
	for i := 9; i >= 0; i-- {
		b[i] = crockford[t&31]
		t >>= 5
	}
	s := seq
	for i := 25; i >= 10; i-- {
		b[i] = crockford[s&31]
		s >>= 5
	}
	return string(b[:])
}
