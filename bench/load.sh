#!/usr/bin/env bash
# Loopback load benchmark of gatepass (release build, embedded SQLite).
#
# Starts a fresh server, creates a deploy token and an org admin token, then
# runs wrk (Debian package `wrk`) at 64 connections against:
#   GET  /healthz                  the framework ceiling on the same server
#   GET  /v1/token  valid token    the verify path, answered from the node cache
#   GET  /v1/token  invalid token  a well-formed token that does not exist (a cached "no token", 401)
#   POST /v1/introspect            an internal service checking a valid token
# in interleaved rounds, and prints req/s, p50 and p99 per endpoint and round,
# the ratios to /healthz, the server's CPU time per request, and the
# database writes and reads the run caused (last-used rows are written in
# batches; the cache is kept exact by the token change log, so verification
# reads only when a token changes).
#
# Usage: bench/load.sh [seconds per endpoint and round, default 5]
#        bench/load.sh wide N [seconds]   N tokens at random (bench/wide.sh);
#                                         SLICES=n for n slices of 2 s instead,
#                                         each with its p99 and the flushes so far
#        bench/load.sh writes [seconds]   token creates and deployments per second
#                                         with 4 and 16 clients (bench/writes.sh)
#        ROUNDS=n to change the number of rounds (default 5);
#        BACKEND=postgres for a fresh PostgreSQL database instead of SQLite.
# On 2 cores wrk and the server share the CPU: compare ratios, not absolutes.
set -euo pipefail
cd "$(dirname "$0")/.."
MODE=hot
case "${1:-}" in
  wide) MODE=wide; WIDE_TOKENS="${2:-20000}"; shift 2 || shift $# ;;
  writes) MODE=writes; shift ;;
esac
DURATION="${1:-5}"
ROUNDS="${ROUNDS:-5}"
CONNECTIONS=64
THREADS=2

# shellcheck source=bench/lib.sh
. bench/lib.sh
case $MODE in
  # shellcheck source=bench/wide.sh
  wide) . bench/wide.sh; exit 0 ;;
  # shellcheck source=bench/writes.sh
  writes) . bench/writes.sh; exit 0 ;;
esac
start_benchmark_server

ROWS_BEFORE=$(metric gatepass_last_used_rows_written_total)
READS_BEFORE=$(metric gatepass_token_verification_store_reads_total)

endpoint() { # round, name
  local args
  mapfile -t args < <(benchmark_endpoint "$2")
  wrk_round "$1" "$2" "${args[@]}"
}

# Each round runs every endpoint once, starting one further along the list
# than the round before, so slow drifts of the machine (other tenants, CPU
# boost, a warming page cache) fall on every endpoint alike. Ratios are taken
# within a round and summarised by their median.
ENDPOINTS=("${BENCHMARK_ENDPOINTS[@]}")
for round in $(seq 1 "$ROUNDS"); do
  for i in 0 1 2 3; do
    endpoint "$round" "${ENDPOINTS[$(( (i + round - 1) % 4 ))]}"
  done
done

sleep 6 # one last-used flush interval, so the run's writes are counted
ROWS_AFTER=$(metric gatepass_last_used_rows_written_total)
READS_AFTER=$(metric gatepass_token_verification_store_reads_total)

python3 - "$WORK/results.tsv" "$ROWS_BEFORE" "$ROWS_AFTER" "$READS_BEFORE" "$READS_AFTER" "$DURATION" "$ROUNDS" <<'PY'
import statistics, sys
from collections import defaultdict
results, rows_before, rows_after, reads_before, reads_after, duration, rounds = sys.argv[1:]
by_round = defaultdict(dict)
for line in open(results).read().splitlines():
    rnd, name, rps, p50, p99, total, non2xx, cpu = line.split('\t')
    by_round[rnd][name] = dict(rps=float(rps), p50=float(p50), p99=float(p99), total=int(total), non2xx=int(non2xx),
                               cpu=float(cpu))
names = ['healthz', 'token_valid', 'token_invalid', 'introspect']
median = statistics.median
print(f"\nwrk -t2 -c64, {rounds} rounds of {duration}s per endpoint, loopback, release build, SQLite\n")
print("Per round (req/s, then p99 in ms; ratios to that round's /healthz):\n")
print("| round | " + " | ".join(names) + " |")
print("|---|" + "---:|" * len(names))
for rnd, runs in by_round.items():
    base = runs['healthz']
    cells = [f"{r['rps']:.0f} / {r['p99']:.2f} ({r['rps']/base['rps']:.0%}, {r['p99']/base['p99']:.2f}x)" if n != 'healthz'
             else f"{r['rps']:.0f} / {r['p99']:.2f}" for n in names for r in [runs[n]]]
    print(f"| {rnd} | " + " | ".join(cells) + " |")
print("\nSummary (medians over the rounds; ratio ranges in brackets):\n")
print("| endpoint | req/s | p50 ms | p99 ms | requests | non-2xx | req/s vs /healthz | p99 vs /healthz | server CPU µs/request |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for n in names:
    runs = [by_round[rnd][n] for rnd in by_round]
    ratios = [by_round[rnd][n]['rps'] / by_round[rnd]['healthz']['rps'] for rnd in by_round]
    p99s = [by_round[rnd][n]['p99'] / by_round[rnd]['healthz']['p99'] for rnd in by_round]
    print(f"| {n} | {median(r['rps'] for r in runs):.0f} | {median(r['p50'] for r in runs):.3f} | "
          f"{median(r['p99'] for r in runs):.3f} | {sum(r['total'] for r in runs)} | {sum(r['non2xx'] for r in runs)} | "
          f"{median(ratios):.0%} [{min(ratios):.0%}–{max(ratios):.0%}] | "
          f"{median(p99s):.2f}x [{min(p99s):.2f}–{max(p99s):.2f}] | {median(r['cpu'] for r in runs):.1f} |")
authenticated = sum(by_round[rnd][n]['total'] for rnd in by_round for n in names[1:])
written = int(float(rows_after)) - int(float(rows_before))
reads = int(float(reads_after)) - int(float(reads_before))
print(f"\nAuthenticated requests: {authenticated}. Database writes they caused: {written} last-used row updates "
      f"({written / max(authenticated, 1):.6f} per request). Database reads by verification: {reads} "
      f"({reads / max(authenticated, 1):.6f} per request).")
PY
