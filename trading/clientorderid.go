package trading

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
)

// maxSeqDigits is len("18446744073709551615"), the longest uint64.
const maxSeqDigits = 20

// maxPlainTenantLen is the longest tenant id used verbatim: it leaves room
// for "-" and any sequence number within MaxClientOrderIDLen.
const maxPlainTenantLen = MaxClientOrderIDLen - 1 - maxSeqDigits

// ClientOrderID derives the client_order_id of a tenant's seq'th intent.
// It is deterministic, so an intent can be looked up at the broker after a
// crash from the journal alone, and never longer than MaxClientOrderIDLen.
//
// A short tenant id made of [A-Za-z0-9_-] is used verbatim: "acme-42".
// Any other id becomes a readable prefix of its safe characters, a ".",
// and 64 bits of its SHA-256: "fund.a1b2c3d4e5f60718-42". The "." never
// appears in the verbatim form, so the two forms cannot collide, and the
// sequence is always after the last "-", so distinct (tenant, seq) pairs
// give distinct ids (up to a 64-bit hash collision between two odd ids,
// which would still be harmless: Alpaca scopes ids to one account).
func ClientOrderID(tenant TenantID, seq uint64) string {
	s := strconv.FormatUint(seq, 10)
	if plainTenant(tenant) {
		return string(tenant) + "-" + s
	}
	sum := sha256.Sum256([]byte(tenant))
	const prefixLen = MaxClientOrderIDLen - 1 - 16 - 1 - maxSeqDigits
	b := make([]byte, 0, MaxClientOrderIDLen)
	for i := 0; i < len(tenant) && len(b) < prefixLen; i++ {
		if safeByte(tenant[i]) {
			b = append(b, tenant[i])
		}
	}
	b = append(b, '.')
	b = hex.AppendEncode(b, sum[:8])
	b = append(b, '-')
	b = append(b, s...)
	return string(b)
}

func plainTenant(tenant TenantID) bool {
	if tenant == "" || len(tenant) > maxPlainTenantLen {
		return false
	}
	for i := 0; i < len(tenant); i++ {
		if !safeByte(tenant[i]) {
			return false
		}
	}
	return true
}

// safeByte accepts the characters that survive every place a
// client_order_id travels: URLs, JSON, logs and shell commands.
func safeByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// SeqOf returns the sequence number of clientOrderID if ClientOrderID
// made it for tenant, and false for any other id (another tenant's, or an
// order placed outside the engine).
func SeqOf(tenant TenantID, clientOrderID string) (uint64, bool) {
	zero := ClientOrderID(tenant, 0)
	prefix := zero[:len(zero)-1] // ends with "-"
	digits, ok := strings.CutPrefix(clientOrderID, prefix)
	if !ok || digits == "" || digits[0] == '0' {
		return 0, false
	}
	seq, err := strconv.ParseUint(digits, 10, 64)
	if err != nil {
		return 0, false
	}
	return seq, true
}
