package stream

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"

	"github.com/quantum-alpaca/quantum/alpaca/internal/netx"
)

// sseConnBuffer is the read buffer of a direct SSE connection. Idle, the
// stream carries heartbeat comments of a few bytes; an order event is one
// or two KiB and simply takes more than one read.
const sseConnBuffer = 1 << 10

// openDirect sends req on a connection of its own and returns the response
// with its head read and its body unread. Unlike http.Client.Do, nothing
// else runs for this connection: net/http keeps a read goroutine and a
// write goroutine (HTTP/1.1) or a read goroutine and a per-request
// goroutine (HTTP/2) alive for as long as an event stream lasts, and for
// an idle tenant that is most of what its stream costs. Here the caller's
// goroutine reads the body and is the only one that does.
//
// The connection closes when ctx is done or when the body is closed. The
// request and response are written and parsed by net/http (Request.Write,
// ReadResponse), so chunked encoding and the rest of HTTP/1.1 are its
// concern, not ours.
func openDirect(ctx context.Context, req *http.Request, tlsConf *tls.Config) (*http.Response, error) {
	u := req.URL
	host, port := u.Hostname(), u.Port()
	secure := u.Scheme == "https"
	if port == "" {
		port = "80"
		if secure {
			port = "443"
		}
	}
	raw, err := netx.Dialer().DialContext(ctx, "tcp", net.JoinHostPort(host, port))
	if err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { raw.Close() })
	fail := func(err error) (*http.Response, error) {
		stop()
		raw.Close()
		if ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		return nil, err
	}
	var conn net.Conn = raw
	if secure {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12}
		if tlsConf != nil {
			cfg = tlsConf.Clone()
		}
		if cfg.ServerName == "" {
			cfg.ServerName = host
		}
		// HTTP/2 would need its own framing; an event stream gains
		// nothing from it.
		cfg.NextProtos = []string{"http/1.1"}
		tc := tls.Client(raw, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			return fail(err)
		}
		conn = tc
	}
	if err := req.Write(conn); err != nil {
		return fail(err)
	}
	resp, err := http.ReadResponse(bufio.NewReaderSize(conn, sseConnBuffer), req)
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return fail(err)
	}
	resp.Body = &directBody{ReadCloser: resp.Body, conn: raw, stop: stop}
	return resp, nil
}

// directBody closes the connection with the body: it is never reused.
type directBody struct {
	io.ReadCloser
	conn net.Conn
	stop func() bool
}

func (b *directBody) Close() error {
	b.stop()
	return b.conn.Close()
}
