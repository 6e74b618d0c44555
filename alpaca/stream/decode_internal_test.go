package stream

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

// Internal because the frame decoder is private; the end-to-end decode
// paths are covered black-box in marketdata_test.go, and the condition
// list scanner in package jsonscan.

func TestWSDecodeEscapedConditionsFallBack(t *testing.T) {
	var d mdDecoder
	msgs, err := d.decode([]byte(`[{"T":"t","S":"X","c":["a\"b","\u0040"],"t":"2026-01-05T15:00:00Z"}]`))
	if err != nil {
		t.Fatal(err)
	}
	if got := msgs[0].C.conds; !slices.Equal(got, []string{`a"b`, "@"}) {
		t.Errorf("conditions: got %q", got)
	}
}

func TestWSDecodeReuseDoesNotLeakFields(t *testing.T) {
	var d mdDecoder
	if _, err := d.decode([]byte(`[{"T":"q","S":"A","bp":1.5,"c":["R"]},{"T":"b","S":"B","c":2.5}]`)); err != nil {
		t.Fatal(err)
	}
	msgs, err := d.decode([]byte(`[{"T":"q","S":"C"}]`))
	if err != nil {
		t.Fatal(err)
	}
	if m := msgs[0]; m.BP != 0 || m.C.conds != nil {
		t.Errorf("fields from the previous frame leaked: %+v", m)
	}
	b, _ := msgpack.Marshal([]map[string]any{{"T": "q", "S": "D"}})
	if msgs, err = d.decode(b); err != nil || msgs[0].S != "D" || msgs[0].BP != 0 {
		t.Errorf("msgpack after json: got %+v, %v", msgs, err)
	}
}

func quoteBatch(n int, tm any) []map[string]any {
	out := make([]map[string]any, n)
	for i := range out {
		out[i] = map[string]any{
			"T": "q", "S": fmt.Sprintf("SYM%d", i%20),
			"bx": "V", "bp": 100.25 + float64(i)/100, "bs": 3,
			"ax": "V", "ap": 100.35 + float64(i)/100, "as": 2,
			"c": []string{"R"}, "z": "C", "t": tm,
		}
	}
	return out
}

// benchmarkDecode decodes frame and maps each message with to (a
// stream's toMessage or toCryptoMessage), as the stream does.
func benchmarkDecode[M any](b *testing.B, frame []byte, to func(*mdWire) (M, bool)) {
	var d mdDecoder
	var sink M
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		msgs, err := d.decode(frame)
		if err != nil {
			b.Fatal(err)
		}
		for i := range msgs {
			sink, _ = to(&msgs[i])
		}
	}
	_ = sink
}

func BenchmarkWSDecode100QuotesJSON(b *testing.B) {
	frame, _ := json.Marshal(quoteBatch(100, "2026-01-05T15:00:01.123456789Z"))
	benchmarkDecode(b, frame, (*mdWire).toMessage)
}

func BenchmarkWSDecode100QuotesMsgpack(b *testing.B) {
	frame, _ := msgpack.Marshal(quoteBatch(100, time.Date(2026, 1, 5, 15, 0, 1, 123456789, time.UTC)))
	benchmarkDecode(b, frame, (*mdWire).toMessage)
}

func BenchmarkWSDecode100QuotesMsgpackStringTime(b *testing.B) {
	frame, _ := msgpack.Marshal(quoteBatch(100, "2026-01-05T15:00:01.123456789Z"))
	benchmarkDecode(b, frame, (*mdWire).toMessage)
}

// The crypto stream shares the decoder: its fractional sizes cost what a
// stock's whole ones do.
func BenchmarkWSDecode100CryptoTradesJSON(b *testing.B) {
	batch := make([]map[string]any, 100)
	for i := range batch {
		batch[i] = map[string]any{"T": "t", "S": "BTC/USD", "p": 97012.5 + float64(i), "s": 0.0123 + float64(i)/1e4,
			"t": "2026-01-05T15:00:01.123456789Z", "i": 7000 + i, "tks": "B"}
	}
	frame, _ := json.Marshal(batch)
	benchmarkDecode(b, frame, (*mdWire).toCryptoMessage)
}

// An order book's cost, for comparison with the kinds above: its level
// slices are the message's own, one allocation per side.
func BenchmarkWSDecode100CryptoOrderbooksMsgpack(b *testing.B) {
	batch := make([]map[string]any, 100)
	for i := range batch {
		lv := func(p float64) []map[string]any {
			return []map[string]any{{"p": p, "s": 0.5}, {"p": p + 1, "s": 1.25}, {"p": p + 2, "s": 0}}
		}
		batch[i] = map[string]any{"T": "o", "S": "BTC/USD", "t": time.Date(2026, 1, 5, 15, 0, 1, 0, time.UTC),
			"b": lv(97000 - float64(i)), "a": lv(97010 + float64(i)), "r": i == 0}
	}
	frame, _ := msgpack.Marshal(batch)
	benchmarkDecode(b, frame, (*mdWire).toCryptoMessage)
}
