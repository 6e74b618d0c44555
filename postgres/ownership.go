package postgres

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"hash/fnv"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/quantum-alpaca/quantum/trading"
)

// DefaultCheckInterval is how often Ownership checks that its lock session
// is alive.
const DefaultCheckInterval = time.Second

// Ownership assigns tenants to engines that share one database
// (trading.Ownership): a tenant belongs to the engine holding a session
// advisory lock on it, on a connection that does nothing else. When an
// engine dies its connection closes, PostgreSQL frees its locks and the
// other engines take its tenants (each tenant's runner reconciles before
// it trades, so nothing is placed twice).
//
// Tenants are shared out evenly: engines record themselves in the
// quantum_nodes table at every check, and an engine holds at most
// ceil(Tenants / live engines); above that share (another engine joined)
// it gives the excess up for the others to take.
//
// An engine that loses its session without dying (a network partition)
// learns it at the next check and stops those tenants' runners; until
// then both engines may run a tenant, and the broker's refusal of a second
// order with the same client_order_id is what keeps it exactly once.
type Ownership struct {
	// CheckInterval defaults to DefaultCheckInterval; set before Start.
	CheckInterval time.Duration
	// Tenants is how many tenants the engines share; 0 means no limit on
	// one engine's share.
	Tenants int
	// Name is how operators see this engine (the dashboard's owner
	// column); default host:pid. Set before Start.
	Name   string
	Logger *slog.Logger

	cfg    *pgx.ConnConfig
	schema string // advisory locks are database-wide; keys include it

	mu   sync.Mutex
	db   *sql.DB
	conn *sql.Conn // nil after the session was lost, until reconnected
	held map[trading.TenantID]*lease
	node string // this engine's row in quantum_nodes
	live int    // engines seen alive at the last check, this one included
	// owners names the live engine running each tenant held elsewhere, as
	// of the last check.
	owners map[trading.TenantID]string

	quit chan struct{}
	done chan struct{}
}

var _ trading.Ownership = (*Ownership)(nil)

// NewOwnership returns an Ownership on the database at dsn. Start it
// before use and Close it after the engine.
func NewOwnership(dsn string) (*Ownership, error) {
	cfg, err := parseDSN(dsn)
	if err != nil {
		return nil, err
	}
	return &Ownership{CheckInterval: DefaultCheckInterval, cfg: cfg, held: map[trading.TenantID]*lease{}}, nil
}

// Start opens the lock session and starts checking it.
func (o *Ownership) Start(ctx context.Context) error {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.CheckInterval <= 0 {
		o.CheckInterval = DefaultCheckInterval
	}
	if o.Name == "" {
		o.Name = defaultName()
	}
	var id [8]byte
	_, _ = rand.Read(id[:])
	o.node = hex.EncodeToString(id[:])
	o.live = 1
	o.db = stdlib.OpenDB(*o.cfg)
	o.db.SetMaxOpenConns(1)
	o.db.SetMaxIdleConns(1)
	o.mu.Lock()
	err := o.connectLocked(ctx)
	o.mu.Unlock()
	if err != nil {
		_ = o.db.Close()
		return err
	}
	o.quit, o.done = make(chan struct{}), make(chan struct{})
	go o.watch()
	return nil
}

func (o *Ownership) connectLocked(ctx context.Context) error {
	c, err := o.db.Conn(ctx)
	if err != nil {
		return err
	}
	var schema sql.NullString
	if err := c.QueryRowContext(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		_ = c.Close()
		return err
	}
	o.schema = schema.String
	o.conn = c
	if err := o.heartbeatLocked(ctx); err != nil {
		o.dropLocked()
		return err
	}
	return nil
}

