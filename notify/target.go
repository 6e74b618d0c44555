// Package notify sends the engine's activity to webhooks: Slack, Discord,
// Telegram, or any receiver that takes a JSON object. A Notifier per
// target queues what it is given and posts it from a goroutine of its
// own, so trading never waits on a chat service: a full queue drops the
// alert (counted), a failing receiver is retried a bounded number of
// times. Webhook URLs carry their credentials, so every log line and
// error shows them through Redact.
package notify

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/quantum-alpaca/quantum/trading"
)

// Format is how a notification's body is written.
type Format string

// Formats.
const (
	// FormatJSON posts the activity as a JSON object with snake_case
	// fields and a "text" line.
	FormatJSON Format = "json"
	// FormatSlack posts {"text": ...} to an incoming webhook.
	FormatSlack Format = "slack"
	// FormatDiscord posts {"content": ...} to a channel webhook.
	FormatDiscord Format = "discord"
	// FormatTelegram posts {"chat_id": ..., "text": ...} to a bot's
	// sendMessage URL, https://api.telegram.org/bot<token>/sendMessage.
	FormatTelegram Format = "telegram"
)

// Formats lists every format, for error messages and docs.
var Formats = []Format{FormatJSON, FormatSlack, FormatDiscord, FormatTelegram}

// Kinds lists every activity kind a target may ask for.
var Kinds = []trading.ActivityKind{
	trading.ActivityOrder, trading.ActivityFill, trading.ActivityRiskRejected, trading.ActivityRejected,
	trading.ActivityCanceled, trading.ActivityUnknown, trading.ActivityState, trading.ActivityFailed,
	trading.ActivityRecovered, trading.ActivityBreaker, trading.ActivityEngineStart, trading.ActivityEngineStop,
}

// DefaultEvents is what a target without events hears: everything an
// operator has to act on or know about, but not the routine traffic
// (orders, fills, cancels), which a busy fleet produces faster than a
// chat webhook accepts (Slack takes about one message a second).
var DefaultEvents = []trading.ActivityKind{
	trading.ActivityRiskRejected, trading.ActivityRejected, trading.ActivityUnknown, trading.ActivityState,
	trading.ActivityFailed, trading.ActivityRecovered, trading.ActivityBreaker,
	trading.ActivityEngineStart, trading.ActivityEngineStop,
}

// Target is where alerts go and which ones.
type Target struct {
	// URL is the webhook; it holds the receiver's credentials.
	URL string
	// Format defaults to FormatJSON.
	Format Format
	// Events are the kinds sent; empty means DefaultEvents.
	Events []trading.ActivityKind
	// Tenants, when not empty, limits the tenant activities sent to these
	// tenants. Activities of no tenant (engine start and stop) concern
	// them all and are always sent.
	Tenants []trading.TenantID
	// ChatID is the Telegram chat (required with FormatTelegram only).
	ChatID string
}

// TargetError names the Target field that is wrong. Value is never a
// secret: a URL is shown redacted.
type TargetError struct {
	Field string // url, format, events, tenants, chat_id
	Value string
	Err   error
}

// Error implements error.
func (e *TargetError) Error() string {
	if e.Value == "" {
		return fmt.Sprintf("notify: %s: %v", e.Field, e.Err)
	}
	return fmt.Sprintf("notify: %s: %q: %v", e.Field, e.Value, e.Err)
}

// Unwrap returns the cause.
func (e *TargetError) Unwrap() error { return e.Err }

// Validate checks t without the network, returning a *TargetError.
func (t Target) Validate() error {
	bad := func(field, value string, err error) error { return &TargetError{Field: field, Value: value, Err: err} }
	if t.URL == "" {
		return bad("url", "", errors.New("required"))
	}
	u, err := url.Parse(t.URL)
	if err != nil {
		// url.Parse quotes the whole URL in its error: say only what is
		// wrong with it.
		return bad("url", "", errors.New("not a URL"))
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return bad("url", Redact(t.URL), errors.New("want an http(s) URL"))
	}
	switch t.format() {
	case FormatJSON, FormatSlack, FormatDiscord:
		if t.ChatID != "" {
			return bad("chat_id", t.ChatID, errors.New("only for format telegram"))
		}
	case FormatTelegram:
		if strings.TrimSpace(t.ChatID) == "" {
			return bad("chat_id", "", errors.New("required with format telegram"))
		}
	default:
		return bad("format", string(t.Format), fmt.Errorf("unknown format (want one of %s)", join(Formats)))
	}
	for _, k := range t.Events {
		if !slices.Contains(Kinds, k) {
			return bad("events", string(k), fmt.Errorf("unknown event (want some of %s)", join(Kinds)))
		}
	}
	for _, id := range t.Tenants {
		if err := id.Validate(); err != nil {
			return bad("tenants", string(id), errors.New(trading.ErrorMessage(err)))
		}
	}
	return nil
}

func (t Target) format() Format {
	if t.Format == "" {
		return FormatJSON
	}
	return t.Format
}

func join[S ~string](xs []S) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = string(x)
	}
	return strings.Join(s, ", ")
}

// Redact returns u with its credentials hidden, for logs and errors:
// webhook services put their token in the path (Slack, Discord,
// Telegram's bot<token>), others in the query or the user info, so only
// the scheme and host are kept and anything after them shows as "…".
func Redact(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.Scheme == "" || p.Host == "" {
		return "(invalid URL)"
	}
	s := p.Scheme + "://" + p.Host
	if p.User != nil || (p.Path != "" && p.Path != "/") || p.RawQuery != "" || p.Fragment != "" || p.Opaque != "" {
		s += "/…"
	}
	return s
}

// secrets returns the parts of u that may be credentials, for scrubbing
// free text (a receiver's error reply, a transport error) that might
// quote them: the URL itself, its user info, query values, and the path
// segments that look like tokens rather than words.
func secrets(u string) []string {
	out := []string{u}
	p, err := url.Parse(u)
	if err != nil {
		return out
	}
	out = append(out, p.String())
	if p.User != nil {
		out = append(out, p.User.String())
		if pw, ok := p.User.Password(); ok {
			out = append(out, pw)
		}
	}
	for _, vs := range p.Query() {
		out = append(out, vs...)
	}
	for seg := range strings.SplitSeq(p.Path, "/") {
		if len(seg) >= 16 || (len(seg) >= 4 && strings.ContainsAny(seg, "0123456789:_-")) {
			out = append(out, seg)
			if strings.HasPrefix(seg, "bot") {
				out = append(out, seg[3:]) // Telegram's token without its prefix
			}
		}
	}
	// Longest first, so a URL is replaced whole before its parts are.
	slices.SortFunc(out, func(a, b string) int { return len(b) - len(a) })
	return slices.DeleteFunc(out, func(s string) bool { return len(s) < 4 })
}
