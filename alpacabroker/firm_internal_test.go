package alpacabroker

import (
	"context"
	"fmt"
	"testing"

	"github.com/quantum-alpaca/quantum/alpaca"
	"github.com/quantum-alpaca/quantum/trading"
)

func update(n int) trading.OrderUpdate {
	return trading.OrderUpdate{Event: "fill", Order: trading.BrokerOrder{ClientOrderID: fmt.Sprint("c-", n)}}
}

// A full queue drops instead of waiting, and owes its tenant a resync,
// delivered after what it did keep: nothing is lost without the tenant
// hearing of it.
func TestAccountQueueOverflowOwesAResync(t *testing.T) {
	q := &accountQueue{max: 3, kick: make(chan struct{}, 1)}
	for i := range 5 {
		if ok := q.push(update(i)); ok != (i < 3) {
			t.Fatalf("push %d = %v with max 3", i, ok)
		}
	}
	for i := range 3 {
		u, ok := q.pop()
		if !ok || u.Resync || u.Order.ClientOrderID != fmt.Sprint("c-", i) {
			t.Fatalf("pop %d = %+v, %v; want c-%d in order", i, u, ok, i)
		}
	}
	if u, ok := q.pop(); !ok || !u.Resync {
		t.Fatalf("after the kept updates: %+v, %v; want the owed resync", u, ok)
	}
	if _, ok := q.pop(); ok {
		t.Fatal("an empty queue still answers")
	}
	if !q.push(update(9)) {
		t.Fatal("a drained queue refuses")
	}
}

// A tenant that stops reading holds up only its own queue: routing to
// every other account goes on, in order, and the slow one's excess is
// counted and owed to it as a resync.
func TestFirmRouteNeverWaits(t *testing.T) {
	f := &Firm{cfg: FirmConfig{AccountQueue: 2}, subs: map[string]*accountQueue{}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	slow, doneSlow, err := f.subscribe("slow") // never drained
	if err != nil {
		t.Fatal(err)
	}
	defer doneSlow()
	fast, doneFast, err := f.subscribe("fast")
	if err != nil {
		t.Fatal(err)
	}
	defer doneFast()
	if _, _, err := f.subscribe("fast"); err == nil {
		t.Error("one account followed twice")
	}
	out := make(chan trading.OrderUpdate, 100)
	go func() { _ = fast.drain(ctx, out) }()
	if u := <-out; !u.Resync {
		t.Fatalf("first update %+v, want the starting resync", u)
	}
	for i := range 50 {
		f.route(tradeUpdate("slow", i))
		f.route(tradeUpdate("fast", i))
		f.route(tradeUpdate("elsewhere", i))
		if u := <-out; u.Order.ClientOrderID != fmt.Sprint("c-", i) {
			t.Fatalf("fast account got %+v, want c-%d", u, i)
		}
	}
	if s := f.Stats(); s.Received != 150 || s.Unrouted != 50 || s.Overflows != 48 {
		t.Fatalf("stats %+v: want 150 received, 50 unrouted, 48 of the slow account's overflowed", s)
	}
	var got []trading.OrderUpdate
	for u, ok := slow.pop(); ok; u, ok = slow.pop() {
		got = append(got, u)
	}
	if len(got) != 3 || got[0].Order.ClientOrderID != "c-0" || got[1].Order.ClientOrderID != "c-1" || !got[2].Resync {
		t.Fatalf("the slow account's queue: %+v; want c-0, c-1, then a resync", got)
	}
}

func tradeUpdate(account string, n int) alpaca.TradeUpdate {
	return alpaca.TradeUpdate{AccountID: account, Event: "fill", Order: alpaca.Order{ClientOrderID: fmt.Sprint("c-", n)}}
}
