package sim

import (
	"bytes"
	"encoding/json"
	"io"
	"reflect"
	"testing"
)

func slowOrderBody(data []byte, body *orderBody) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(body); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errTrailingData
	}
	return nil
}

var orderBodySeeds = []string{
	`{"symbol":"AAPL","qty":"1","side":"buy","type":"market","time_in_force":"day","client_order_id":"st0123456789-17-421"}`,
	`{"symbol":"AAPL","qty":1.5,"side":"sell","type":"limit","limit_price":"230.17","time_in_force":"gtc","extended_hours":true}`,
	`{"symbol":"AAPL","qty":null,"notional":"100","side":"buy","type":"market","time_in_force":"day","limit_price":null,"stop_price":null,"trail_price":null,"trail_percent":null,"extended_hours":false,"client_order_id":"","order_class":"","take_profit":null,"stop_loss":null,"legs":null}`,
	` { "symbol" : "MSFT" , "qty" : "2" } `,
	`{}`,
	`{"symbol":"AAPL","qty":"x"}`,
	`{"symbol":"AAPL","qty":""}`,
	`{"symbol":"A\u0041PL"}`,
	`{"symbol":"AAPL","colour":"red"}`,
	`{"symbol":"AAPL"} {}`,
	`{"symbol":"AAPL","take_profit":{"limit_price":"1"}}`,
	`{"qty":1e400}`,
	`{"qty":-0}`,
	`{"qty":01}`,
	`{"extended_hours":"true"}`,
	`{"side":null,"qty":"1",}`,
}

// The fast path must decode exactly what encoding/json decodes, and give
// up (leaving the case to encoding/json) whenever it is unsure.
func FuzzOrderBodyDecoders(f *testing.F) {
	for _, s := range orderBodySeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var fast, slow orderBody
		if !fastOrderBody(data, &fast) {
			return
		}
		if err := slowOrderBody(data, &slow); err != nil {
			t.Fatalf("fast path accepted %q, encoding/json says %v", data, err)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("%q:\nfast %+v\nslow %+v", data, fast, slow)
		}
	})
}

func BenchmarkDecodeOrderBody(b *testing.B) {
	data := []byte(orderBodySeeds[0])
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var body orderBody
			_ = decodeOrderBody(data, &body)
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var body orderBody
			_ = slowOrderBody(data, &body)
		}
	})
}