// heartbeatLocked records this engine as alive and counts the live ones.
// It doubles as the session's health check.
func (o *Ownership) heartbeatLocked(ctx context.Context) error {
	if _, err := o.conn.ExecContext(ctx, `INSERT INTO quantum_nodes (id, name) VALUES ($1, $2)
		ON CONFLICT (id) DO UPDATE SET seen_at = now()`, o.node, o.Name); err != nil {
		return err
	}
	// Engines that died leave their rows; an hour later they go.
	if _, err := o.conn.ExecContext(ctx, `WITH gone AS (DELETE FROM quantum_nodes WHERE seen_at < now() - interval '1 hour' RETURNING id)
		DELETE FROM quantum_tenant_owners WHERE node IN (SELECT id FROM gone)`); err != nil {
		return err
	}
	var live int
	if err := o.conn.QueryRowContext(ctx, `SELECT count(*) FROM quantum_nodes WHERE seen_at > now() - $1::interval`,
		(3 * o.CheckInterval).String()).Scan(&live); err != nil {
		return err
	}
	o.live = max(live, 1)
	return o.readOwnersLocked(ctx)
}

// readOwnersLocked refreshes owners: the tenants' rows whose engine is
// alive. A dead engine's rows stay until another engine takes its tenants.
func (o *Ownership) readOwnersLocked(ctx context.Context) error {
	rows, err := o.conn.QueryContext(ctx, `SELECT t.tenant, n.name FROM quantum_tenant_owners t
		JOIN quantum_nodes n ON n.id = t.node
		WHERE n.seen_at > now() - $1::interval`, (3 * o.CheckInterval).String())
	if err != nil {
		return err
	}
	defer rows.Close()
	owners := make(map[trading.TenantID]string, len(o.owners))
	for rows.Next() {
		var t, name string
		if err := rows.Scan(&t, &name); err != nil {
			return err
		}
		owners[trading.TenantID(t)] = name
	}
	if err := rows.Err(); err != nil {
		return err
	}
	o.owners = owners
	return nil
}

// Owner names the engine running tenant t: this one's Name while it holds
// t, else the live engine that recorded it at the last check, else "".
func (o *Ownership) Owner(t trading.TenantID) string {
	o.mu.Lock()
	defer o.mu.Unlock()
	if _, ok := o.held[t]; ok {
		return o.Name
	}
	return o.owners[t]
}

// defaultName is host:pid, which tells operators where to look.
func defaultName() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "engine"
	}
	return host + ":" + strconv.Itoa(os.Getpid())
}

// Live returns how many engines were alive at the last check, this one
// included.
func (o *Ownership) Live() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.live
}

// shareLocked is how many tenants this engine may hold.
func (o *Ownership) shareLocked() int {
	if o.Tenants <= 0 {
		return int(^uint(0) >> 1)
	}
	return (o.Tenants + o.live - 1) / o.live
}

// LockKey is the advisory lock key of a tenant whose journal is in schema:
// fleets in different schemas of one database do not contend. A collision
// would only make two tenants share an owner.
func LockKey(schema string, t trading.TenantID) int64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte("quantum/tenant/"))
	_, _ = h.Write([]byte(schema))
	_, _ = h.Write([]byte{0})
	_, _ = h.Write([]byte(t))
	return int64(h.Sum64())
}

