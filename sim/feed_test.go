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

// Replay by since_id compares as the ULID strings would, also for ids
// the broker did not make (random low bits, lower case).
func TestFeedReplayAndSlowSubscriber(t *testing.T) {
	f := newFeed[int](8)
	base := time.UnixMilli(1700000000000)
	for i := 1; i <= 10; i++ {
		f.publish(i, base.Add(time.Duration(i)*time.Millisecond), 8)
	}
	all := func(*feedEntry[int]) bool { return true }
	_, backlog := f.subscribe(1, all)
	if len(backlog) != 8 || backlog[0].v != 3 || backlog[7].v != 10 {
		t.Fatalf("ring kept %v", backlog)
	}
	k, _ := parseULID(backlog[4].id())
	sub, backlog := f.subscribe(1, func(e *feedEntry[int]) bool { return e.after(k) })
	if len(backlog) != 3 || backlog[0].v != 8 {
		t.Fatalf("since %s replayed %v", backlog[0].id(), backlog)
	}
	foreign, _ := parseULID("01hf7yat0" + "0zzzzzzzzzzzzzzzz")
	if !(&feedEntry[int]{ms: foreign.ms + 1}).after(foreign) || (&feedEntry[int]{ms: foreign.ms, seq: 1 << 62}).after(foreign) {
		t.Fatal("comparison with a foreign ULID")
	}
	f.publish(11, base.Add(time.Second), 8)
	f.publish(12, base.Add(time.Second), 8) // buffer of 1 is full: cut off
	select {
	case <-sub.gone:
	default:
		t.Fatal("slow subscriber was not cut off")
	}
}
