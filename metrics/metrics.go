// Package metrics exports the engine's state and its broker traffic to
// Prometheus.
//
// Tenant figures are read from the runners' published snapshots when
// Prometheus scrapes, so a tenant's hot path pays nothing for them and a
// scrape never waits on a runner. Broker traffic is counted by an
// observer on each tenant's alpaca client. Labels stay bounded: per-tenant
// series carry only the tenant id (tenants come from the config), and
// request series carry the route template, never a raw path or order id.
package metrics

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/quantum-alpaca/quantum/alpaca"
	"github.com/quantum-alpaca/quantum/trading"
)

const namespace = "quantum"

// Registry holds the process's metrics: the Go runtime and process
// collectors, the engine's tenants, and broker requests.
type Registry struct {
	*prometheus.Registry
	requests  *prometheus.CounterVec
	durations *prometheus.HistogramVec
	waits     *prometheus.CounterVec
}

// New returns a Registry exporting the tenants that statuses reports at
// each scrape (the engine's Statuses); nil exports none.
func New(statuses func() []trading.TenantStatus) *Registry {
	r := &Registry{
		Registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "broker_requests_total",
			Help: "Requests to the broker's REST API by method, route template and status code (0: no response).",
		}, []string{"method", "route", "code"}),
		durations: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "broker_request_duration_seconds",
			Help:    "Time from sending a broker request to the end of its response.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"method", "route"}),
		waits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "tenant_rate_limit_wait_seconds_total",
			Help: "Time a tenant's requests waited for its rate limiter or a server-imposed pause.",
		}, []string{"tenant"}),
	}
	r.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		r.requests, r.durations, r.waits,
		&tenantCollector{statuses: statuses},
	)
	return r
}

// Observer returns the alpaca.WithObserver callback for one tenant's
// client.
func (r *Registry) Observer(tenant string) func(alpaca.RequestInfo) {
	return func(info alpaca.RequestInfo) {
		r.requests.WithLabelValues(info.Method, info.Route, strconv.Itoa(info.StatusCode)).Inc()
		if info.StatusCode != 0 {
			r.durations.WithLabelValues(info.Method, info.Route).Observe(info.Duration.Seconds())
		}
		if info.RateLimitWait > 0 {
			// Created on first use: a tenant that never waits costs no series.
			r.waits.WithLabelValues(tenant).Add(info.RateLimitWait.Seconds())
		}
	}
}

var (
	tenantInfo = desc("tenant_info", "A tenant's strategy, trading state and runner health (always 1).",
		"strategy", "state", "health")
	ordersPlaced    = desc("tenant_orders_placed_total", "Orders the tenant has placed over its whole life (from the journal).")
	openOrders      = desc("tenant_open_orders", "Orders not yet in a final state.")
	fills           = desc("tenant_fills_total", "Fills applied since the process started.")
	riskRejections  = desc("tenant_risk_rejections_total", "Orders the risk gate refused since the process started.")
	brokerRejects   = desc("tenant_broker_rejections_total", "Orders the broker refused since the process started.")
	unknownOutcomes = desc("tenant_unknown_outcomes_total", "Submissions whose outcome was unknown and had to be looked up.")
	restarts        = desc("tenant_runner_restarts_total", "Times the tenant's runner failed and was restarted.")
	breakerOpen     = desc("tenant_breaker_open", "1 while the tenant's error-rate circuit breaker is open.")
	equity          = desc("tenant_equity_dollars", "Account equity at the last account refresh.")
	dailyPnL        = desc("tenant_daily_pnl_dollars", "Equity less the previous close, at the last account refresh.")
	unrealizedPnL   = desc("tenant_unrealized_pnl_dollars", "Unrealized P&L of the tenant's positions, at the last account refresh.")
	quotesDropped   = desc("tenant_quotes_dropped_total", "Quotes coalesced away because the tenant was busy.")
	barsDropped     = desc("tenant_bars_dropped_total", "Minute bars lost because the tenant was more than engine.MaxQueuedBars behind.")
	statusAge       = desc("tenant_status_age_seconds", "Time since the tenant's runner last published its status.")
)

func desc(name, help string, extra ...string) *prometheus.Desc {
	return prometheus.NewDesc(prometheus.BuildFQName(namespace, "", name), help, append([]string{"tenant"}, extra...), nil)
}

// tenantCollector reads every tenant's snapshot at scrape time.
type tenantCollector struct {
	statuses func() []trading.TenantStatus
}

func (c *tenantCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{tenantInfo, ordersPlaced, openOrders, fills, riskRejections, brokerRejects,
		unknownOutcomes, restarts, breakerOpen, equity, dailyPnL, unrealizedPnL, quotesDropped, barsDropped, statusAge} {
		ch <- d
	}
}

func (c *tenantCollector) Collect(ch chan<- prometheus.Metric) {
	if c.statuses == nil {
		return
	}
	now := time.Now()
	for _, s := range c.statuses() {
		id := string(s.ID)
		ch <- prometheus.MustNewConstMetric(tenantInfo, prometheus.GaugeValue, 1, id, s.Strategy, string(s.State), s.Health)
		counter := func(d *prometheus.Desc, v float64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, id)
		}
		gauge := func(d *prometheus.Desc, v float64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, id)
		}
		counter(ordersPlaced, float64(s.OrdersPlaced))
		gauge(openOrders, float64(s.OpenOrders))
		counter(fills, float64(s.Fills))
		counter(riskRejections, float64(s.RiskRejections))
		counter(brokerRejects, float64(s.BrokerRejections))
		counter(unknownOutcomes, float64(s.Unknown))
		counter(restarts, float64(s.Restarts))
		counter(quotesDropped, float64(s.QuotesDropped))
		counter(barsDropped, float64(s.BarsDropped))
		open := 0.0
		if s.BreakerOpen {
			open = 1
		}
		gauge(breakerOpen, open)
		if !s.AccountAt.IsZero() {
			gauge(equity, s.Equity.InexactFloat64())
			gauge(dailyPnL, s.DailyPnL.InexactFloat64())
			gauge(unrealizedPnL, s.UnrealizedPnL.InexactFloat64())
		}
		if !s.UpdatedAt.IsZero() {
			gauge(statusAge, now.Sub(s.UpdatedAt).Seconds())
		}
	}
}

// FirmStreamCounts are a Broker API firm's trade-event stream counters.
type FirmStreamCounts struct {
	Received, Unrouted, Overflows, Resyncs uint64
}

// AddFirmStream exports the counters of a Broker API firm's one
// trade-event stream, read at scrape time: events received, those no
// tenant here follows, those a full tenant queue turned into a resync,
// and the stream's own gaps.
func (r *Registry) AddFirmStream(counts func() FirmStreamCounts) {
	counter := func(name, help string, v func(FirmStreamCounts) uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: namespace, Name: name, Help: help},
			func() float64 { return float64(v(counts())) })
	}
	r.MustRegister(
		counter("broker_api_events_total", "Trade events read from the Broker API firm's event stream.",
			func(c FirmStreamCounts) uint64 { return c.Received }),
		counter("broker_api_events_unrouted_total", "Firm trade events of accounts no tenant of this engine follows.",
			func(c FirmStreamCounts) uint64 { return c.Unrouted }),
		counter("broker_api_events_overflowed_total", "Firm trade events a tenant's full queue could not take (each turned into a resync of that tenant).",
			func(c FirmStreamCounts) uint64 { return c.Overflows }),
		counter("broker_api_stream_resyncs_total", "Gaps in the firm's event stream, each passed to every tenant as a resync.",
			func(c FirmStreamCounts) uint64 { return c.Resyncs }),
	)
}
