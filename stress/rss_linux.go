package stress

import (
	"os"
	"strconv"
	"strings"
)

// rssMiB reads the process's peak resident set (VmHWM), which counts what
// the Go heap statistics do not: stacks, the runtime, cgo, the binary.
func rssMiB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			if err == nil {
				return kb / 1024
			}
		}
	}
	return 0
}
