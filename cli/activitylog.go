package cli

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/quantum-alpaca/quantum/engine"
	"github.com/quantum-alpaca/quantum/trading"
)

// The terminal's activity lines are limited per tenant by a token bucket,
// so that a busy fleet cannot bury the lines that matter: a tenant may
// log activityBurst lines at once and activityRate lines a second in the
// long run. That shows every line of the demo, and of a tenant trading a
// few times a second; a tenant trading faster gets, every
// activitySummaryEvery, one line counting by kind what was not shown.
// State changes, failures, recoveries and breaker trips are never
// suppressed and do not spend the bucket.
const (
	activityBurst        = 20
	activityRate         = 5 // lines per second
	activitySummaryEvery = 10 * time.Second
)

// startActivityLog logs the engine's activity to log until the returned
// stop is called, then logs a summary of the session per tenant, with
// each tenant's final state from statuses. Start it before the engine
// opens and stop it after the engine has closed, so that the engine's
// first and last activities are logged and nothing published in between
// is left unread.
func startActivityLog(acts *engine.Activities, log *slog.Logger, statuses func() []trading.TenantStatus) (stop func()) {
	sub := acts.Subscribe(0)
	p := newActivityPrinter(log)
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(activitySummaryEvery)
		defer tick.Stop()
		for {
			select {
			case a := <-sub.C():
				p.handle(a, time.Now())
			case <-tick.C:
				p.summarize()
				p.dropped(sub.Dropped())
			case <-quit:
				// The engine has closed: whatever it published is in the
				// channel already, and nothing more will come.
				acts.Unsubscribe(sub)
				for drained := false; !drained; {
					select {
					case a := <-sub.C():
						p.handle(a, time.Now())
					default:
						drained = true
					}
				}
				p.summarize()
				p.final(statuses(), sub.Dropped())
				return
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() { close(quit) })
		<-done
	}
}

// activityPrinter turns activities into log lines, rate-limited per
// tenant, and keeps the counts the summaries report. It is used from one
// goroutine.
type activityPrinter struct {
	log     *slog.Logger
	tenants map[trading.TenantID]*tenantActivity
	seen    []trading.TenantID // in the order first heard of
	missed  uint64             // subscription overflows already reported
}

// tenantActivity is one tenant's bucket and counts.
type tenantActivity struct {
	tokens float64
	filled time.Time // when tokens was last topped up
	// suppressed counts lines not shown since the last summary, by kind.
	suppressed map[trading.ActivityKind]int
	counts     map[trading.ActivityKind]int
	state      trading.TradingState
}

func newActivityPrinter(log *slog.Logger) *activityPrinter {
	return &activityPrinter{log: log, tenants: make(map[trading.TenantID]*tenantActivity)}
}

func (p *activityPrinter) tenant(id trading.TenantID) *tenantActivity {
	t := p.tenants[id]
	if t == nil {
		t = &tenantActivity{tokens: activityBurst, suppressed: map[trading.ActivityKind]int{}, counts: map[trading.ActivityKind]int{}}
		p.tenants[id] = t
		p.seen = append(p.seen, id)
	}
	return t
}

// allow spends a token of t's bucket at now, if it has one.
func (t *tenantActivity) allow(now time.Time) bool {
	if !t.filled.IsZero() && now.After(t.filled) {
		t.tokens = min(activityBurst, t.tokens+activityRate*now.Sub(t.filled).Seconds())
	}
	if now.After(t.filled) {
		t.filled = now
	}
	if t.tokens < 1 {
		return false
	}
	t.tokens--
	return true
}

// limited says whether lines of kind k count against a tenant's bucket:
// the ones a busy tenant makes many of. The rest are rare and each one
// matters.
func limited(k trading.ActivityKind) bool {
	switch k {
	case trading.ActivityOrder, trading.ActivityFill, trading.ActivityRiskRejected,
		trading.ActivityRejected, trading.ActivityCanceled, trading.ActivityUnknown:
		return true
	}
	return false
}

// handle counts a and logs it, unless its tenant's bucket is empty at now.
func (p *activityPrinter) handle(a trading.Activity, now time.Time) {
	if a.Tenant != "" {
		t := p.tenant(a.Tenant)
		t.counts[a.Kind]++
		if a.Kind == trading.ActivityState {
			t.state = a.State
		}
		if limited(a.Kind) && !t.allow(now) {
			t.suppressed[a.Kind]++
			return
		}
	}
	level, msg := activityMessage(a)
	p.log.LogAttrs(context.Background(), level, msg, activityAttrs(a)...)
}

