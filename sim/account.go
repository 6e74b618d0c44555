package sim

import (
	"math/rand/v2"
	"sync"
	"time"

	"github.com/quantum-alpaca/quantum/alpaca"
	"github.com/quantum-alpaca/quantum/sim/match"
)

// account is one API key's paper account. mu guards everything below it;
// the match.Account is not safe for concurrent use on its own.
type account struct {
	id, number string
	keyID      string
	secretHash [32]byte
	created    time.Time
	rate       rateWindow
	feed       *feed[tuRecord]
	// firmIdx is the account's index among the Broker API firm's
	// customers (from 1), whose events the firm-wide feed carries too; 0
	// for a Trading API account. Set before the account is shared.
	firmIdx uint32

	mu         sync.Mutex
	eng        *match.Account
	config     alpaca.AccountConfigurations
	watchlists []*watchlist
	lastNow    time.Time
	evbuf      []match.Event
	ids        *rand.Rand
	startCash  match.Money
	lastEquity match.Money
	history    equityHistory
	// booked are the activities the broker records on the account
	// itself, beside the deposit and the engine's FILL and CFEE: the
	// SPLIT and DIV of corporate actions (corpactions.go), the JNLC of
	// cash journals and the CSD and CSW of transfers (brokerapi.go), in
	// the order they were recorded, which is also the order of their
	// times.
	booked []bookedActivity
}

func (s *Server) newAccount(keyID string, secretHash [32]byte, cash float64) *account {
	// Each account's randomness (order ids, partial fills) derives from the
	// server seed and the key, so a run is repeatable whatever order the
	// accounts are created in.
	seed := s.cfg.Seed ^ fnv64(keyID)
	money := match.Money(cash*100 + 0.5)
	cfg := match.DefaultConfig()
	cfg.Cash = money
	cfg.Multiplier = 2
	cfg.ShortingEnabled = true
	cfg.Seed = seed
	if s.cfg.PartialFillRate != nil {
		cfg.PartialFillRate = *s.cfg.PartialFillRate
	}
	cfg.Location = newYork
	_, alwaysOpen := s.cfg.Session.(AlwaysOpen)
	cfg.AlwaysOpen = alwaysOpen
	cfg.Asset = func(symbol string) (match.Asset, bool) {
		if p, ok := s.crypto.lookup(symbol); ok {
			return p.matchAsset(), true
		}
		m, ok := s.market.Lookup(symbol)
		if !ok {
			return match.Asset{}, false
		}
		return match.Asset{Tradable: !m.Test && !m.NotTradable, Fractionable: m.Fractionable, Shortable: m.Shortable, EasyToBorrow: m.EasyToBorrow}, true
	}
	eng, err := match.NewAccount(cfg)
	if err != nil {
		// The config is built here from validated values; failing is a bug.
		panic("sim: account config rejected: " + err.Error())
	}
	ids := rand.New(rand.NewPCG(seed, 0x5eed))
	a := &account{
		keyID:      keyID,
		secretHash: secretHash,
		created:    s.now().UTC(),
		feed:       newFeed[tuRecord](),
		eng:        eng,
		ids:        ids,
		startCash:  money,
		lastEquity: money,
		config: alpaca.AccountConfigurations{
			DTBPCheck: "entry", TradeConfirmEmail: "all", FractionalTrading: true,
			MaxMarginMultiplier: "2", PDTCheck: "entry", MaxOptionsTradingLevel: 0,
		},
	}
	a.id = a.newID()
	a.number = "PA" + a.id[:8]
	a.history.record(a.created, money)
	if !alwaysOpen && s.cfg.Session.Open(s.now()) {
		a.evbuf = eng.OnOpen(s.now(), a.evbuf[:0])
	}
	s.log.Info("account created", "account", a.id)
	return a
}

// newID returns a random v4 UUID from the account's seeded source. The
// caller holds a.mu (or is constructing the account).
func (a *account) newID() string {
	var u match.UUID
	x, y := a.ids.Uint64(), a.ids.Uint64()
	for i := 0; i < 8; i++ {
		u[i], u[8+i] = byte(x>>(56-8*i)), byte(y>>(56-8*i))
	}
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return u.String()
}

// clock returns a time strictly after the account's previous one. Alpaca
// pages order lists by submission time, so two orders of one account must
// never share a timestamp or a client paging by time could skip one. The
// caller holds a.mu.
func (a *account) clock(now time.Time) time.Time {
	now = now.UTC()
	if !now.After(a.lastNow) {
		now = a.lastNow.Add(time.Nanosecond)
	}
	a.lastNow = now
	return now
}

// publish hands the events of one operation to the trade-update feed, in
// order, and recycles the buffer. The caller holds a.mu, which is what
// keeps the feed's order equal to the order things happened.
func (a *account) publish(s *Server, ev []match.Event) {
	if a.firmIdx != 0 && len(ev) > 0 {
		// Before the feeds ring: a stream they wake finds the activities.
		s.firm.acts.note(a)
	}
	for i := range ev {
		rec := recordOf(&ev[i])
		a.feed.publish(rec, ev[i].Time.Time(), s.cfg.FeedCapacity)
		if a.firmIdx != 0 {
			s.firm.feed.publish(firmRecord{acct: a.firmIdx, tu: rec}, ev[i].Time.Time(), s.cfg.BrokerFeedCapacity)
		}
	}
	clear(ev)
	a.evbuf = ev[:0]
}

// bookedActivity is an activity the broker booked on an account, with
// its place among the account's other activities.
type bookedActivity struct {
	act alpaca.Activity
	// at is when it took effect, the time in the activity's id.
	at time.Time
	// after is how many engine activities (FILL, CFEE) the account had
	// when this one was recorded: it comes after those and before the
	// rest.
	after int
	// ms is its event's ULID millisecond on the activity stream: at's,
	// or the one of the event before it if later, so that an account's
	// event ids sort as its events happened.
	ms int64
}

// book records act on a, effective at at, which is not before the
// previous booked activity's: the listing finds them by time. The caller
// holds a.mu, and rings the streams (ringActivities) once it lets go of
// it.
func (a *account) book(s *Server, at time.Time, act alpaca.Activity) {
	log := activityLog{a}
	prev, _, _ := log.atLocked(log.lastLocked(), false)
	a.booked = append(a.booked, bookedActivity{act: act, at: at.UTC(), after: a.eng.ActivityCount(), ms: max(at.UnixMilli(), prev)})
	if a.firmIdx != 0 {
		s.firm.acts.note(a)
	}
}

// bookTime is the time to book an activity happening now on a: now, or
// the previous booked activity's time if later (a split is applied a
// little ahead of its instant under a running clock). The caller holds
// a.mu.
func (a *account) bookTime(now time.Time) time.Time {
	now = now.UTC()
	if n := len(a.booked); n > 0 && a.booked[n-1].at.After(now) {
		return a.booked[n-1].at
	}
	return now
}

// ringActivities wakes the activity streams of a (its own and, for a
// Broker API customer, the firm's) after a booked activity, which no
// trade update announces.
func (a *account) ringActivities(s *Server) {
	a.feed.wake()
	if a.firmIdx != 0 {
		s.firm.feed.wake()
	}
}

func fnv64(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}
