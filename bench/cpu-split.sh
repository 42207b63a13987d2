#!/usr/bin/env bash
# Where a token request's extra cost over /healthz goes: per request, the
# server's user and kernel CPU time, and the context switches and
# reschedule interrupts of the whole machine (the server and wrk share its
# cores, so waking one another is part of every request's cost).
#
# Starts the release build as bench/load.sh does, then runs /healthz and
# GET /v1/token with one hot token in interleaved rounds of wrk -t2 -c64
# and prints each round and the medians. Reads /proc only: no profiler.
#
# Usage: bench/cpu-split.sh [seconds per run, default 10]
#        ROUNDS=n to change the number of rounds (default 3);
#        BACKEND=postgres for a fresh PostgreSQL database instead of SQLite.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-10}"
ROUNDS="${ROUNDS:-3}"

# shellcheck source=bench/lib.sh
. bench/lib.sh
start_benchmark_server
wrk -t2 -c64 -d3s -H "authorization: Bearer $DEPLOY_TOKEN" "$URL/v1/token" > /dev/null

# Server user and kernel clock ticks, the machine's context switches, and
# its reschedule interrupts (the "RES" row of /proc/interrupts, all CPUs).
counters() {
  local ticks switches reschedules
  ticks=$(awk '{print $14, $15}' "/proc/$SERVER_PID/stat")
  switches=$(awk '$1 == "ctxt" {print $2}' /proc/stat)
  reschedules=$(awk '$1 == "RES:" {sum = 0; for (i = 2; i <= NF; i++) if ($i ~ /^[0-9]+$/) sum += $i; print sum}' /proc/interrupts)
  echo "$ticks $switches ${reschedules:-0}"
}

split_run() { # round, name, then wrk arguments
  local round=$1 name=$2 before after rps total; shift 2
  before=$(counters)
  wrk -t2 -c64 -d"${DURATION}s" "$@" > "$WORK/wrk.txt"
  after=$(counters)
  read -r rps total _ < <(wrk_figures "$WORK/wrk.txt")
  python3 - "$round" "$name" "$rps" "$total" "$before" "$after" "$(getconf CLK_TCK)" >> "$WORK/split.tsv" <<'PY'
import sys
rnd, name, rps, total, before, after, tck = sys.argv[1:]
total = max(int(total), 1)
user, kernel, switches, reschedules = (int(a) - int(b) for a, b in zip(after.split(), before.split()))
us = 1e6 / int(tck) / total
print(f"{rnd}\t{name}\t{rps}\t{user * us:.2f}\t{kernel * us:.2f}\t{switches / total:.3f}\t{reschedules / total:.3f}")
PY
}

for round in $(seq 1 "$ROUNDS"); do
  if [ $((round % 2)) = 1 ]; then order=(healthz token_hot); else order=(token_hot healthz); fi
  for name in "${order[@]}"; do
    case $name in
      healthz) split_run "$round" healthz "$URL/healthz" ;;
      token_hot) split_run "$round" token_hot -H "authorization: Bearer $DEPLOY_TOKEN" "$URL/v1/token" ;;
    esac
  done
done

python3 - "$WORK/split.tsv" "$BACKEND" "$DURATION" <<'PY'
import statistics, sys
from collections import defaultdict
rows, backend, duration = sys.argv[1], sys.argv[2], sys.argv[3]
runs, by_round = defaultdict(list), defaultdict(dict)
print(f"\nServer CPU and scheduling per request, wrk -t2 -c64, runs of {duration}s, loopback, release build, {backend}\n")
print("| round | endpoint | req/s | server user µs | server kernel µs | context switches | reschedule IPIs |")
print("|---|---|---:|---:|---:|---:|---:|")
for line in open(rows).read().splitlines():
    rnd, name, *values = line.split('\t')
    runs[name].append([float(v) for v in values])
    by_round[rnd][name] = float(values[0])
    print(f"| {rnd} | {name} | " + " | ".join(values) + " |")
median = lambda name, i: statistics.median(run[i] for run in runs[name])
print("\nMedians:")
for name in ('healthz', 'token_hot'):
    print(f"  {name:9}  {median(name, 0):8.0f} req/s  user {median(name, 1):.2f} µs  kernel {median(name, 2):.2f} µs  "
          f"switches {median(name, 3):.3f}  reschedule IPIs {median(name, 4):.3f} per request")
print(f"  one hot token costs {median('token_hot', 1) - median('healthz', 1):+.2f} µs user and "
      f"{median('token_hot', 2) - median('healthz', 2):+.2f} µs kernel time beyond /healthz, "
      f"and reaches {statistics.median(r['token_hot'] / r['healthz'] for r in by_round.values()):.0%} of its req/s "
      f"(median of the rounds' ratios)")
PY
