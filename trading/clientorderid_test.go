package trading_test

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/quantum-alpaca/quantum/trading"
)

func TestClientOrderID(t *testing.T) {
	long := trading.TenantID(strings.Repeat("x", trading.MaxTenantIDLen))
	for _, tt := range []struct {
		tenant trading.TenantID
		seq    uint64
		want   string // "" means: only check the invariants
	}{
		{"acme", 42, "acme-42"},
		{"acme-fund_2", 1, "acme-fund_2-1"},
		{"a", math.MaxUint64, "a-18446744073709551615"},
		{trading.TenantID(strings.Repeat("y", 27)), math.MaxUint64, strings.Repeat("y", 27) + "-18446744073709551615"},
		{trading.TenantID(strings.Repeat("y", 28)), math.MaxUint64, ""},
		{long, math.MaxUint64, ""},
		{"fund/sub account #7", 7, ""},
		{"ünïcode", 1, ""},
		{"", 1, ""},
		{"a.b", 1, ""},
	} {
		got := trading.ClientOrderID(tt.tenant, tt.seq)
		if tt.want != "" && got != tt.want {
			t.Errorf("ClientOrderID(%q, %d) = %q, want %q", tt.tenant, tt.seq, got, tt.want)
		}
		if len(got) > trading.MaxClientOrderIDLen {
			t.Errorf("ClientOrderID(%q, %d) = %q: %d characters, want at most %d", tt.tenant, tt.seq, got, len(got), trading.MaxClientOrderIDLen)
		}
		for _, c := range got {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-_.", c)) {
				t.Errorf("ClientOrderID(%q, %d) = %q has unsafe character %q", tt.tenant, tt.seq, got, c)
			}
		}
		if again := trading.ClientOrderID(tt.tenant, tt.seq); again != got {
			t.Errorf("ClientOrderID(%q, %d) not deterministic: %q then %q", tt.tenant, tt.seq, got, again)
		}
	}
}

// Distinct (tenant, seq) pairs give distinct ids, including tenants that
// look alike once sanitised or that end in what looks like a sequence.
func TestClientOrderIDUnique(t *testing.T) {
	tenants := []trading.TenantID{"a", "a-1", "a_1", "a.1", "a/1", "a 1", "A", "",
		trading.TenantID(strings.Repeat("z", 27)), trading.TenantID(strings.Repeat("z", 28)),
		trading.TenantID(strings.Repeat("z", 29)), "ünï", "üni"}
	seen := make(map[string]string)
	for _, tenant := range tenants {
		for _, seq := range []uint64{0, 1, 2, 10, 11, 12, 100, 1000, math.MaxUint64} {
			id := trading.ClientOrderID(tenant, seq)
			key := fmt.Sprintf("%q/%d", tenant, seq)
			if prev, ok := seen[id]; ok {
				t.Errorf("ClientOrderID(%s) = ClientOrderID(%s) = %q", key, prev, id)
			}
			seen[id] = key
		}
	}
}

func TestSeqOf(t *testing.T) {
	for _, tenant := range []trading.TenantID{"acme", "fund/sub-account #7 (ünïcode)", "a-1"} {
		for _, seq := range []uint64{1, 42, trading.MaxSeq} {
			got, ok := trading.SeqOf(tenant, trading.ClientOrderID(tenant, seq))
			if !ok || got != seq {
				t.Errorf("SeqOf(%q, ClientOrderID(%d)) = %d, %v", tenant, seq, got, ok)
			}
		}
	}
	for _, tc := range []struct {
		tenant trading.TenantID
		id     string
	}{
		{"acme", "acme-"}, {"acme", "acme-0"}, {"acme", "acme-007"}, {"acme", "acme-x"},
		{"acme", "other-1"}, {"acme", "acme-1-2"}, {"a", "a-1-2"}, {"acme", "manual order"},
	} {
		if seq, ok := trading.SeqOf(tc.tenant, tc.id); ok {
			t.Errorf("SeqOf(%q, %q) = %d, want not ours", tc.tenant, tc.id, seq)
		}
	}
}
