package notify

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/quantum-alpaca/quantum/trading"
)

// maxText bounds a message: Discord refuses content over 2,000
// characters, and a longer alert is a log, not an alert.
const maxText = 1500

// Text is the one-line human description of a that chat formats send,
// such as "t1: fill buy 1 AAPL @ 187.2 (t1-0001)" or
// "t1: risk rejected buy 5 MSFT (t1-0002): trading state is HALTED".
func Text(a trading.Activity) string {
	var b strings.Builder
	if a.Tenant != "" {
		b.WriteString(string(a.Tenant))
		b.WriteString(": ")
	}
	order := func() {
		b.WriteString(string(a.Side))
		switch {
		case !a.Qty.IsZero():
			b.WriteString(" " + a.Qty.String() + " " + a.Symbol)
		case !a.Notional.IsZero():
			b.WriteString(" $" + a.Notional.String() + " of " + a.Symbol)
		default:
			b.WriteString(" " + a.Symbol)
		}
		if a.Kind == trading.ActivityFill && !a.Price.IsZero() {
			b.WriteString(" @ " + a.Price.String())
		} else if a.Type != "" && a.Type != trading.Market {
			b.WriteString(" " + string(a.Type))
			if !a.Price.IsZero() {
				b.WriteString(" " + a.Price.String())
			}
		}
		if a.ClientOrderID != "" {
			b.WriteString(" (" + a.ClientOrderID + ")")
		}
	}
	reason := func() {
		if a.Reason != "" {
			b.WriteString(": " + a.Reason)
		}
	}
	switch a.Kind {
	case trading.ActivityOrder:
		b.WriteString("order ")
		order()
		reason()
	case trading.ActivityFill:
		b.WriteString("fill ")
		order()
	case trading.ActivityRiskRejected:
		b.WriteString("risk rejected ")
		order()
		reason()
	case trading.ActivityRejected:
		b.WriteString("broker rejected ")
		order()
		reason()
	case trading.ActivityCanceled:
		st := string(a.Status) // canceled or expired
		if st == "" {
			st = "canceled"
		}
		b.WriteString(st + " ")
		order()
		reason()
	case trading.ActivityUnknown:
		b.WriteString("outcome unknown (reconciling with the broker) ")
		order()
		reason()
	case trading.ActivityState:
		b.WriteString("trading state " + string(a.State))
		reason()
	case trading.ActivityFailed:
		b.WriteString("tenant failed")
		reason()
	case trading.ActivityRecovered:
		b.WriteString("tenant recovered")
		reason()
	case trading.ActivityBreaker:
		b.WriteString("circuit breaker open")
		reason()
	case trading.ActivityEngineStart:
		b.WriteString("engine started")
		if a.Reason != "" {
			b.WriteString(" (" + a.Reason + ")")
		}
	case trading.ActivityEngineStop:
		b.WriteString("engine stopped")
		reason()
	default:
		b.WriteString(string(a.Kind))
		reason()
	}
	return truncate(b.String(), maxText)
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// Activity is the body of FormatJSON: an activity with snake_case
// fields, amounts as decimal strings, and the Text line.
type Activity struct {
	Time          time.Time            `json:"time"`
	Kind          trading.ActivityKind `json:"kind"`
	Tenant        trading.TenantID     `json:"tenant,omitempty"`
	ClientOrderID string               `json:"client_order_id,omitempty"`
	Symbol        string               `json:"symbol,omitempty"`
	Side          trading.Side         `json:"side,omitempty"`
	Type          trading.OrderType    `json:"type,omitempty"`
	Qty           string               `json:"qty,omitempty"`
	Notional      string               `json:"notional,omitempty"`
	Price         string               `json:"price,omitempty"`
	Status        trading.OrderStatus  `json:"status,omitempty"`
	State         trading.TradingState `json:"state,omitempty"`
	Reason        string               `json:"reason,omitempty"`
	Text          string               `json:"text"`
}

func amount(d decimal.Decimal) string {
	if d.IsZero() {
		return ""
	}
	return d.String()
}

// slackEscaper escapes what Slack reads as markup: a reason holding
// "<!channel>" must not page a whole channel.
var slackEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// Body returns the request body that f sends for a; chatID is used by
// FormatTelegram only.
func Body(f Format, chatID string, a trading.Activity) ([]byte, error) {
	text := Text(a)
	switch f {
	case FormatSlack:
		return json.Marshal(struct {
			Text string `json:"text"`
		}{slackEscaper.Replace(text)})
	case FormatDiscord:
		// No mentions: a reason holding "@everyone" must not ping anyone.
		type mentions struct {
			Parse []string `json:"parse"`
		}
		return json.Marshal(struct {
			Content         string   `json:"content"`
			AllowedMentions mentions `json:"allowed_mentions"`
		}{text, mentions{Parse: []string{}}})
	case FormatTelegram:
		// Plain text (no parse_mode): symbols and reasons are not markup.
		return json.Marshal(struct {
			ChatID string `json:"chat_id"`
			Text   string `json:"text"`
		}{chatID, text})
	default:
		return json.Marshal(Activity{
			Time: a.Time.UTC(), Kind: a.Kind, Tenant: a.Tenant, ClientOrderID: a.ClientOrderID,
			Symbol: a.Symbol, Side: a.Side, Type: a.Type,
			Qty: amount(a.Qty), Notional: amount(a.Notional), Price: amount(a.Price),
			Status: a.Status, State: a.State, Reason: a.Reason, Text: text,
		})
	}
}
