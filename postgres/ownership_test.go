package postgres_test

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
	"time"

	"github.com/quantum-alpaca/quantum/internal/pgtest"
	"github.com/quantum-alpaca/quantum/postgres"
	"github.com/quantum-alpaca/quantum/trading"
)

// migrated gives dsn the journal's schema, which Ownership's node table
// is part of.
func migrated(t *testing.T, dsn string) string {
	t.Helper()
	j := mustOpen(t, dsn)
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	return dsn
}

func startOwnership(t *testing.T, dsn string, tenants int) *postgres.Ownership {
	t.Helper()
	o, err := postgres.NewOwnership(dsn)
	if err != nil {
		t.Fatal(err)
	}
	// Short enough for a quick test, long enough that a heartbeat (three
	// statements, bounded by one interval) does not time out on a loaded
	// machine and count as a lost session.
	o.CheckInterval = 250 * time.Millisecond
	o.Tenants = tenants
	if err := o.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = o.Close() })
	return o
}

// One tenant, one owner: the second engine gets it only after the first
// gives it up.
func TestOwnershipExclusive(t *testing.T) {
	dsn := migrated(t, pgtest.SchemaDSN(t))
	a, b := startOwnership(t, dsn, 0), startOwnership(t, dsn, 0)
	ctx := context.Background()
	tenant := trading.TenantID("own-" + t.Name())

	lease, release, err := a.Acquire(ctx, tenant)
	if err != nil || lease == nil {
		t.Fatalf("a.Acquire = %v, %v; want the tenant", lease, err)
	}
	if l, _, err := b.Acquire(ctx, tenant); err != nil || l != nil {
		t.Fatalf("b.Acquire while a holds it = %v, %v; want nothing", l, err)
	}
	release()
	if lease.Err() == nil {
		t.Error("lease still live after release")
	}
	l, rel, err := b.Acquire(ctx, tenant)
	if err != nil || l == nil {
		t.Fatalf("b.Acquire after a released = %v, %v; want the tenant", l, err)
	}
	rel()
}

// When an engine's lock session dies (here: its backend is terminated, as
// a crashed node's would close), its leases end and another engine takes
// the tenant.
func TestOwnershipSessionLoss(t *testing.T) {
	dsn := migrated(t, pgtest.SchemaDSN(t))
	a, b := startOwnership(t, dsn, 0), startOwnership(t, dsn, 0)
	ctx := context.Background()
	tenant := trading.TenantID("lost-" + t.Name())
	lease, _, err := a.Acquire(ctx, tenant)
	if err != nil || lease == nil {
		t.Fatalf("a.Acquire = %v, %v", lease, err)
	}

	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var schema string
	if err := db.QueryRow(`SELECT current_schema()`).Scan(&schema); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.QueryRow(`SELECT count(pg_terminate_backend(pid)) FROM pg_locks
		WHERE locktype = 'advisory' AND granted AND pid <> pg_backend_pid()
		AND ((classid::bigint << 32) | objid::bigint) = $1`, postgres.LockKey(schema, tenant)).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("terminated %d sessions holding the lock, want 1", n)
	}
	select {
	case <-lease.Done():
	case <-time.After(time.Minute): // a safety net, not a speed check
		t.Fatal("lease still live a minute after its session died")
	}
	deadline := time.Now().Add(time.Minute) // a safety net, not a speed check
	for {
		l, rel, err := b.Acquire(ctx, tenant)
		if err == nil && l != nil {
			rel()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("b never got the tenant: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// a recovers a session of its own and can compete again.
	l, _, err := a.Acquire(ctx, tenant)
	if err != nil || l == nil {
		t.Fatalf("a.Acquire after reconnecting = %v, %v", l, err)
	}
}

// Engines share the tenants evenly: one alone takes them all, and gives
// the excess up as others join, for them to take.
func TestOwnershipFairShare(t *testing.T) {
	dsn := migrated(t, pgtest.SchemaDSN(t))
	ctx := context.Background()
	const tenants = 6
	ids := make([]trading.TenantID, tenants)
	for i := range ids {
		ids[i] = trading.TenantID(fmt.Sprintf("share-%d", i))
	}
	start := func() *postgres.Ownership { return startOwnership(t, dsn, tenants) }
	take := func(o *postgres.Ownership) (leases []context.Context) {
		for _, id := range ids {
			if l, _, err := o.Acquire(ctx, id); err != nil {
				t.Fatal(err)
			} else if l != nil {
				leases = append(leases, l)
			}
		}
		return leases
	}
	live := func(ls []context.Context) (n int) {
		for _, l := range ls {
			if l.Err() == nil {
				n++
			}
		}
		return n
	}
	a := start()
	aLeases := take(a)
	if len(aLeases) != tenants {
		t.Fatalf("a alone holds %d tenants, want %d", len(aLeases), tenants)
	}
	b, c := start(), start()
	deadline := time.Now().Add(time.Minute) // a safety net, not a speed check
	for live(aLeases) > 2 || b.Live() != 3 || c.Live() != 3 {
		if time.Now().After(deadline) {
			t.Fatalf("a holds %d tenants; engines seen alive: b %d, c %d", live(aLeases), b.Live(), c.Live())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := len(take(b)); got != 2 {
		t.Errorf("b took %d tenants, want its share of 2", got)
	}
	if got := len(take(c)); got != 2 {
		t.Errorf("c took %d tenants, want its share of 2", got)
	}
}

// Every engine can name the engine that holds a tenant (the dashboard's
// owner column): the holder at once, the others from their next check; a
// released tenant is nobody's.
func TestOwnershipNamesOwner(t *testing.T) {
	dsn := migrated(t, pgtest.SchemaDSN(t))
	a, err := postgres.NewOwnership(dsn)
	if err != nil {
		t.Fatal(err)
	}
	a.CheckInterval, a.Name = 250*time.Millisecond, "engine-a"
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	b := startOwnership(t, dsn, 0)
	if b.Name == "" {
		t.Error("an Ownership without a Name has no default name")
	}
	ctx := context.Background()
	tenant := trading.TenantID("named-" + t.Name())
	if got := a.Owner(tenant); got != "" {
		t.Errorf("owner before anyone took it = %q, want none", got)
	}
	lease, release, err := a.Acquire(ctx, tenant)
	if err != nil || lease == nil {
		t.Fatalf("a.Acquire = %v, %v", lease, err)
	}
	if got := a.Owner(tenant); got != "engine-a" {
		t.Errorf("holder's owner = %q, want engine-a", got)
	}
	waitOwner(t, b, tenant, "engine-a")
	release()
	waitOwner(t, b, tenant, "")
	l, rel, err := b.Acquire(ctx, tenant)
	if err != nil || l == nil {
		t.Fatalf("b.Acquire after a released = %v, %v", l, err)
	}
	defer rel()
	waitOwner(t, a, tenant, b.Name)
}

// waitOwner waits for o's checks to name want as tenant's owner.
func waitOwner(t *testing.T, o *postgres.Ownership, tenant trading.TenantID, want string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); o.Owner(tenant) != want; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("owner of %s = %q, want %q", tenant, o.Owner(tenant), want)
		}
	}
}
