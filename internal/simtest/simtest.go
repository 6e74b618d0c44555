// Package simtest starts the real broker simulator on a loopback port for
// tests of any package: the project's tests talk to it over real TCP.
package simtest

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/quantum-alpaca/quantum/sim"
)

// Broker is a running simulator.
type Broker struct {
	*sim.Server
	// URL is the base URL of both the trading and the market-data API.
	URL string
}

// Start runs a simulator with cfg (auto-provisioning unless cfg lists
// credentials) and stops it when the test ends.
func Start(tb testing.TB, cfg sim.Config) *Broker {
	tb.Helper()
	if len(cfg.Credentials) == 0 {
		cfg.AutoProvision = true
	}
	srv, err := sim.New(cfg)
	if err != nil {
		tb.Fatalf("sim.New: %v", err)
	}
	hs := httptest.NewUnstartedServer(srv.Handler())
	// As `quantum broker` serves: HTTP/1.1, plus HTTP/2 without TLS for
	// clients that ask for it.
	hs.Config.Protocols = new(http.Protocols)
	hs.Config.Protocols.SetHTTP1(true)
	hs.Config.Protocols.SetUnencryptedHTTP2(true)
	hs.Start()
	srv.Start()
	tb.Cleanup(func() {
		_ = srv.Close()
		hs.CloseClientConnections()
		hs.Close()
	})
	return &Broker{Server: srv, URL: hs.URL}
}
