package match

import "math/rand/v2"

// UUID is a version 4 UUID. Orders and executions are identified by UUIDs
// kept as arrays so that creating and indexing them never allocates; the
// string form is produced only when the server renders JSON.
type UUID [16]byte

// newUUID draws a version 4 UUID from the account's seeded source, which
// makes identifiers reproducible for a given seed and operation sequence.
func newUUID(src *rand.PCG) UUID {
	var u UUID
	a, b := src.Uint64(), src.Uint64()
	for i := 0; i < 8; i++ {
		u[i] = byte(a >> (56 - 8*i))
		u[8+i] = byte(b >> (56 - 8*i))
	}
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return u
}

// idCodec hides an order's sequence number in the low 62 bits of its
// UUID (bytes 8-15 minus the variant bits) under a per-account keyed
// bijection. An id then resolves to its order by index instead of through
// a map, which keeps a map insert and its growth off the submit path; the
// high half stays random, so ids still look like UUIDv4 and unknown ids
// are rejected by comparing the whole value.
type idCodec struct{ key uint64 }

const (
	mask62  = 1<<62 - 1
	idMul   = 0x9e3779b97f4a7c15 // odd, so multiplication is invertible mod 2^62
	idMulIv = 0xf1de83e19937733d // idMul * idMulIv == 1 mod 2^64
)

func (c idCodec) make(src *rand.PCG, seq int) UUID {
	u := newUUID(src)
	x := ((uint64(seq) ^ c.key) * idMul) & mask62
	x |= 2 << 62 // RFC 4122 variant
	for i := 0; i < 8; i++ {
		u[8+i] = byte(x >> (56 - 8*i))
	}
	return u
}

func (c idCodec) seq(u UUID) int {
	var x uint64
	for i := 0; i < 8; i++ {
		x = x<<8 | uint64(u[8+i])
	}
	s := ((x&mask62)*idMulIv)&mask62 ^ c.key
	if s > 1<<40 {
		return -1
	}
	return int(s)
}

// IsZero reports whether u is the zero UUID, which stands for "none"
// (JSON null) in Order fields such as Replaces.
func (u UUID) IsZero() bool { return u == UUID{} }

// String returns the canonical lowercase 36-character form.
func (u UUID) String() string {
	var b [36]byte
	return string(u.Append(b[:0]))
}

// Append appends the canonical form of u to b.
func (u UUID) Append(b []byte) []byte {
	const hex = "0123456789abcdef"
	for i, c := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b = append(b, '-')
		}
		b = append(b, hex[c>>4], hex[c&0xf])
	}
	return b
}

// MarshalText implements encoding.TextMarshaler.
func (u UUID) MarshalText() ([]byte, error) { return u.Append(make([]byte, 0, 36)), nil }

// ParseUUID parses the canonical 36-character form, in either case.
func ParseUUID(s string) (UUID, bool) {
	var u UUID
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return u, false
	}
	j := 0
	for i := 0; i < 36; {
		if s[i] == '-' {
			i++
			continue
		}
		hi, ok1 := unhex(s[i])
		lo, ok2 := unhex(s[i+1])
		if !ok1 || !ok2 {
			return UUID{}, false
		}
		u[j] = hi<<4 | lo
		j++
		i += 2
	}
	return u, true
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
