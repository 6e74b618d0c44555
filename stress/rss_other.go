//go:build !linux

package stress

// rssMiB is not measured outside Linux.
func rssMiB() float64 { return 0 }
