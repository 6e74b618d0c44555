#!/usr/bin/env bash
# Runs the stress matrix behind docs/benchmarks.md: 1, 10 and 100 tenants,
# both client modes, against the embedded broker and against a separate
# `quantum broker` process, each with the bare net/http ceiling measured in
# the same run. Prints one markdown table row per run. Loopback only.
#
#   scripts/stress-matrix.sh [THREADS] [ORDERS_PER_THREAD]
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=go1.27.3 # the release go.mod asks for, fetched through the module proxy
threads=${1:-100}
per=${2:-1000}
bin=$(mktemp -d)/quantum
go build -o "$bin" ./cmd/quantum
port=18091
"$bin" broker --listen 127.0.0.1:$port --auto-provision >/dev/null 2>&1 &
broker=$!
trap 'kill $broker 2>/dev/null || true' EXIT
sleep 1

echo "| broker | tenants | client mode | orders | orders/s | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | ceiling req/s | ratio | lost | dup | RSS MiB |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
for target in embedded separate; do
  for tenants in 1 10 100; do
    for mode in shared per-worker; do
      args=(stress --threads "$threads" --orders-per-thread "$per" --tenants "$tenants" --json --baseline)
      [ "$mode" = per-worker ] && args+=(--client-per-worker)
      [ "$target" = separate ] && args+=(--target "http://127.0.0.1:$port")
      out=$("$bin" "${args[@]}" || true)
      echo "$out" | jq -r --arg t "$target" --arg m "$mode" \
        '"| \($t) | \(.tenants) | \($m) | \(.orders) | \(.orders_per_sec|floor) | \(.latency_ms.p50) | \(.latency_ms.p90) | \(.latency_ms.p99) | \(.latency_ms.p999) | \(.latency_ms.max) | \(.baseline_orders_per_sec|floor) | \(.ratio_to_baseline*100|floor/100) | \(.lost) | \(.duplicates) | \(.rss_mib|floor) |"'
    done
  done
done
