#!/usr/bin/env bash
# Instructions the server executes per request, per endpoint: a figure that,
# unlike req/s on a shared VM, does not drift from one minute to the next, so
# two versions of the code can be compared to within a percent or two.
#
# Starts the release build under `valgrind --tool=callgrind` (Debian package
# `valgrind`) with one tokio worker. For each endpoint of bench/load.sh it
# warms up with wrk, zeroes the counters, drives the endpoint for a few
# seconds at 8 connections and divides the user-space instructions by the
# requests served. Kernel time (the loopback TCP path) is not counted. And
# valgrind runs SHA-256 in software where the native build uses the CPU's SHA
# extensions: each HMAC digest of a token costs about 7,100 instructions here
# and about 100 ns natively, so the figure is also given without them.
#
# Usage: bench/instructions.sh [seconds per endpoint, default 6]
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-6}"
command -v valgrind >/dev/null || { echo "valgrind is missing: apt-get install -y valgrind" >&2; exit 1; }

# shellcheck source=bench/lib.sh
. bench/lib.sh
TOKIO_WORKER_THREADS=1 start_benchmark_server \
  valgrind --tool=callgrind --callgrind-out-file="$WORK/callgrind.out" --dump-instr=no

# The HMAC digests each endpoint computes: the caller's token, and for
# introspection also the token it asks about.
declare -A DIGESTS=([healthz]=0 [token_valid]=1 [token_invalid]=1 [introspect]=2)

printf '\nUser-space instructions per request (callgrind, 1 worker, wrk -t1 -c8, %s s per endpoint):\n\n' "$DURATION"
printf '| endpoint | requests | instructions | SHA-256 compression | without SHA-256 |\n|---|---:|---:|---:|---:|\n'
for name in "${BENCHMARK_ENDPOINTS[@]}"; do
  mapfile -t args < <(benchmark_endpoint "$name")
  wrk -t1 -c8 -d2s "${args[@]}" > /dev/null
  callgrind_control --zero "$SERVER_PID" > /dev/null 2>&1
  wrk -t1 -c8 -d"${DURATION}s" "${args[@]}" > "$WORK/wrk.txt"
  callgrind_control --dump="$name" "$SERVER_PID" > /dev/null 2>&1
  dump=$(ls -t "$WORK"/callgrind.out.* | head -1)
  read -r _ requests _ < <(wrk_figures "$WORK/wrk.txt")
  total=$(awk '/^(summary|totals):/ && !found {print $2; found = 1}' "$dump")
  # Inclusive cost of SHA-256's block function, wherever it was called from.
  sha=$(callgrind_annotate --inclusive=yes --threshold=100 "$dump" 2>/dev/null \
    | awk '/sha2::sha256::compress256 \[/ && !found {gsub(",", "", $1); print $1; found = 1}')
  python3 - "$name" "$requests" "$total" "${sha:-0}" "${DIGESTS[$name]}" <<'PY'
import sys
name, requests, total, sha, digests = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
print(f"| {name} | {requests} | {total / requests:,.0f} | {sha / requests:,.0f} ({digests} × HMAC) | {(total - sha) / requests:,.0f} |")
PY
done
