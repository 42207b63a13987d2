#!/usr/bin/env bash
# L2 misses per request, one hot token against N tokens at random: what
# wide traffic costs beyond a hot token, in a figure that does not drift.
#
# Starts the release build under `valgrind --tool=callgrind --cache-sim=yes`
# (Debian package `valgrind`) with one tokio worker, the last cache level
# simulated as one core's 512 KiB L2 (so a miss is a trip to the shared L3
# or memory). Seeds N tokens, presents each once, then drives GET /v1/token
# with the hot token and with a random one per request, and prints per
# request: instructions, L1 and L2 data read misses, and the functions
# where the wide run's L2 misses happen. Each mode runs twice and the
# second run counts, since a last-used flush (every 60 s here) that falls
# in a run shows as thousands of instructions per request.
#
# Usage: bench/cache-misses.sh [N tokens, default 20000] [seconds, default 4]
set -euo pipefail
cd "$(dirname "$0")/.."
TOKENS="${1:-20000}"
DURATION="${2:-4}"
command -v valgrind >/dev/null || { echo "valgrind is missing: apt-get install -y valgrind" >&2; exit 1; }

# shellcheck source=bench/lib.sh
. bench/lib.sh
LAST_USED_FLUSH_SECS=60
TOKIO_WORKER_THREADS=1 start_benchmark_server \
  valgrind --tool=callgrind --cache-sim=yes --LL=524288,8,64 --callgrind-out-file="$WORK/callgrind.out" --dump-instr=no
cargo build --release -q -p gatepass-server --example seed_tokens
ML_DEPLOYMENT_TOKEN_SALT="$SALT" "${CARGO_TARGET_DIR:-target}/release/examples/seed_tokens" \
  "$DATABASE" "$TOKENS" "$WORK/tokens.txt" 2>> "$WORK/seed.log"
cat > "$WORK/wide.lua" <<LUA
local requests = {}
function init(args)
  for line in io.lines("$WORK/tokens.txt") do
    requests[#requests + 1] = wrk.format("GET", "/v1/token", {["authorization"] = "Bearer " .. line})
  end
  math.randomseed(os.time() + tostring({}):len())
end
function request() return requests[math.random(#requests)] end
LUA
# Until verification has read every seeded token once.
until [ "$(metric gatepass_token_verification_store_reads_total | cut -d. -f1)" -ge "$TOKENS" ]; do
  wrk -t1 -c8 -d5s -s "$WORK/wide.lua" "$URL/" > /dev/null
done

printf '\nPer request (callgrind, 1 worker, wrk -t1 -c8, %s s, %s tokens cached, LL = 512 KiB L2):\n\n' "$DURATION" "$TOKENS"
printf '| mode | requests | instructions | L1 data read misses | L2 data read misses |\n|---|---:|---:|---:|---:|\n'
for mode in hot wide hot wide; do
  case $mode in
    hot) args=(-H "authorization: Bearer $DEPLOY_TOKEN" "$URL/v1/token") ;;
    wide) args=(-s "$WORK/wide.lua" "$URL/") ;;
  esac
  callgrind_control --zero "$SERVER_PID" > /dev/null 2>&1
  wrk -t1 -c8 -d"${DURATION}s" "${args[@]}" > "$WORK/wrk.txt"
  callgrind_control --dump="$mode" "$SERVER_PID" > /dev/null 2>&1
  dump=$(ls -t "$WORK"/callgrind.out.* | head -1)
  cp "$dump" "$WORK/$mode.out"
  read -r _ requests _ < <(wrk_figures "$WORK/wrk.txt")
  echo "$requests" > "$WORK/$mode.requests"
done
for mode in hot wide; do
  python3 - "$mode" "$(cat "$WORK/$mode.requests")" "$WORK/$mode.out" <<'PY'
import sys
mode, requests, dump = sys.argv[1], int(sys.argv[2]), sys.argv[3]
lines = open(dump).read().splitlines()
events = next(line for line in lines if line.startswith('events:')).split()[1:]
totals = dict(zip(events, map(int, next(line for line in lines if line.startswith('summary:')).split()[1:])))
per = lambda event: totals[event] / requests
print(f"| {mode} | {requests} | {per('Ir'):,.0f} | {per('D1mr'):,.1f} | {per('DLmr'):,.1f} |")
PY
done

# Self cost by function (a cost line after `calls=` is the callee's, not the caller's).
printf '\nWhere the wide run misses L2, per request:\n\n'
python3 - "$(cat "$WORK/wide.requests")" "$WORK/wide.out" <<'PY'
import collections, re, sys
requests, dump = int(sys.argv[1]), sys.argv[2]
names, misses, function, callee_line, column = {}, collections.Counter(), '?', False, None
for line in open(dump):
    line = line.rstrip('\n')
    if line.startswith('events:'):
        column = line.split()[1:].index('DLmr') + 1
        continue
    named = re.match(r'^(c?fn)=\((\d+)\)(?: (.*))?$', line)
    if named:
        kind, number, name = named.groups()
        if name:
            names[number] = name
        if kind == 'fn':
            function = names.get(number, '?')
        continue
    if line.startswith('calls='):
        callee_line = True
        continue
    if line[:1].isdigit() or line[:1] in '+-*':
        if callee_line:
            callee_line = False
        elif column is not None:
            fields = line.split()
            if len(fields) > column:
                misses[function] += int(fields[column])
for name, count in misses.most_common(8):
    print(f"{count / requests:6.2f}  {name[:110]}")
PY
