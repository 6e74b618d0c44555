// Package netx holds what every connection of the alpaca packages shares:
// the REST client's pooled connections and the SSE stream's own.
package netx

import (
	"net"
	"time"
)

// Header names of Alpaca's key-pair authentication, in canonical form so
// that they can be set on an http.Header map directly.
const (
	KeyIDHeader     = "Apca-Api-Key-Id"
	SecretKeyHeader = "Apca-Api-Secret-Key"
)

// Dialer returns the dialer every connection is made with: a bounded
// connect and TCP keep-alives, so that a dead peer is noticed by the
// kernel even on a connection that is only read from.
func Dialer() *net.Dialer {
	return &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
}
