#!/usr/bin/env bash
# Runs the test suite with the race detector while other CPU-bound
# processes compete for the same cores: the check that no test depends on
# the machine's speed.
#
#   scripts/race-under-load.sh [BURNERS] [COUNT] [PACKAGES...]
#
# BURNERS busy loops (default 2) run for the whole suite and are killed when
# it ends; COUNT is go test's -count (default 3). The PostgreSQL tests run
# when QUANTUM_TEST_POSTGRES_DSN is set, as in .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=go1.27.3 # the release go.mod asks for, fetched through the module proxy
burners=${1:-2}
count=${2:-3}
shift $(( $# > 2 ? 2 : $# ))
pkgs=("$@")
[ ${#pkgs[@]} -gt 0 ] || pkgs=(./...)

pids=()
stop() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap stop EXIT
for _ in $(seq "$burners"); do
	# Bounded: a burner outlives the suite by at most this long if the
	# trap cannot run.
	timeout 3h sh -c 'while :; do :; done' &
	pids+=($!)
done
echo "== $burners CPU burners on $(nproc) cores; go test -race -count=$count ${pkgs[*]}"
start=$(date +%s)
go test -race -count="$count" -timeout 60m "${pkgs[@]}"
echo "== passed in $(( $(date +%s) - start ))s under load"
