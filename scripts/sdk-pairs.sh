#!/usr/bin/env bash
# Compares alpaca.Client.SubmitOrder with the official Go SDK's PlaceOrder
# at concurrency 64 in alternating runs, so that both see the same machine
# noise, and prints each side's median and how many pairs ours won.
#
#   scripts/sdk-pairs.sh [PAIRS] [ORDERS_PER_RUN]
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=go1.27.3 # the release go.mod asks for, fetched through the module proxy
pairs=${1:-10}
n=${2:-40000}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
go test -c -o "$dir/alpaca.test" ./alpaca
for _ in $(seq "$pairs"); do
	for side in ours sdk; do
		(cd alpaca && "$dir/alpaca.test" -test.run '^$' -test.bench "SubmitOrder/$side/p64" -test.benchtime "${n}x" -test.count 1) |
			awk -v s="$side" '/^Benchmark/ {print s, $3}'
	done
done >"$dir/runs"
awk '
	{ v[$1, ++c[$1]] = $2 }
	END {
		for (s in c) {
			n = c[s]
			for (i = 1; i <= n; i++) a[i] = v[s, i]
			asort(a)
			med = (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
			printf "%s: median %.0f ns/order over %d runs\n", s, med, n
			delete a
		}
		for (i = 1; i <= c["ours"]; i++) if (v["ours", i] < v["sdk", i]) w++
		printf "ours faster in %d of %d pairs\n", w, c["ours"]
	}' "$dir/runs"
