package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/quantum-alpaca/quantum/engine"
	"github.com/quantum-alpaca/quantum/notify"
	"github.com/quantum-alpaca/quantum/trading"
)

// NotifyConfig is one alert target in the config file's notify: list.
type NotifyConfig struct {
	// URL is the webhook. It holds the receiver's token, so ${NAME} in it
	// is replaced from the environment and it is only ever shown
	// redacted.
	URL string `yaml:"url"`
	// Format is json (the default), slack, discord or telegram.
	Format string `yaml:"format"`
	// Events are the activity kinds sent; empty means
	// notify.DefaultEvents (all but order, fill and canceled).
	Events []string `yaml:"events"`
	// Tenants, when set, limits tenant alerts to these tenants.
	Tenants []string `yaml:"tenants"`
	// ChatID is the Telegram chat (telegram only); ${NAME} is replaced.
	ChatID string `yaml:"chat_id"`

	url, chatID string // after ${NAME} expansion
	unsetEnv    string // a ${NAME} in URL that the environment lacks
	target      notify.Target
}

// expandNotify replaces ${NAME} in the notify targets, remembering a name
// the environment lacks: a webhook URL without its token would fail only
// when the first alert is due.
func (c *Config) expandNotify(getenv func(string) string) {
	for i := range c.Notify {
		n := &c.Notify[i]
		n.url = expandEnv(n.URL, getenv)
		n.chatID = expandEnv(n.ChatID, getenv)
		for _, m := range envRef.FindAllStringSubmatch(n.URL+" "+n.ChatID, -1) {
			if getenv(m[1]) == "" && n.unsetEnv == "" {
				n.unsetEnv = m[1]
			}
		}
	}
}

// validateNotify checks the notify targets, naming the field that is
// wrong; a URL is never quoted but redacted.
func (c *Config) validateNotify() error {
	tenants := map[string]bool{}
	for _, t := range c.Tenants {
		tenants[t.ID] = true
	}
	for i := range c.Notify {
		n := &c.Notify[i]
		field := func(name string) string { return fmt.Sprintf("notify[%d].%s", i, name) }
		if n.unsetEnv != "" {
			return &ConfigValidationError{Field: field("url"), Err: fmt.Errorf("environment variable %s is empty or unset", n.unsetEnv)}
		}
		t := notify.Target{URL: n.url, Format: notify.Format(strings.ToLower(n.Format)), ChatID: n.chatID}
		for _, e := range n.Events {
			t.Events = append(t.Events, trading.ActivityKind(e))
		}
		for _, id := range n.Tenants {
			if !tenants[id] {
				return &ConfigValidationError{Field: field("tenants"), Value: id, Err: errors.New("not a tenant of this config")}
			}
			t.Tenants = append(t.Tenants, trading.TenantID(id))
		}
		if err := t.Validate(); err != nil {
			var te *notify.TargetError
			if errors.As(err, &te) {
				return &ConfigValidationError{Field: field(te.Field), Value: te.Value, Err: te.Err}
			}
			return &ConfigValidationError{Field: field("url"), Err: err}
		}
		n.target = t
	}
	return nil
}

// alertsFlush bounds how long shutdown waits for queued alerts (the
// engine's stop among them) to reach a receiver that is slow or down.
const alertsFlush = 5 * time.Second

// alerts feeds the engine's activity to the notify targets.
type alerts struct {
	acts  *engine.Activities
	sub   *engine.ActivitySub
	ns    []*notify.Notifier
	log   *slog.Logger
	stopc chan struct{}
	done  chan struct{}
}

// startAlerts subscribes to acts and starts a notifier per target; nil
// without targets. Call it before the engine opens, so that its start is
// heard, and stop it after the engine has closed, so that its stop is.
func startAlerts(targets []NotifyConfig, acts *engine.Activities, log *slog.Logger) (*alerts, error) {
	if len(targets) == 0 {
		return nil, nil
	}
	a := &alerts{acts: acts, log: log.With("system", "notify"), stopc: make(chan struct{}), done: make(chan struct{})}
	for _, t := range targets {
		n, err := notify.New(t.target)
		if err != nil {
			a.closeNotifiers()
			return nil, err
		}
		n.Logger = a.log
		if err := n.Open(); err != nil {
			a.closeNotifiers()
			return nil, err
		}
		a.ns = append(a.ns, n)
		events := "default"
		if len(t.Events) > 0 {
			events = strings.Join(t.Events, ",")
		}
		a.log.Info("alerts on", "target", n.Target(), "format", string(t.target.Format), "events", events)
	}
	a.sub = acts.Subscribe(0)
	go a.run()
	return a, nil
}

func (a *alerts) run() {
	defer close(a.done)
	for {
		select {
		case act := <-a.sub.C():
			a.publish(act)
		case <-a.stopc:
			for {
				select {
				case act := <-a.sub.C():
					a.publish(act)
				default:
					return
				}
			}
		}
	}
}

func (a *alerts) publish(act trading.Activity) {
	for _, n := range a.ns {
		n.Publish(act) // never blocks; a full queue counts the drop
	}
}

// stop hands the last activities to the notifiers and gives them
// alertsFlush to deliver what is queued.
func (a *alerts) stop() {
	if a == nil {
		return
	}
	a.acts.Unsubscribe(a.sub)
	close(a.stopc)
	<-a.done
	if d := a.sub.Dropped(); d > 0 {
		a.log.Warn("alerts missed: the notifiers fell behind the engine", "missed", d)
	}
	a.closeNotifiers()
}

func (a *alerts) closeNotifiers() {
	ctx, cancel := context.WithTimeout(context.Background(), alertsFlush)
	defer cancel()
	var wg sync.WaitGroup
	for _, n := range a.ns {
		wg.Go(func() {
			err := n.Close(ctx)
			s := n.Stats()
			attrs := []any{"target", n.Target(), "sent", s.Sent, "failed", s.Failed, "dropped", s.Dropped}
			switch {
			case err != nil:
				a.log.Warn("alerts still queued at shutdown were dropped", append(attrs, "flush", alertsFlush)...)
			case s.Failed+s.Dropped > 0:
				a.log.Warn("some alerts were not delivered", attrs...)
			default:
				a.log.Info("alerts delivered", attrs...)
			}
		})
	}
	wg.Wait()
}
