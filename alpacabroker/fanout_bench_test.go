package alpacabroker_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/quantum-alpaca/quantum/alpaca"
	"github.com/quantum-alpaca/quantum/alpacabroker"
	"github.com/quantum-alpaca/quantum/internal/simtest"
	"github.com/quantum-alpaca/quantum/sim"
)

// fanOutAccounts is how many accounts the benchmark's events are spread
// over, and fanOutShards how many engines share them: a consuming engine
// owns one shard, as Engine.Owners gives each node its part.
const (
	fanOutAccounts = 1000
	fanOutShards   = 4
)

// BenchmarkFirmFanOut measures the two ways issue 12 offers for several
// engines to share one firm's trade-event stream, per event:
//
//   - SSERead: every engine reads the firm's stream itself. The cost is
//     the firm stream's reader (alpacabroker.Firm.Run: SSE parse, JSON
//     decode, duplicate check, route), paid by every engine for every
//     event of the firm, its own or not.
//   - JetStreamPublish: one engine reads the stream and republishes each
//     event to a JetStream subject per shard, waiting for the store's
//     acknowledgement (it must not advance its resume point before): the
//     reader's extra cost per event, on top of SSERead.
//   - JetStreamConsume: a consuming engine reads its shard (a quarter of
//     the events) through an ordered consumer and decodes them: its cost
//     per event it owns.
//   - JetStreamHop: the latency the hop adds, at a steady 2,000 events/s
//     (p50-ms, p99-ms), publish to decoded.
//
// The events are a real fill event captured from the paper broker, given
// an account id of fanOutAccounts and increasing event ids. JetStream
// parts need QUANTUM_TEST_NATS_URL (JetStream enabled); they create a
// file-backed stream of their own and delete it.
//
//	QUANTUM_TEST_NATS_URL=nats://127.0.0.1:4222 go test -run '^$' -bench FirmFanOut -benchtime 200000x ./alpacabroker
func BenchmarkFirmFanOut(b *testing.B) {
	tmpl := fillEvent(b)
	b.Run("SSERead", func(b *testing.B) { benchSSERead(b, tmpl) })
	url := os.Getenv("QUANTUM_TEST_NATS_URL")
	for _, c := range []struct {
		name string
		f    func(*testing.B, jetstream.JetStream, string, *eventGen)
	}{{"JetStreamPublish", benchPublish}, {"JetStreamConsume", benchConsume}, {"JetStreamHop", benchHop}} {
		b.Run(c.name, func(b *testing.B) {
			if url == "" {
				b.Skip("QUANTUM_TEST_NATS_URL is not set (a NATS server with JetStream, e.g. nats://127.0.0.1:4222)")
			}
			js, subj := benchStream(b, url)
			c.f(b, js, subj, newEventGen(tmpl))
		})
	}
}

// fillEvent returns the JSON of one fill event read from the paper
// broker's trade-event stream, as a firm's stream carries it (with an
// account_id).
func fillEvent(tb testing.TB) []byte {
	tb.Helper()
	srv := simtest.Start(tb, sim.Config{Seed: 31})
	do := func(ctx context.Context, method, path, body string) *http.Response {
		req, err := http.NewRequestWithContext(ctx, method, srv.URL+path, strings.NewReader(body))
		if err != nil {
			tb.Fatal(err)
		}
		req.Header.Set("APCA-API-KEY-ID", "PKFANOUTBENCH")
		req.Header.Set("APCA-API-SECRET-KEY", "fan-out-bench-secret-0123456789")
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			tb.Fatal(err)
		}
		return resp
	}
	since := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	resp := do(context.Background(), http.MethodPost, "/v2/orders", `{"symbol":"AAPL","qty":"3","side":"buy","type":"market","time_in_force":"day"}`)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("place order: %s", resp.Status)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	resp = do(ctx, http.MethodGet, "/v2/events/trades?since="+since, "")
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		data, ok := bytes.CutPrefix(sc.Bytes(), []byte("data: "))
		if !ok || !bytes.Contains(data, []byte(`"event":"fill"`)) {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			tb.Fatal(err)
		}
		m["account_id"] = "00000000-0000-4000-8000-000000000000"
		out, err := json.Marshal(m)
		if err != nil {
			tb.Fatal(err)
		}
		return out
	}
	tb.Fatalf("no fill event on the stream: %v", sc.Err())
	return nil
}

