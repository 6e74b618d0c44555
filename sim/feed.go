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

// feedEntry holds no pointers (T must not either), so a ring of thousands
// of entries per account costs the garbage collector nothing to scan and
// writing one needs no write barriers. Its ULID is derived on demand.
type feedEntry[T any] struct {
	ms  int64  // ULID time part
	seq uint64 // ULID sequence part
	at  int64  // Unix nanoseconds
	v   T
}

func (e *feedEntry[T]) id() string { return ulid(e.ms, e.seq) }

// after reports whether e comes after the ULID (ms, hi, lo), as the
// lexicographic order of the ULID strings has it.
func (e *feedEntry[T]) after(u ulidKey) bool {
	switch {
	case e.ms != u.ms:
		return e.ms > u.ms
	case u.hi != 0:
		return false // our sequence never reaches the top 16 bits
	}
	return e.seq > u.lo
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
	e := feedEntry[T]{ms: ms, seq: f.seq, at: now.UnixNano(), v: v}
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

// ulidKey is a parsed ULID: 48 bits of milliseconds, then 80 bits split as
// the top 16 (hi) and the low 64 (lo).
type ulidKey struct {
	ms int64
	hi uint16
	lo uint64
}

// parseULID parses a 26-character Crockford base32 ULID, in either case.
func parseULID(s string) (ulidKey, bool) {
	if len(s) != 26 {
		return ulidKey{}, false
	}
	var hi, lo uint64 // 128 bits
	for i := 0; i < 26; i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		d := indexCrockford(c)
		if d < 0 || i == 0 && d > 7 { // 26×5 = 130 bits: the first digit carries 3
			return ulidKey{}, false
		}
		hi = hi<<5 | lo>>59
		lo = lo<<5 | uint64(d)
	}
	return ulidKey{ms: int64(hi >> 16), hi: uint16(hi), lo: lo}, true
}

func indexCrockford(c byte) int {
	for i := 0; i < len(crockford); i++ {
		if crockford[i] == c {
			return i
		}
	}
	return -1
}