// activityMessage is the level and message of a's line: failures and
// breaker trips are warnings.
func activityMessage(a trading.Activity) (slog.Level, string) {
	switch a.Kind {
	case trading.ActivityOrder:
		return slog.LevelInfo, "order"
	case trading.ActivityFill:
		return slog.LevelInfo, "fill"
	case trading.ActivityRiskRejected:
		return slog.LevelInfo, "order refused by the risk gate"
	case trading.ActivityRejected:
		return slog.LevelInfo, "order rejected by the broker"
	case trading.ActivityCanceled:
		if a.Status == trading.StatusExpired {
			return slog.LevelInfo, "order expired"
		}
		return slog.LevelInfo, "order canceled"
	case trading.ActivityUnknown:
		return slog.LevelInfo, "order outcome unknown; it is looked up at the broker"
	case trading.ActivityState:
		return slog.LevelInfo, "trading state changed"
	case trading.ActivityFailed:
		return slog.LevelWarn, "tenant failed; restarting"
	case trading.ActivityRecovered:
		return slog.LevelInfo, "tenant recovered"
	case trading.ActivityBreaker:
		return slog.LevelWarn, "circuit breaker open"
	case trading.ActivityEngineStart:
		return slog.LevelInfo, "engine started"
	case trading.ActivityEngineStop:
		return slog.LevelInfo, "engine stopped"
	}
	return slog.LevelInfo, "activity"
}

// activityAttrs are a's fields that apply to it, under the engine's log
// keys, so that a tenant's or an order's lines are found with one query.
func activityAttrs(a trading.Activity) []slog.Attr {
	attrs := make([]slog.Attr, 0, 10)
	if a.Tenant != "" {
		attrs = append(attrs, slog.String(engine.LogKeyTenant, string(a.Tenant)))
	}
	attrs = append(attrs, slog.String("kind", string(a.Kind)))
	if a.Symbol != "" {
		attrs = append(attrs, slog.String(engine.LogKeySymbol, a.Symbol))
	}
	if a.Side != "" {
		attrs = append(attrs, slog.String("side", string(a.Side)))
	}
	switch {
	case !a.Qty.IsZero():
		attrs = append(attrs, slog.String("qty", a.Qty.String()))
	case !a.Notional.IsZero():
		attrs = append(attrs, slog.String("notional", a.Notional.String()))
	}
	if !a.Price.IsZero() {
		attrs = append(attrs, slog.String("price", a.Price.String()))
	}
	if a.Kind == trading.ActivityState {
		attrs = append(attrs, slog.String("state", string(a.State)))
	}
	if a.ClientOrderID != "" {
		attrs = append(attrs, slog.String(engine.LogKeyClientOrderID, a.ClientOrderID))
	}
	if a.Reason != "" {
		attrs = append(attrs, slog.String("reason", a.Reason))
	}
	return attrs
}

// summaryKinds are the kinds a summary counts, in the order it lists them.
var summaryKinds = []trading.ActivityKind{
	trading.ActivityOrder, trading.ActivityFill, trading.ActivityRiskRejected,
	trading.ActivityRejected, trading.ActivityCanceled, trading.ActivityUnknown,
}

// summarize logs, for each tenant whose lines were suppressed since the
// last summary, how many of each kind, and starts counting afresh.
func (p *activityPrinter) summarize() {
	for _, id := range p.seen {
		t := p.tenants[id]
		total := 0
		attrs := []slog.Attr{slog.String(engine.LogKeyTenant, string(id)), slog.Int("suppressed", 0)}
		for _, k := range summaryKinds {
			if n := t.suppressed[k]; n > 0 {
				total += n
				attrs = append(attrs, slog.Int(string(k), n))
			}
		}
		if total == 0 {
			continue
		}
		attrs[1] = slog.Int("suppressed", total)
		p.log.LogAttrs(context.Background(), slog.LevelInfo, "activity lines suppressed by the per-tenant rate limit", attrs...)
		clear(t.suppressed)
	}
}

// dropped warns when the subscription has overflowed since it last said
// so: those activities were neither shown nor counted.
func (p *activityPrinter) dropped(total uint64) {
	if total <= p.missed {
		return
	}
	p.log.LogAttrs(context.Background(), slog.LevelWarn, "activity log fell behind the engine; activities missed",
		slog.Uint64("missed", total-p.missed), slog.Uint64("missed_total", total))
	p.missed = total
}

// final logs one summary line per tenant: the configured ones in order
// (with their state at the end), then any other the feed named.
func (p *activityPrinter) final(statuses []trading.TenantStatus, dropped uint64) {
	ids := make([]trading.TenantID, 0, len(statuses)+len(p.seen))
	states := make(map[trading.TenantID]trading.TradingState, len(statuses))
	for _, s := range statuses {
		ids = append(ids, s.ID)
		states[s.ID] = s.State
	}
	for _, id := range p.seen {
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	for _, id := range ids {
		t := p.tenants[id]
		if t == nil {
			t = &tenantActivity{}
		}
		state, ok := states[id]
		if !ok {
			state = t.state
		}
		c := t.counts
		p.log.LogAttrs(context.Background(), slog.LevelInfo, "session summary",
			slog.String(engine.LogKeyTenant, string(id)), slog.String("state", string(state)),
			slog.Int("orders", c[trading.ActivityOrder]), slog.Int("fills", c[trading.ActivityFill]),
			slog.Int("risk_rejected", c[trading.ActivityRiskRejected]), slog.Int("rejected", c[trading.ActivityRejected]),
			slog.Int("canceled", c[trading.ActivityCanceled]), slog.Int("unknown", c[trading.ActivityUnknown]))
	}
	if dropped > 0 {
		p.log.LogAttrs(context.Background(), slog.LevelWarn, "the activity log missed activities (its subscription overflowed): the counts above are short",
			slog.Uint64("missed", dropped))
	}
}
