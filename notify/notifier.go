package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/quantum-alpaca/quantum/trading"
)

// Notifier defaults.
const (
	// DefaultQueueSize is how many alerts wait while the receiver is slow
	// or down before new ones are dropped.
	DefaultQueueSize = 256
	// DefaultMaxAttempts bounds the sends of one alert.
	DefaultMaxAttempts = 5
	// DefaultMinBackoff and DefaultMaxBackoff bound the wait between
	// attempts: MinBackoff·2^(n-1) with jitter, at most MaxBackoff.
	DefaultMinBackoff = 500 * time.Millisecond
	DefaultMaxBackoff = 30 * time.Second
	// DefaultMaxRetryAfter caps the wait a receiver asks for with
	// Retry-After, so that one alert cannot hold the queue for hours.
	DefaultMaxRetryAfter = time.Minute
	// DefaultTimeout bounds one request, connection included.
	DefaultTimeout = 10 * time.Second
)

// dropLogEvery spaces the warnings about a full queue: a receiver down
// for an hour must not fill the log as well.
const dropLogEvery = 10 * time.Second

// Stats counts what a Notifier did with the alerts it accepted: every one
// ends up sent, failed or dropped.
type Stats struct {
	// Sent: the receiver answered 2xx.
	Sent uint64
	// Failed: refused (a 4xx other than 429) or every attempt failed.
	Failed uint64
	// Dropped: the queue was full, or Close's deadline came first.
	Dropped uint64
	// Attempts is the number of requests made.
	Attempts uint64
}

// Notifier posts the activities of one Target. Set its exported fields
// before Open; Publish and Stats are safe for concurrent use.
type Notifier struct {
	// Logger defaults to slog.Default() with system=notify; Open adds
	// the redacted target.
	Logger *slog.Logger
	// Client sends the requests. The default is a client of the
	// notifier's own that follows no redirects: a webhook that moved
	// must be configured where it went, not followed with its body.
	Client *http.Client
	// QueueSize, MaxAttempts, MinBackoff, MaxBackoff, MaxRetryAfter and
	// Timeout default to the Default* constants.
	QueueSize                             int
	MaxAttempts                           int
	MinBackoff, MaxBackoff, MaxRetryAfter time.Duration
	Timeout                               time.Duration

	target   Target
	events   map[trading.ActivityKind]bool
	tenants  map[trading.TenantID]bool
	redacted string
	scrub    *strings.Replacer

	q      chan trading.Activity
	drain  chan struct{} // closed by Close: send what is queued, then stop
	done   chan struct{} // closed when the sender has stopped
	ctx    context.Context
	cancel context.CancelFunc // aborts sends when Close's deadline passes
	opened bool
	closed atomic.Bool
	// failing is set from a failed attempt to the next success, so that
	// an operator hears at once that the receiver is down, and once.
	failing atomic.Bool

	sent, failed, dropped, attempts atomic.Uint64
	droppedLogged                   atomic.Uint64
	lastDropLog                     atomic.Int64 // unix nanoseconds
}

// New returns a notifier for t with the defaults set, or t's
// *TargetError.
func New(t Target) (*Notifier, error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	t.Format = t.format()
	n := &Notifier{
		Logger:    slog.Default().With("system", "notify"),
		QueueSize: DefaultQueueSize, MaxAttempts: DefaultMaxAttempts,
		MinBackoff: DefaultMinBackoff, MaxBackoff: DefaultMaxBackoff, MaxRetryAfter: DefaultMaxRetryAfter,
		Timeout:  DefaultTimeout,
		target:   t,
		events:   map[trading.ActivityKind]bool{},
		redacted: Redact(t.URL),
	}
	events := t.Events
	if len(events) == 0 {
		events = DefaultEvents
	}
	for _, k := range events {
		n.events[k] = true
	}
	if len(t.Tenants) > 0 {
		n.tenants = map[trading.TenantID]bool{}
		for _, id := range t.Tenants {
			n.tenants[id] = true
		}
	}
	var pairs []string
	for _, s := range secrets(t.URL) {
		pairs = append(pairs, s, "…")
	}
	n.scrub = strings.NewReplacer(pairs...)
	return n, nil
}

