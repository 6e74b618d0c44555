package trading_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/quantum-alpaca/quantum/trading"
)

func d(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func validIntent() trading.Intent {
	return trading.Intent{Tenant: "acme", Seq: 1, ClientOrderID: "acme-1", Symbol: "AAPL",
		Side: trading.Buy, Type: trading.Limit, TimeInForce: trading.Day, Qty: d("10"), LimitPrice: d("100")}
}

func TestIntentValidate(t *testing.T) {
	for _, tt := range []struct {
		name string
		edit func(*trading.Intent)
		ok   bool
	}{
		{"OK", func(*trading.Intent) {}, true},
		{"Notional", func(in *trading.Intent) { in.Qty, in.Notional = decimal.Zero, d("500") }, true},
		{"StopLimit", func(in *trading.Intent) { in.Type, in.StopPrice = trading.StopLimit, d("99") }, true},
		{"TrailingStop", func(in *trading.Intent) { in.Type, in.TrailPercent = trading.TrailingStop, d("1.5") }, true},
		{"NoTenant", func(in *trading.Intent) { in.Tenant = "" }, false},
		{"ControlCharTenant", func(in *trading.Intent) { in.Tenant = "a\nb" }, false},
		{"NoSeq", func(in *trading.Intent) { in.Seq = 0 }, false},
		{"SeqTooBig", func(in *trading.Intent) { in.Seq = trading.MaxSeq + 1 }, false},
		{"NoClientOrderID", func(in *trading.Intent) { in.ClientOrderID = "" }, false},
		{"NoSymbol", func(in *trading.Intent) { in.Symbol = "" }, false},
		{"BadSide", func(in *trading.Intent) { in.Side = "long" }, false},
		{"BadType", func(in *trading.Intent) { in.Type = "iceberg" }, false},
		{"BadTIF", func(in *trading.Intent) { in.TimeInForce = "forever" }, false},
		{"QtyAndNotional", func(in *trading.Intent) { in.Notional = d("5") }, false},
		{"NeitherQtyNorNotional", func(in *trading.Intent) { in.Qty = decimal.Zero }, false},
		{"NegativeQty", func(in *trading.Intent) { in.Qty, in.Notional = d("-1"), d("5") }, false},
		{"LimitWithoutPrice", func(in *trading.Intent) { in.LimitPrice = decimal.Zero }, false},
		{"StopWithoutPrice", func(in *trading.Intent) { in.Type = trading.Stop }, false},
		{"TrailingWithoutTrail", func(in *trading.Intent) { in.Type = trading.TrailingStop }, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			in := validIntent()
			tt.edit(&in)
			err := in.Validate()
			if tt.ok && err != nil {
				t.Errorf("Validate() = %v, want nil", err)
			}
			if !tt.ok && trading.ErrorCode(err) != trading.EINVALID {
				t.Errorf("Validate() = %v, want EINVALID", err)
			}
		})
	}
}

func TestEventValidate(t *testing.T) {
	in := validIntent()
	base := trading.Event{Tenant: "acme", ClientOrderID: "acme-1"}
	with := func(edit func(*trading.Event)) trading.Event { e := base; edit(&e); return e }
	for _, tt := range []struct {
		name string
		e    trading.Event
		ok   bool
	}{
		{"Intent", trading.IntentEvent(in), true},
		{"Submitted", with(func(e *trading.Event) { e.Kind = trading.EventSubmitted }), true},
		{"Ack", with(func(e *trading.Event) { e.Kind, e.Status = trading.EventAck, trading.StatusNew }), true},
		{"AckLocalStatus", with(func(e *trading.Event) { e.Kind, e.Status = trading.EventAck, trading.StatusSubmitted }), false},
		{"Fill", with(func(e *trading.Event) {
			e.Kind, e.ExecutionID, e.Qty, e.Price = trading.EventFill, "x", d("1"), d("2")
		}), true},
		{"FillNoQty", with(func(e *trading.Event) { e.Kind, e.ExecutionID, e.Price = trading.EventFill, "x", d("2") }), false},
		{"FillBadStatus", with(func(e *trading.Event) {
			e.Kind, e.ExecutionID, e.Qty, e.Price, e.Status = trading.EventFill, "x", d("1"), d("2"), trading.StatusNew
		}), false},
		{"CancelExpired", with(func(e *trading.Event) { e.Kind, e.Status = trading.EventCancel, trading.StatusExpired }), true},
		{"CancelFilled", with(func(e *trading.Event) { e.Kind, e.Status = trading.EventCancel, trading.StatusFilled }), false},
		{"RejectNoReason", with(func(e *trading.Event) { e.Kind = trading.EventReject }), false},
		{"RiskRejected", with(func(e *trading.Event) { e.Kind, e.Reason, e.Intent = trading.EventRiskRejected, "limit", &in }), true},
		{"AckWithIntent", with(func(e *trading.Event) { e.Kind, e.Status, e.Intent = trading.EventAck, trading.StatusNew, &in }), false},
		{"ReconciledNoStatus", with(func(e *trading.Event) { e.Kind = trading.EventReconciled }), false},
		{"UnknownStatus", with(func(e *trading.Event) { e.Kind, e.Status = trading.EventAck, "bogus" }), false},
		{"NoKind", base, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.e.Validate()
			if tt.ok && err != nil {
				t.Errorf("Validate() = %v, want nil", err)
			}
			if !tt.ok && trading.ErrorCode(err) != trading.EINVALID {
				t.Errorf("Validate() = %v, want EINVALID", err)
			}
		})
	}
}