// eventGen makes events from the template: the i-th has event id i
// (26 digits, so ids compare as the stream expects) and account i mod
// fanOutAccounts. It patches one buffer in place, so making an event
// costs next to nothing beside what is measured.
type eventGen struct {
	buf           []byte
	idAt, accAt   int
	accountDigits int
}

func newEventGen(tmpl []byte) *eventGen {
	var m map[string]any
	_ = json.Unmarshal(tmpl, &m)
	id, _ := m["event_id"].(string)
	tmpl = bytes.Replace(tmpl, []byte(`"event_id":"`+id+`"`), []byte(`"event_id":"`+strings.Repeat("0", 26)+`"`), 1)
	g := &eventGen{buf: tmpl, accountDigits: 12}
	g.idAt = bytes.Index(tmpl, []byte(`"event_id":"`)) + len(`"event_id":"`)
	g.accAt = bytes.Index(tmpl, []byte(`"account_id":"`)) + len(`"account_id":"`) + 36 - g.accountDigits
	return g
}

// event returns event i; the slice is reused by the next call.
func (g *eventGen) event(i int) []byte {
	putDigits(g.buf[g.idAt:g.idAt+26], uint64(i+1))
	putDigits(g.buf[g.accAt:g.accAt+g.accountDigits], uint64(i%fanOutAccounts))
	return g.buf
}

func account(i int) string {
	return fmt.Sprintf("00000000-0000-4000-8000-%012d", i%fanOutAccounts)
}

func putDigits(dst []byte, v uint64) {
	for i := len(dst) - 1; i >= 0; i-- {
		dst[i] = byte('0' + v%10)
		v /= 10
	}
}

func benchSSERead(b *testing.B, tmpl []byte) {
	gen := newEventGen(tmpl)
	n := b.N
	start := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		bw := bufio.NewWriterSize(w, 64<<10)
		<-start
		for i := range n {
			bw.WriteString("data: ")
			bw.Write(gen.event(i))
			bw.WriteString("\n\n")
		}
		bw.Flush()
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	defer srv.Close()
	firm, err := alpacabroker.NewFirm(alpacabroker.FirmConfig{BaseURL: srv.URL, Key: "firm", Secret: "firm-secret", StreamGrace: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	// This engine owns a quarter of the accounts, as in the other parts.
	for i := 0; i < fanOutAccounts; i += fanOutShards {
		_, _, done, err := firm.Account(account(i)).FollowUpdates()
		if err != nil {
			b.Fatal(err)
		}
		defer done()
	}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { defer close(ran); _ = firm.Run(ctx) }()
	defer func() { cancel(); <-ran }()
	b.ReportAllocs()
	b.ResetTimer()
	close(start)
	for firm.Stats().Received < uint64(n) {
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	b.ReportMetric(float64(len(tmpl)), "bytes/event")
}

// benchStream creates a file-backed JetStream stream for one part and
// returns the subject prefix its shards publish under.
func benchStream(b *testing.B, url string) (jetstream.JetStream, string) {
	nc, err := nats.Connect(url, nats.Name("quantum fan-out benchmark"))
	if err != nil {
		b.Fatalf("connect to NATS at %s: %v", url, err)
	}
	b.Cleanup(nc.Close)
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096))
	if err != nil {
		b.Fatal(err)
	}
	name := "QUANTUM_FANOUT_" + strconv.FormatInt(time.Now().UnixNano(), 10)
	subj := "quantum.fanout." + name
	ctx := context.Background()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: name, Subjects: []string{subj + ".>"}, Storage: jetstream.FileStorage, MaxAge: time.Hour}); err != nil {
		b.Fatalf("create JetStream stream: %v", err)
	}
	b.Cleanup(func() { _ = js.DeleteStream(context.Background(), name) })
	return js, subj
}

