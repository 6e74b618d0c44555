package market

import (
	"hash/fnv"
	"math"
)

// rng is a small splitmix64 generator. The market needs two kinds of
// randomness: a sequential stream per symbol for live ticks, and keyed
// streams (seed, symbol, minute) so any historical minute can be
// regenerated on its own, in any order, without replaying the ones before.
// A value type with no allocation serves both.
type rng struct{ s uint64 }

func newRNG(keys ...uint64) rng {
	r := rng{s: 0x9e3779b97f4a7c15}
	for _, k := range keys {
		r.s ^= k
		r.next()
	}
	return r
}

func (r *rng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// float returns a uniform value in [0, 1).
func (r *rng) float() float64 { return float64(r.next()>>11) / (1 << 53) }

// intn returns a uniform value in [0, n); n must be positive.
func (r *rng) intn(n int64) int64 { return int64(r.next() % uint64(n)) }

// norm returns a standard normal variate (Box-Muller; the second value is
// discarded so that the stream position never depends on cached state).
func (r *rng) norm() float64 {
	u := r.float()
	if u < 1e-300 {
		u = 1e-300
	}
	return math.Sqrt(-2*math.Log(u)) * math.Cos(2*math.Pi*r.float())
}

func hashString(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}
