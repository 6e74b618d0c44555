package stream

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/coder/websocket"
	"github.com/vmihailenco/msgpack/v5"
)

// What both websocket clients (TradeSocket, MarketData) do with a
// connection: dial it, write requests, keep it alive, read frames.

// wsDial opens a websocket, mapping upgrade failures to retryable or
// final errors.
func wsDial(ctx context.Context, hc *http.Client, endpoint string, o *Options, what string) (*websocket.Conn, error) {
	hctx, cancel := context.WithTimeout(ctx, o.HandshakeTimeout)
	defer cancel()
	h := http.Header{}
	if o.Msgpack {
		h.Set("Content-Type", "application/msgpack")
	} else {
		h.Set("Content-Type", "application/json")
	}
	conn, resp, err := websocket.Dial(hctx, endpoint, &websocket.DialOptions{
		HTTPClient: hc,
		HTTPHeader: h,
	})
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols && resp.StatusCode != 0 {
			return nil, classifyStatus(&httpError{op: "upgrade " + what, status: resp.StatusCode})
		}
		return nil, fmt.Errorf("dial %s: %w", what, err)
	}
	conn.SetReadLimit(o.ReadLimit)
	return conn, nil
}

// wsWrite sends a request as JSON text, or as MessagePack
// binary when the connection negotiated it.
func wsWrite(ctx context.Context, conn *websocket.Conn, useMsgpack bool, v any) error {
	if useMsgpack {
		b, err := msgpack.Marshal(v)
		if err != nil {
			return err
		}
		return conn.Write(ctx, websocket.MessageBinary, b)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return conn.Write(ctx, websocket.MessageText, b)
}

// wsKeepAlive is the connection's writer goroutine after the handshake: it
// sends pings and, for market data, the requests queued on wake. Keeping
// every write here is what makes it the only writer. A ping that goes
// unanswered kills the connection, unless the reader was parked on a full
// buffer meanwhile: a parked reader does not read pongs.
func wsKeepAlive(ctx context.Context, conn *websocket.Conn, o *Options, live *liveness,
	wake <-chan struct{}, write func(context.Context) error, kill context.CancelCauseFunc) {
	t := time.NewTicker(o.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-wake:
			if err := write(ctx); err != nil {
				kill(fmt.Errorf("write: %w", err))
				return
			}
			continue
		case <-t.C:
		}
		if live.paused.Load() {
			continue
		}
		pauses := live.pauses.Load()
		pctx, cancel := context.WithTimeout(ctx, o.PingTimeout)
		err := conn.Ping(pctx)
		cancel()
		if err != nil && ctx.Err() == nil {
			if live.paused.Load() || live.pauses.Load() != pauses {
				continue
			}
			kill(fmt.Errorf("%w: no pong within %v: %w", ErrStalled, o.PingTimeout, err))
			return
		}
	}
}

// wsReadFrame reads one websocket message into buf, reusing its storage.
func wsReadFrame(ctx context.Context, conn *websocket.Conn, buf *bytes.Buffer) ([]byte, error) {
	_, r, err := conn.Reader(ctx)
	if err != nil {
		return nil, err
	}
	buf.Reset()
	if _, err := buf.ReadFrom(r); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
