package memjournal_test

import (
	"sync"
	"testing"

	"github.com/quantum-alpaca/quantum/internal/journaltest"
	"github.com/quantum-alpaca/quantum/internal/memjournal"
	"github.com/quantum-alpaca/quantum/trading"
)

func TestConformance(t *testing.T) {
	var mu sync.Mutex
	stores := map[string]*memjournal.Storage{}
	journaltest.Run(t, journaltest.PerTest(
		func(t *testing.T) string {
			mu.Lock()
			defer mu.Unlock()
			stores[t.Name()] = memjournal.NewStorage()
			return t.Name()
		},
		func(t *testing.T, name string) trading.Journal {
			mu.Lock()
			defer mu.Unlock()
			return memjournal.Open(stores[name], nil)
		}))
}
