package sim

import (
	"testing"
	"time"
)

func TestULIDRoundTripAndOrder(t *testing.T) {
	prev := ""
	for _, c := range []struct {
		ms  int64
		seq uint64
	}{{0, 1}, {1, 0}, {1700000000000, 1}, {1700000000000, 2}, {1700000000000, 1 << 40}, {1700000000001, 0}} {
		id := ulid(c.ms, c.seq)
		if len(id) != 26 || id <= prev {
			t.Fatalf("ulid(%d,%d) = %q after %q", c.ms, c.seq, id, prev)
		}
		prev = id
		k, ok := parseULID(id)
		if !ok || k.ms != c.ms || k.hi != 0 || k.lo != c.seq {
			t.Fatalf("parse %q = %+v %v", id, k, ok)
		}
	}
	for _, bad := range []string{"", "x", "01ARZ3NDEKTSV4RRFFQ69G5FAVX", "8ZZZZZZZZZZZZZZZZZZZZZZZZZ", "01ARZ3NDEKTSV4RRFFQ69G5FA!"} {
		if _, ok := parseULID(bad); ok {
			t.Errorf("parseULID(%q) accepted", bad)
		}
	}
}

// drain reads everything sub may read now.
func drain[T any](t *testing.T, f *feed[T], sub *feedSub[T]) (got []T, ok bool) {
	t.Helper()
	buf := make([]feedEntry[T], 3) // smaller than the backlogs: reads in batches
	for {
		n, ok := f.read(sub, buf)
		if !ok {
			return got, false
		}
		for _, e := range buf[:n] {
			got = append(got, e.v)
		}
		if n < len(buf) {
			return got, true
		}
	}
}

// Replay by since_id compares as the ULID strings would, also for ids
// the broker did not make (random low bits, lower case).
func TestFeedReplayAndSlowSubscriber(t *testing.T) {
	const capacity = 8
	f := newFeed[int]()
	base := time.UnixMilli(1700000000000)
	for i := 1; i <= 10; i++ {
		f.publish(i, base.Add(time.Duration(i)*time.Millisecond), capacity)
	}
	if len(f.ring) != capacity {
		t.Fatalf("ring holds %d entries, want %d", len(f.ring), capacity)
	}
	all := f.subscribe(func(*feedEntry[int]) bool { return true })
	if got, ok := drain(t, f, all); !ok || len(got) != 8 || got[0] != 3 || got[7] != 10 {
		t.Fatalf("ring kept %v (ok %v)", got, ok)
	}
	fifth := f.ring[(f.head+4)%len(f.ring)]
	k, _ := parseULID(fifth.id())
	since := f.subscribe(func(e *feedEntry[int]) bool { return e.after(k) })
	if got, ok := drain(t, f, since); !ok || len(got) != 3 || got[0] != 8 {
		t.Fatalf("since %s replayed %v", fifth.id(), got)
	}
	foreign, _ := parseULID("01hf7yat0" + "0zzzzzzzzzzzzzzzz")
	if !(&feedEntry[int]{ms: foreign.ms + 1}).after(foreign) || (&feedEntry[int]{ms: foreign.ms, seq: 1 << 62}).after(foreign) {
		t.Fatal("comparison with a foreign ULID")
	}

	// Live delivery: a reader that keeps up gets everything; one that
	// falls a whole ring behind is cut off, and only then.
	live := f.subscribe(nil)
	if got, ok := drain(t, f, live); !ok || len(got) != 0 {
		t.Fatalf("new live subscriber read %v", got)
	}
	for i := 11; i <= 11+capacity-1; i++ {
		f.publish(i, base.Add(time.Second), capacity)
	}
	select {
	case <-live.ready:
	default:
		t.Fatal("publish did not ring the subscriber")
	}
	select {
	case <-all.gone:
		t.Fatal("subscriber exactly a ring behind was cut off")
	default:
	}
	if got, ok := drain(t, f, live); !ok || len(got) != capacity || got[0] != 11 {
		t.Fatalf("live read %v (ok %v)", got, ok)
	}
	f.publish(99, base.Add(time.Second), capacity) // overwrites what all and since have not read
	for name, sub := range map[string]*feedSub[int]{"all": all, "since": since} {
		select {
		case <-sub.gone:
		default:
			t.Fatalf("%s: slow subscriber was not cut off", name)
		}
		if _, ok := f.read(sub, make([]feedEntry[int], 1)); ok {
			t.Fatalf("%s: read after the cut", name)
		}
	}
	if got, ok := drain(t, f, live); !ok || len(got) != 1 || got[0] != 99 {
		t.Fatalf("live read %v (ok %v) after the cut of the others", got, ok)
	}
	f.unsubscribe(live)
	if _, ok := f.read(live, make([]feedEntry[int], 1)); ok {
		t.Fatal("read after unsubscribe")
	}
	if len(f.subs) != 0 {
		t.Fatalf("%d subscribers left", len(f.subs))
	}
}

// An account that publishes nothing holds no ring, and a subscriber holds
// no copy of the entries it has not read.
func TestFeedMemoryIsShared(t *testing.T) {
	f := newFeed[tuRecord]()
	if cap(f.ring) != 0 {
		t.Fatalf("idle feed holds a ring of %d", cap(f.ring))
	}
	subs := make([]*feedSub[tuRecord], 100)
	for i := range subs {
		subs[i] = f.subscribe(nil)
	}
	for i := 0; i < 100; i++ {
		f.publish(tuRecord{Seq: uint64(i)}, time.UnixMilli(int64(i)), DefaultFeedCapacity)
	}
	if cap(f.ring) > 128 {
		t.Fatalf("ring of 100 entries has capacity %d", cap(f.ring))
	}
	for _, s := range subs {
		if s.next != 1 {
			t.Fatalf("subscriber moved without reading: next %d", s.next)
		}
	}
}