func shardSubject(prefix string, i int) string {
	return prefix + ".shard" + strconv.Itoa(i%fanOutAccounts%fanOutShards)
}

// publishAll publishes events [0, n) and waits for every acknowledgement.
func publishAll(b *testing.B, js jetstream.JetStream, subj string, gen *eventGen, n int) {
	subjects := make([]string, fanOutShards)
	for i := range subjects {
		subjects[i] = shardSubject(subj, i)
	}
	for i := range n {
		// The client keeps the data until acknowledged: a copy each.
		if _, err := js.PublishAsync(subjects[i%fanOutAccounts%fanOutShards], bytes.Clone(gen.event(i))); err != nil {
			b.Fatal(err)
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(5 * time.Minute):
		b.Fatalf("%d publishes unacknowledged after 5 min", js.PublishAsyncPending())
	}
}

func benchPublish(b *testing.B, js jetstream.JetStream, subj string, gen *eventGen) {
	b.ReportAllocs()
	b.ResetTimer()
	publishAll(b, js, subj, gen, b.N)
}

// consumeShard decodes shard 0's messages as an engine would, calling
// got with each; it stops when ctx ends.
func consumeShard(b *testing.B, ctx context.Context, js jetstream.JetStream, subj string, got func(jetstream.Msg, alpaca.TradeUpdate)) jetstream.ConsumeContext {
	name := strings.TrimPrefix(subj, "quantum.fanout.")
	cons, err := js.OrderedConsumer(ctx, name, jetstream.OrderedConsumerConfig{FilterSubjects: []string{shardSubject(subj, 0)}})
	if err != nil {
		b.Fatal(err)
	}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		var tu alpaca.TradeUpdate
		if err := json.Unmarshal(m.Data(), &tu); err != nil {
			b.Error(err)
		}
		got(m, tu)
	})
	if err != nil {
		b.Fatal(err)
	}
	return cc
}

func benchConsume(b *testing.B, js jetstream.JetStream, subj string, gen *eventGen) {
	// b.N events for this engine: four times as many in the stream.
	publishAll(b, js, subj, gen, b.N*fanOutShards)
	var n atomic.Int64
	done := make(chan struct{})
	b.ReportAllocs()
	b.ResetTimer()
	cc := consumeShard(b, context.Background(), js, subj, func(jetstream.Msg, alpaca.TradeUpdate) {
		if n.Add(1) == int64(b.N) {
			close(done)
		}
	})
	defer cc.Stop()
	<-done
	b.StopTimer()
}

func benchHop(b *testing.B, js jetstream.JetStream, subj string, gen *eventGen) {
	const rate = 2000
	var (
		mu  sync.Mutex
		lat []time.Duration
	)
	want := 0
	for i := range b.N {
		if i%fanOutAccounts%fanOutShards == 0 {
			want++
		}
	}
	done := make(chan struct{})
	cc := consumeShard(b, context.Background(), js, subj, func(m jetstream.Msg, _ alpaca.TradeUpdate) {
		sent, _ := strconv.ParseInt(m.Headers().Get("Sent"), 10, 64)
		mu.Lock()
		lat = append(lat, time.Since(time.Unix(0, sent)))
		if len(lat) == want {
			close(done)
		}
		mu.Unlock()
	})
	defer cc.Stop()
	tick := time.NewTicker(time.Second / 100)
	defer tick.Stop()
	b.ResetTimer()
	for i := 0; i < b.N; {
		<-tick.C
		for end := min(b.N, i+rate/100); i < end; i++ {
			m := nats.NewMsg(shardSubject(subj, i))
			m.Data = bytes.Clone(gen.event(i))
			m.Header.Set("Sent", strconv.FormatInt(time.Now().UnixNano(), 10))
			if _, err := js.PublishMsgAsync(m); err != nil {
				b.Fatal(err)
			}
		}
	}
	select {
	case <-done:
	case <-time.After(5 * time.Minute):
		b.Fatalf("%d of %d events consumed after 5 min", len(lat), want)
	}
	b.StopTimer()
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(lat)
	pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))]) / 1e6 }
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(0, "ns/op")
}
