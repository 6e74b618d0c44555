package metrics_test

import (
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/quantum-alpaca/quantum/alpaca"
	"github.com/quantum-alpaca/quantum/metrics"
)

func TestObserverCountsRequests(t *testing.T) {
	r := metrics.New(nil)
	obs := r.Observer("t1")
	obs(alpaca.RequestInfo{Method: "POST", Route: "/v2/orders", StatusCode: 200, Duration: 2 * time.Millisecond})
	obs(alpaca.RequestInfo{Method: "POST", Route: "/v2/orders", StatusCode: 200, Duration: 3 * time.Millisecond, RateLimitWait: 500 * time.Millisecond})
	obs(alpaca.RequestInfo{Method: "POST", Route: "/v2/orders", Err: errors.New("connection reset")})

	fams, err := r.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			key := f.GetName()
			for _, l := range m.GetLabel() {
				key += "," + l.GetName() + "=" + l.GetValue()
			}
			switch {
			case m.GetCounter() != nil:
				got[key] = m.GetCounter().GetValue()
			case m.GetHistogram() != nil:
				got[key] = float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	for key, want := range map[string]float64{
		"quantum_broker_requests_total,code=200,method=POST,route=/v2/orders":  2,
		"quantum_broker_requests_total,code=0,method=POST,route=/v2/orders":    1,
		"quantum_broker_request_duration_seconds,method=POST,route=/v2/orders": 2, // no response, no duration
		"quantum_tenant_rate_limit_wait_seconds_total,tenant=t1":               0.5,
	} {
		if got[key] != want {
			t.Errorf("%s = %v, want %v", key, got[key], want)
		}
	}
	if n := testutil.CollectAndCount(r, "quantum_tenant_info"); n != 0 {
		t.Errorf("tenant_info series without tenants: %d", n)
	}
}