// Target returns the target's URL redacted, to name it in logs.
func (n *Notifier) Target() string { return n.redacted }

// Open starts the sender.
func (n *Notifier) Open() error {
	if n.opened {
		return errors.New("notify: opened twice")
	}
	n.opened = true
	n.QueueSize = orDefault(n.QueueSize, DefaultQueueSize)
	n.MaxAttempts = orDefault(n.MaxAttempts, DefaultMaxAttempts)
	n.MinBackoff = orDefault(n.MinBackoff, DefaultMinBackoff)
	n.MaxBackoff = max(orDefault(n.MaxBackoff, DefaultMaxBackoff), n.MinBackoff)
	n.MaxRetryAfter = orDefault(n.MaxRetryAfter, DefaultMaxRetryAfter)
	n.Timeout = orDefault(n.Timeout, DefaultTimeout)
	if n.Logger == nil {
		n.Logger = slog.Default().With("system", "notify")
	}
	n.Logger = n.Logger.With("target", n.redacted, "format", string(n.target.Format))
	if n.Client == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 2
		tr.TLSHandshakeTimeout = n.Timeout
		tr.ResponseHeaderTimeout = n.Timeout
		n.Client = &http.Client{
			Transport:     tr,
			Timeout:       n.Timeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	n.q = make(chan trading.Activity, n.QueueSize)
	n.drain, n.done = make(chan struct{}), make(chan struct{})
	n.ctx, n.cancel = context.WithCancel(context.Background())
	go n.run()
	return nil
}

// cmp returns v, or def when v is not positive.
func orDefault[T int | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// Wants reports whether a passes the target's event and tenant filters.
func (n *Notifier) Wants(a trading.Activity) bool {
	if !n.events[a.Kind] {
		return false
	}
	return n.tenants == nil || a.Tenant == "" || n.tenants[a.Tenant]
}

// Publish queues a if the target wants it. It never blocks: with the
// queue full (the receiver slow or down) a is dropped and counted.
// It reports whether a was queued.
func (n *Notifier) Publish(a trading.Activity) bool {
	if !n.Wants(a) {
		return false
	}
	if n.closed.Load() {
		n.drop(1)
		return false
	}
	select {
	case n.q <- a:
		return true
	default:
		n.drop(1)
		return false
	}
}

func (n *Notifier) drop(k uint64) {
	total := n.dropped.Add(k)
	now := time.Now().UnixNano()
	last := n.lastDropLog.Load()
	if now-last < int64(dropLogEvery) || !n.lastDropLog.CompareAndSwap(last, now) {
		return
	}
	prev := n.droppedLogged.Swap(total)
	n.Logger.Warn("alerts dropped: the receiver is slow or down and the queue is full", "dropped", total-prev, "dropped_total", total, "queue", n.QueueSize)
}

// Stats returns the counts so far.
func (n *Notifier) Stats() Stats {
	return Stats{Sent: n.sent.Load(), Failed: n.failed.Load(), Dropped: n.dropped.Load(), Attempts: n.attempts.Load()}
}

// Close stops accepting alerts and sends those queued, until ctx ends:
// then the send in progress is abandoned and the rest are dropped
// (counted), and ctx's error is returned.
func (n *Notifier) Close(ctx context.Context) error {
	if !n.opened || n.closed.Swap(true) {
		return nil
	}
	close(n.drain)
	var err error
	select {
	case <-n.done:
	case <-ctx.Done():
		err = ctx.Err()
		n.cancel()
		<-n.done
	}
	n.cancel()
	// A Publish that raced with Close may have queued after the sender
	// stopped: count it.
	for len(n.q) > 0 {
		<-n.q
		n.dropped.Add(1)
	}
	n.Client.CloseIdleConnections()
	return err
}

func (n *Notifier) run() {
	defer close(n.done)
	for {
		select {
		case a := <-n.q:
			n.deliver(a)
		case <-n.drain:
			for {
				select {
				case a := <-n.q:
					n.deliver(a)
				default:
					return
				}
			}
		}
	}
}

// deliver sends a, retrying what may succeed later: network errors, 5xx
// and 429. A retried POST may have reached the receiver the first time;
// a duplicate alert is better than a lost one.
func (n *Notifier) deliver(a trading.Activity) {
	body, err := Body(n.target.Format, n.target.ChatID, a)
	if err != nil {
		n.failed.Add(1)
		n.Logger.Warn("alert not sent", "kind", a.Kind, "tenant", a.Tenant, "err", err)
		return
	}
	for attempt := 1; ; attempt++ {
		if n.ctx.Err() != nil {
			n.dropped.Add(1)
			return
		}
		n.attempts.Add(1)
		wait, retry, err := n.post(body)
		if err == nil {
			n.sent.Add(1)
			if n.failing.Swap(false) {
				n.Logger.Info("alert receiver answering again")
			}
			return
		}
		if n.ctx.Err() != nil {
			n.dropped.Add(1)
			return
		}
		if retry && !n.failing.Swap(true) {
			n.Logger.Warn("alert receiver failing; retrying", "max_attempts", n.MaxAttempts, "err", err)
		}
		if !retry || attempt >= n.MaxAttempts {
			n.failed.Add(1)
			n.Logger.Warn("alert dropped", "kind", a.Kind, "tenant", a.Tenant, "attempts", attempt, "err", err)
			return
		}
		if wait < 0 {
			wait = n.backoff(attempt)
		}
		n.Logger.Debug("alert not delivered; retrying", "kind", a.Kind, "tenant", a.Tenant, "attempt", attempt, "wait", wait, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-n.ctx.Done():
			t.Stop()
		}
	}
}

// backoff is MinBackoff·2^(attempt-1), at most MaxBackoff, with equal
// jitter (half fixed, half random) so that notifiers that failed together
// do not retry in lockstep.
func (n *Notifier) backoff(attempt int) time.Duration {
	d := n.MaxBackoff
	if attempt-1 < 32 {
		d = min(n.MinBackoff<<(attempt-1), n.MaxBackoff)
	}
	if d <= 0 { // overflow
		d = n.MaxBackoff
	}
	half := d / 2
	return half + rand.N(d-half+1)
}

// post makes one request. wait is the receiver's Retry-After (capped),
// or negative for the notifier's own backoff; retry says whether another
// attempt may succeed. Errors never hold the URL's secrets.
func (n *Notifier) post(body []byte) (wait time.Duration, retry bool, err error) {
	ctx, cancel := context.WithTimeout(n.ctx, n.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.target.URL, bytes.NewReader(body))
	if err != nil {
		return -1, false, n.clean(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "quantum-notify")
	resp, err := n.Client.Do(req)
	if err != nil {
		return -1, true, n.clean(err)
	}
	defer resp.Body.Close()
	// A few hundred bytes say why (Slack's "invalid_token", Telegram's
	// "chat not found"); the rest is drained so the connection is reused.
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return 0, false, nil
	}
	reply := strings.Join(strings.Fields(string(snippet)), " ")
	err = fmt.Errorf("POST %s: %s", n.redacted, resp.Status)
	if reply != "" {
		err = fmt.Errorf("%w: %s", err, n.scrub.Replace(reply))
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		wait = -1
		if d, ok := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
			wait = min(d, n.MaxRetryAfter)
		}
		return wait, true, err
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		return -1, false, fmt.Errorf("%w (redirected: configure the URL it redirects to)", err)
	}
	return -1, false, err
}

// clean rewrites a transport error so that it names the URL redacted:
// net/http quotes the whole URL, token and all.
func (n *Notifier) clean(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		ue.URL = n.redacted
	}
	return errors.New(n.scrub.Replace(err.Error()))
}

// parseRetryAfter reads Retry-After: delay seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		return time.Duration(min(secs, 1<<20)) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}
