package stream

import (
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// The watchdog's arithmetic runs on a fake clock here (synctest), so
// these tests are exact: no machine is too slow or too fast for them.

func TestLivenessKillsAfterSilence(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const timeout = 100 * time.Millisecond
		l := newLiveness()
		l.touch()
		var kills atomic.Int32
		defer l.arm(timeout, func() { kills.Add(1) })()

		time.Sleep(60 * time.Millisecond)
		l.touch() // activity restarts the count
		time.Sleep(timeout - time.Millisecond)
		synctest.Wait()
		if n := kills.Load(); n != 0 {
			t.Fatalf("killed %d times before a full timeout of silence", n)
		}
		time.Sleep(2 * time.Millisecond)
		synctest.Wait()
		if n := kills.Load(); n != 1 {
			t.Fatalf("killed %d times after a timeout of silence, want once", n)
		}
		time.Sleep(10 * timeout)
		synctest.Wait()
		if n := kills.Load(); n != 1 {
			t.Fatalf("killed %d times, want once", n)
		}
	})
}

// A reader parked on a full output channel reads no heartbeats or pongs:
// the silence is the consumer's doing, and must not count.
func TestLivenessPausedReaderIsNotSilent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const timeout = 100 * time.Millisecond
		l := newLiveness()
		l.touch()
		var kills atomic.Int32
		defer l.arm(timeout, func() { kills.Add(1) })()

		l.pause()
		time.Sleep(10 * timeout)
		synctest.Wait()
		if n := kills.Load(); n != 0 {
			t.Fatalf("a parked reader was taken for a dead connection (%d kills)", n)
		}
		l.resume() // counts as activity: the count starts again here
		time.Sleep(timeout - time.Millisecond)
		synctest.Wait()
		if n := kills.Load(); n != 0 {
			t.Fatalf("killed %d times within a timeout of resuming", n)
		}
		time.Sleep(timeout)
		synctest.Wait()
		if n := kills.Load(); n != 1 {
			t.Fatalf("killed %d times after resuming into silence, want once", n)
		}
	})
}

func TestLivenessStopDisarms(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLiveness()
		l.touch()
		var kills atomic.Int32
		stop := l.arm(100*time.Millisecond, func() { kills.Add(1) })
		time.Sleep(50 * time.Millisecond)
		stop()
		time.Sleep(time.Second)
		synctest.Wait()
		if n := kills.Load(); n != 0 {
			t.Fatalf("killed %d times after stop", n)
		}
	})
}
