package alpaca

import (
	"encoding/json"
	"os"
	"reflect"
	"testing"
)

func orderSeeds(tb testing.TB) [][]byte {
	seeds := [][]byte{
		[]byte(`{"id":"7d3b1f4e-6a55-4c1e-9a53-0f2d8c1b2a3e","client_order_id":"t1-42","created_at":"2026-11-23T15:01:02.123456789Z","updated_at":null,"submitted_at":"2026-11-23T15:01:02.1Z","filled_at":null,"expired_at":null,"canceled_at":null,"failed_at":null,"replaced_at":null,"replaced_by":null,"replaces":"x","asset_id":"b0b6dd9d","symbol":"AAPL","asset_class":"us_equity","notional":null,"qty":"10","filled_qty":"0","filled_avg_price":null,"order_class":"","order_type":"limit","type":"limit","side":"buy","time_in_force":"day","limit_price":"180.5","stop_price":null,"status":"new","extended_hours":false,"legs":null,"trail_percent":null,"trail_price":null,"hwm":null,"subtag":null,"source":null}`),
		[]byte(`[{"id":"a","legs":[{"id":"b","qty":"1"},{"id":"c","status":"held"}]},{"id":"d","expires_at":"2027-02-21T21:15:00-05:00"}]`),
		[]byte(`[]`),
		[]byte(`{"id":"a","qty":1}`),
		[]byte(`{"id":"a","ID":"b"}`),
		[]byte(`{"filled_qty":null}`),
		[]byte(`{"created_at":"2026-13-01T00:00:00Z"}`),
		[]byte(`{"symbol":"A\u0041"}`),
		[]byte(`{"unknown":{"x":[1,2]}}`),
		[]byte(`{"legs":[]}`),
		[]byte(`null`),
	}
	for _, f := range []string{"testdata/order.json", "testdata/order_filled.json"} {
		if b, err := os.ReadFile(f); err == nil {
			seeds = append(seeds, b)
		}
	}
	return seeds
}

// The scanner must decode exactly what encoding/json decodes, and leave
// to it everything it is not sure of.
func FuzzDecodeOrderReply(f *testing.F) {
	for _, s := range orderSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var fast, slow Order
		errFast := decodeReply(data, &fast)
		errSlow := json.Unmarshal(data, &slow)
		if (errFast == nil) != (errSlow == nil) || !reflect.DeepEqual(fast, slow) {
			t.Fatalf("order %q:\nfast %+v %v\nslow %+v %v", data, fast, errFast, slow, errSlow)
		}
		var fastList, slowList []Order
		errFast = decodeReply(data, &fastList)
		errSlow = json.Unmarshal(data, &slowList)
		if (errFast == nil) != (errSlow == nil) || !reflect.DeepEqual(fastList, slowList) {
			t.Fatalf("orders %q:\nfast %+v %v\nslow %+v %v", data, fastList, errFast, slowList, errSlow)
		}
	})
}

func BenchmarkDecodeOrderReply(b *testing.B) {
	data := orderSeeds(b)[0]
	b.Run("scanner", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var o Order
			_ = decodeReply(data, &o)
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var o Order
			_ = json.Unmarshal(data, &o)
		}
	})
}
