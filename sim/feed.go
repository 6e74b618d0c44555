package sim

import (
	"slices"
	"sort"
	"sync"
	"time"
)

// feed is one account's trade-update log: a bounded ring kept for replay
// (SSE since/since_id) plus the live subscribers. A subscriber is only a
// cursor into the ring, so it costs the same few bytes whether it keeps up
// or not, and however many there are: what it has not read yet is the
// ring's, not a copy of its own (issue 8, item 6: a per-subscriber channel
// of 4096 entries made 300 stalled subscribers cost a gigabyte).
// Publishing never blocks: a subscriber that falls so far behind that the
// ring overwrites an entry it has not read is cut off, and it can resume
// from the ring with since_id, which is what a real client does after a
// disconnect.
type feed[T any] struct {
	mu     sync.Mutex
	ring   []feedEntry[T] // grows up to capacity: an idle account costs nothing
	head   int            // index of the oldest entry
	n      int
	lastMs int64
	seq    uint64 // of the newest entry; entries have consecutive seqs
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

// feedSub is a subscriber: a position in the ring and a doorbell.
type feedSub[T any] struct {
	next   uint64        // seq of the next entry to deliver; guarded by feed.mu
	ready  chan struct{} // capacity 1: rung when entries past next may exist
	gone   chan struct{} // closed when the feed cut this subscriber off
	once   sync.Once
	closed bool // guarded by feed.mu: cut or unsubscribed
}

func (s *feedSub[T]) cut() { s.once.Do(func() { close(s.gone) }) }

func (s *feedSub[T]) ring() {
	select {
	case s.ready <- struct{}{}:
	default: // already rung
	}
}

func newFeed[T any]() *feed[T] {
	return &feed[T]{subs: map[*feedSub[T]]struct{}{}}
}

// first is the seq of the oldest retained entry (seq+1 when empty). The
// caller holds f.mu.
func (f *feed[T]) first() uint64 { return f.seq + 1 - uint64(f.n) }

// publish appends v and rings the live subscribers. capacity bounds the
// ring.
func (f *feed[T]) publish(v T, now time.Time, capacity int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ms := now.UnixMilli()
	if ms < f.lastMs {
		ms = f.lastMs // the clock may step back; IDs must not
	}
	f.lastMs = ms
	f.seq++
	e := feedEntry[T]{ms: ms, seq: f.seq, at: now.UnixNano(), v: v}
	if f.n < capacity {
		// Not full yet, so head is 0 and the ring is exactly the entries.
		if len(f.ring) == cap(f.ring) {
			f.ring = slices.Grow(f.ring, min(max(2*cap(f.ring), 16), capacity)-len(f.ring))
		}
		f.ring = append(f.ring, e)
		f.n++
	} else {
		f.ring[f.head] = e
		f.head = (f.head + 1) % len(f.ring)
	}
	first := f.first()
	for s := range f.subs {
		if s.next < first { // its next entry was just overwritten
			delete(f.subs, s)
			s.closed = true
			s.cut()
			continue
		}
		s.ring()
	}
}

// wake rings every live subscriber without publishing anything: for a
// stream that reads another source (the activity stream) and only needs
// to know when to look again.
func (f *feed[T]) wake() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for s := range f.subs {
		s.ring()
	}
}

// subscribe registers a live subscriber. With from, delivery starts at the
// first retained entry that from selects (replay); without, at the next
// entry published. Replay and live delivery come from the same ring, so
// they have neither a gap nor an overlap.
func (f *feed[T]) subscribe(from func(e *feedEntry[T]) bool) *feedSub[T] {
	s := &feedSub[T]{ready: make(chan struct{}, 1), gone: make(chan struct{})}
	f.mu.Lock()
	defer f.mu.Unlock()
	s.next = f.seq + 1
	if from != nil {
		// Entries are in ID order; find the first one to replay.
		i := sort.Search(f.n, func(i int) bool { return from(&f.ring[(f.head+i)%len(f.ring)]) })
		s.next = f.first() + uint64(i)
		if i < f.n {
			s.ring()
		}
	}
	f.subs[s] = struct{}{}
	return s
}

// read copies the next entries of s into dst, up to len(dst), and moves s
// past them. ok is false once s has been cut off or unsubscribed: the
// entry it needed next is gone.
func (f *feed[T]) read(s *feedSub[T], dst []feedEntry[T]) (n int, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if s.closed || s.next < f.first() {
		return 0, false
	}
	first := f.first()
	for n < len(dst) && s.next <= f.seq {
		dst[n] = f.ring[(f.head+int(s.next-first))%len(f.ring)]
		s.next++
		n++
	}
	return n, true
}

func (f *feed[T]) unsubscribe(s *feedSub[T]) {
	f.mu.Lock()
	delete(f.subs, s)
	s.closed = true
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
