package pgtest

import (
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
)

// Proxy is a TCP proxy on 127.0.0.1 in front of a server (PostgreSQL),
// which a test cuts and restores to simulate a network outage without
// touching the server. It is safe for concurrent use.
type Proxy struct {
	tb     testing.TB
	target string

	mu    sync.Mutex
	addr  string       // fixed at the first listen, reused by Restore
	ln    net.Listener // nil while cut
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// NewProxy starts a proxy to target (host:port) on a free port of
// 127.0.0.1. It is closed when tb ends.
func NewProxy(tb testing.TB, target string) *Proxy {
	tb.Helper()
	p := &Proxy{tb: tb, target: target, conns: make(map[net.Conn]struct{})}
	if err := p.listen("127.0.0.1:0"); err != nil {
		tb.Fatalf("proxy: %v", err)
	}
	tb.Cleanup(p.close)
	return p
}

// NewProxyDSN starts a proxy in front of the server a postgres:// dsn
// names and returns it with the dsn rewritten to go through it.
func NewProxyDSN(tb testing.TB, dsn string) (*Proxy, string) {
	tb.Helper()
	u, err := url.Parse(dsn)
	if err != nil || u.Host == "" {
		tb.Fatalf("proxy: DSN must be a postgres:// URL with a host")
	}
	target := u.Host
	if u.Port() == "" {
		target = net.JoinHostPort(u.Hostname(), "5432")
	}
	p := NewProxy(tb, target)
	u.Host = p.Addr()
	return p, u.String()
}

// Addr is the proxy's host:port; it stays the same across Cut and
// Restore.
func (p *Proxy) Addr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.addr
}

// Cut drops every proxied connection (both sides, at once) and refuses
// new ones until Restore.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		_ = p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		_ = c.Close()
	}
}

// Restore accepts connections again, on the same address.
func (p *Proxy) Restore() {
	p.tb.Helper()
	p.mu.Lock()
	up, addr := p.ln != nil, p.addr
	p.mu.Unlock()
	if up {
		return
	}
	if err := p.listen(addr); err != nil {
		p.tb.Fatalf("proxy: listen again on %s: %v", addr, err)
	}
}

func (p *Proxy) listen(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.ln, p.addr = ln, ln.Addr().String()
	p.mu.Unlock()
	p.wg.Add(1)
	go p.accept(ln)
	return nil
}

func (p *Proxy) accept(ln net.Listener) {
	defer p.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			return // closed by Cut or close
		}
		p.wg.Add(1)
		go p.serve(ln, c)
	}
}

// serve copies between c and a new connection to the target until
// either side ends or Cut closes both.
func (p *Proxy) serve(ln net.Listener, c net.Conn) {
	defer p.wg.Done()
	s, err := net.Dial("tcp", p.target)
	if err != nil {
		_ = c.Close()
		return
	}
	p.mu.Lock()
	if p.ln != ln { // cut while dialing
		p.mu.Unlock()
		_ = c.Close()
		_ = s.Close()
		return
	}
	p.conns[c], p.conns[s] = struct{}{}, struct{}{}
	p.mu.Unlock()

	var wg sync.WaitGroup
	pipe := func(dst, src net.Conn) {
		defer wg.Done()
		_, _ = io.Copy(dst, src) // a reset or closed side ends it like EOF
		// Either direction ending ends the pair, as a dropped link would.
		_ = dst.Close()
		_ = src.Close()
	}
	wg.Add(2)
	go pipe(s, c)
	go pipe(c, s)
	wg.Wait()

	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, s)
	p.mu.Unlock()
}

func (p *Proxy) close() {
	p.Cut()
	p.wg.Wait()
}