func TestOrderStateApply(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ev := func(kind trading.EventKind, status trading.OrderStatus) trading.Event {
		return trading.Event{Kind: kind, Status: status}
	}
	fill := func(qty, price string) trading.Event {
		return trading.Event{Kind: trading.EventFill, ExecutionID: "x", Qty: d(qty), Price: d(price)}
	}
	for _, tt := range []struct {
		name     string
		events   []trading.Event
		want     trading.OrderStatus
		filled   string
		avgPrice string
	}{
		{"Intent", nil, trading.StatusIntent, "0", "0"},
		{"Submitted", []trading.Event{ev(trading.EventSubmitted, "")}, trading.StatusSubmitted, "0", "0"},
		{"Acked", []trading.Event{ev(trading.EventSubmitted, ""), ev(trading.EventAck, trading.StatusAccepted)}, trading.StatusAccepted, "0", "0"},
		{"PartialFill", []trading.Event{fill("4", "10")}, trading.StatusPartiallyFilled, "4", "10"},
		{"FullFill", []trading.Event{fill("4", "10"), fill("6", "11")}, trading.StatusFilled, "10", "10.6"},
		{"RepeatingDecimalAvg", []trading.Event{fill("1", "1"), fill("2", "2")}, trading.StatusPartiallyFilled, "3", "1.6666666667"},
		{"AckAfterFillKeepsFill", []trading.Event{fill("4", "10"), ev(trading.EventAck, trading.StatusNew)}, trading.StatusPartiallyFilled, "4", "10"},
		{"TerminalIsFinal", []trading.Event{ev(trading.EventCancel, ""), ev(trading.EventAck, trading.StatusNew)}, trading.StatusCanceled, "0", "0"},
		{"LateFillCountsOnTerminal", []trading.Event{ev(trading.EventCancel, ""), fill("2", "5")}, trading.StatusCanceled, "2", "5"},
		{"UnknownOnlyBeforeAck", []trading.Event{ev(trading.EventAck, trading.StatusNew), ev(trading.EventUnknown, "")}, trading.StatusNew, "0", "0"},
		{"UnknownThenResubmit", []trading.Event{ev(trading.EventUnknown, ""), ev(trading.EventSubmitted, "")}, trading.StatusSubmitted, "0", "0"},
		{"ReconciledNotFound", []trading.Event{ev(trading.EventUnknown, ""), ev(trading.EventReconciled, trading.StatusIntent)}, trading.StatusIntent, "0", "0"},
		{"ReconciledIsAuthoritative", []trading.Event{fill("4", "10"), {Kind: trading.EventReconciled, Status: trading.StatusFilled, CumQty: d("10"), Price: d("10.5")}}, trading.StatusFilled, "10", "10.5"},
		{"ExplicitFillStatus", []trading.Event{{Kind: trading.EventFill, ExecutionID: "x", Qty: d("1"), Price: d("1"), Status: trading.StatusFilled}}, trading.StatusFilled, "1", "1"},
		{"Reject", []trading.Event{{Kind: trading.EventReject, Reason: "no buying power"}}, trading.StatusRejected, "0", "0"},
		{"RiskRejected", []trading.Event{{Kind: trading.EventRiskRejected, Reason: "kill switch"}}, trading.StatusRiskRejected, "0", "0"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st := trading.NewOrderState(validIntent(), at)
			for i, e := range tt.events {
				e.ID = uint64(i + 2)
				st.Apply(e)
			}
			if st.Status != tt.want || st.Terminal != tt.want.Terminal() {
				t.Errorf("status %q terminal %v, want %q terminal %v", st.Status, st.Terminal, tt.want, tt.want.Terminal())
			}
			if !st.FilledQty.Equal(d(tt.filled)) || !st.FilledAvgPrice.Equal(d(tt.avgPrice)) {
				t.Errorf("filled %s @ %s, want %s @ %s", st.FilledQty, st.FilledAvgPrice, tt.filled, tt.avgPrice)
			}
			if want := uint64(len(tt.events) + 1); len(tt.events) > 0 && st.LastEventID != want {
				t.Errorf("LastEventID = %d, want %d", st.LastEventID, want)
			}
		})
	}
}

func TestErrorCode(t *testing.T) {
	for _, tt := range []struct {
		err        error
		code, text string
	}{
		{nil, "", ""},
		{trading.Errorf(trading.ECONFLICT, "dup %d", 1), trading.ECONFLICT, "dup 1"},
		{fmt.Errorf("append: %w", trading.Errorf(trading.ENOTFOUND, "gone")), trading.ENOTFOUND, "gone"},
		{errors.New("disk on fire"), trading.EINTERNAL, "Internal error."},
	} {
		if got := trading.ErrorCode(tt.err); got != tt.code {
			t.Errorf("ErrorCode(%v) = %q, want %q", tt.err, got, tt.code)
		}
		if got := trading.ErrorMessage(tt.err); got != tt.text {
			t.Errorf("ErrorMessage(%v) = %q, want %q", tt.err, got, tt.text)
		}
	}
}