// Acquire implements trading.Ownership.
func (o *Ownership) Acquire(ctx context.Context, t trading.TenantID) (context.Context, func(), error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if _, ok := o.held[t]; ok {
		return nil, nil, errors.New("postgres: tenant already held by this engine")
	}
	if o.conn == nil {
		if err := o.connectLocked(ctx); err != nil {
			return nil, nil, err
		}
	}
	if len(o.held) >= o.shareLocked() {
		return nil, nil, nil // a fair share is held; the rest is for the others
	}
	var got bool
	if err := o.conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock($1)`, LockKey(o.schema, t)).Scan(&got); err != nil {
		o.loseLocked(err)
		return nil, nil, err
	}
	if !got {
		return nil, nil, nil
	}
	// Recorded for operators only: the lock is what decides. A failure
	// here leaves the session in doubt, like a failed lock call.
	if _, err := o.conn.ExecContext(ctx, `INSERT INTO quantum_tenant_owners (tenant, node) VALUES ($1, $2)
		ON CONFLICT (tenant) DO UPDATE SET node = excluded.node, since = now()`, string(t), o.node); err != nil {
		o.loseLocked(err)
		return nil, nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	l := &lease{cancel: cancel}
	o.held[t] = l
	return ctx, func() { o.release(t, l) }, nil
}

// lease is one holding of a tenant's lock.
type lease struct{ cancel context.CancelFunc }

func (o *Ownership) release(t trading.TenantID, l *lease) {
	l.cancel()
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.held[t] != l || o.conn == nil {
		return // already given up (shed, or its session is gone)
	}
	o.giveUpLocked(t, l)
}

// giveUpLocked ends t's lease and unlocks it. An unlock that fails means
// the session is in doubt, so every lease of it ends; it reports whether
// the session is still there.
func (o *Ownership) giveUpLocked(t trading.TenantID, l *lease) bool {
	l.cancel()
	delete(o.held, t)
	ctx, stop := context.WithTimeout(context.Background(), 5*time.Second)
	defer stop()
	// The row goes first, while the lock still keeps any other engine
	// from writing its own.
	if _, err := o.conn.ExecContext(ctx, `DELETE FROM quantum_tenant_owners WHERE tenant = $1 AND node = $2`, string(t), o.node); err != nil {
		o.loseLocked(err)
		return false
	}
	var ok bool
	if err := o.conn.QueryRowContext(ctx, `SELECT pg_advisory_unlock($1)`, LockKey(o.schema, t)).Scan(&ok); err != nil {
		o.loseLocked(err)
		return false
	}
	return true
}

// endAllLocked ends every lease without unlocking: the session is going.
func (o *Ownership) endAllLocked() {
	for t, l := range o.held {
		l.cancel()
		delete(o.held, t)
	}
}

// loseLocked ends every lease of the current session and drops it.
func (o *Ownership) loseLocked(cause error) {
	if o.conn == nil {
		return
	}
	if len(o.held) > 0 {
		o.Logger.Error("tenant lock session lost; stopping its tenants", "tenants", len(o.held), "err", cause)
	}
	o.endAllLocked()
	o.dropLocked()
}

func (o *Ownership) dropLocked() {
	if o.conn != nil {
		_ = o.conn.Close()
		o.conn = nil
	}
}

// watch pings the lock session; a session that does not answer is taken
// for lost, since its locks may already be someone else's.
func (o *Ownership) watch() {
	defer close(o.done)
	tick := time.NewTicker(o.CheckInterval)
	defer tick.Stop()
	for {
		select {
		case <-o.quit:
			return
		case <-tick.C:
		}
		o.mu.Lock()
		if o.conn != nil {
			ctx, cancel := context.WithTimeout(context.Background(), o.CheckInterval)
			if err := o.heartbeatLocked(ctx); err != nil {
				o.loseLocked(err)
			}
			cancel()
		}
		o.shedLocked()
		o.mu.Unlock()
	}
}

// shedLocked gives up tenants above this engine's share, which another
// engine joining makes smaller. Their leases end as if lost; the runners
// stop, and whichever engine is under its share takes them.
func (o *Ownership) shedLocked() {
	excess := len(o.held) - o.shareLocked()
	if excess <= 0 || o.conn == nil {
		return
	}
	o.Logger.Info("giving tenants up to rebalance", "held", len(o.held), "live engines", o.live, "giving up", excess)
	for t, l := range o.held {
		if excess == 0 || !o.giveUpLocked(t, l) {
			return
		}
		excess--
	}
}

// Close stops checking, ends every lease and closes the session, which
// frees its locks.
func (o *Ownership) Close() error {
	if o.quit == nil {
		return nil
	}
	close(o.quit)
	<-o.done
	o.mu.Lock()
	defer o.mu.Unlock()
	o.endAllLocked()
	var err error
	if o.conn != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, _ = o.conn.ExecContext(ctx, `DELETE FROM quantum_tenant_owners WHERE node = $1`, o.node)
		_, _ = o.conn.ExecContext(ctx, `DELETE FROM quantum_nodes WHERE id = $1`, o.node)
		cancel()
		err = o.conn.Close()
		o.conn = nil
	}
	return errors.Join(err, o.db.Close())
}
