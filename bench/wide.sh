# Wide traffic (sourced by `bench/load.sh wide N`): N tokens seeded straight
# into the database, every request presenting one of them at random, as a
# fleet of CI jobs or an internal service checking many callers does.
#
# After a warm-up that presents every token once, interleaved rounds of
# /healthz (plain, and driven by the same script as the token requests) and
# GET /v1/token (a random token per request) report req/s, p99, the ratios
# to /healthz in the same round, the server's CPU time per request (steadier
# than req/s on a noisy host), and the database reads that verification
# made per request (the target: at most 0.01).
TOKENS="${WIDE_TOKENS:-20000}"
# Last-used times are flushed at the server's default interval: every token
# used within it is one row to write, so a shorter interval than production's
# would measure writes production does not make.
LAST_USED_FLUSH_SECS=30
start_benchmark_server
cargo build --release -q -p gatepass-server --example seed_tokens
ML_DEPLOYMENT_TOKEN_SALT="$SALT" "${CARGO_TARGET_DIR:-target}/release/examples/seed_tokens" \
  "$DATABASE" "$TOKENS" "$WORK/tokens.txt" 2>> "$WORK/seed.log"

cat > "$WORK/warm.lua" <<LUA
-- Each thread presents its share of the tokens once, in order, then stops.
-- (setup runs in the main state; thread:set gives each thread its global id.)
local tokens, n, threads = {}, 0, 2
local counter = 1
function setup(thread) thread:set("id", counter); counter = counter + 1 end
function init(args)
  for line in io.lines("$WORK/tokens.txt") do tokens[#tokens + 1] = line end
  n = id
end
function request()
  local token = tokens[n]
  n = n + threads
  return wrk.format("GET", "/v1/token", {["authorization"] = "Bearer " .. (token or tokens[1])})
end
function response()
  if n > #tokens + threads then wrk.thread:stop() end
end
LUA
# Every request presents a token at random, built in advance so that the
# load generator's cost per request stays small; /healthz is driven by the
# same script (it ignores the header), so both sides of the ratio pay the
# same client cost. Plain /healthz and one hot token (as in the default
# mode) run too, for reference.
wide_script() { # file, path
  cat > "$1" <<LUA
local requests = {}
function init(args)
  for line in io.lines("$WORK/tokens.txt") do
    requests[#requests + 1] = wrk.format("GET", "$2", {["authorization"] = "Bearer " .. line})
  end
  math.randomseed(os.time() + tostring({}):len())
end
function request() return requests[math.random(#requests)] end
LUA
}
wide_script "$WORK/wide.lua" /v1/token
wide_script "$WORK/wide_healthz.lua" /healthz
# wrk sleeps out its whole duration even once its threads have stopped, so
# the warm-up ends when verification has read every token once.
READS_BEFORE=$(metric gatepass_token_verification_store_reads_total)
wrk -t2 -c64 -d3600s -s "$WORK/warm.lua" "$URL/" > "$WORK/warm.txt" &
WARM_PID=$!
until [ "$(( $(metric gatepass_token_verification_store_reads_total | cut -d. -f1) - ${READS_BEFORE%.*} ))" -ge "$TOKENS" ]; do
  kill -0 $WARM_PID 2>/dev/null || { echo "the warm-up stopped early" >&2; exit 1; }
  sleep 1
done
kill $WARM_PID; wait $WARM_PID 2>/dev/null || true
READS_BEFORE=$(metric gatepass_token_verification_store_reads_total)
ROWS_BEFORE=$(metric gatepass_last_used_rows_written_total)

# SLICES=n: instead of the rounds, n back-to-back slices of 2 s of wide
# traffic, each with its p99 and the last-used flushes so far, to see what a
# flush does to the requests around it.
if [ -n "${SLICES:-}" ]; then
  echo "slice	req/s	p50 ms	p99 ms	last-used flushes so far"
  for slice in $(seq 1 "$SLICES"); do
    wrk -t2 -c64 -d2s --latency -s "$WORK/wide.lua" "$URL/" > "$WORK/slice.txt"
    read -r rps _ p50 p99 _ < <(wrk_figures "$WORK/slice.txt")
    echo "$slice	$rps	$p50	$p99	$(metric gatepass_last_used_flushes_total)"
  done
  exit 0
fi

# Interleaved rounds, each starting one further along the list.
RUNS=(healthz healthz_scripted token_wide token_hot)
wide_run() { # round, name
  case $2 in
    healthz) wrk_round "$1" healthz "$URL/healthz" ;;
    healthz_scripted) wrk_round "$1" healthz_scripted -s "$WORK/wide_healthz.lua" "$URL/" ;;
    token_wide) wrk_round "$1" token_wide -s "$WORK/wide.lua" "$URL/" ;;
    token_hot) wrk_round "$1" token_hot -H "authorization: Bearer $DEPLOY_TOKEN" "$URL/v1/token" ;;
  esac
}
for round in $(seq 1 "$ROUNDS"); do
  for i in 0 1 2 3; do wide_run "$round" "${RUNS[$(( (i + round - 1) % 4 ))]}"; done
done
READS_AFTER=$(metric gatepass_token_verification_store_reads_total)
ROWS_AFTER=$(metric gatepass_last_used_rows_written_total)
RSS_KB=$(awk '/VmRSS/ {print $2}' /proc/$SERVER_PID/status)

python3 - "$WORK/results.tsv" "$READS_BEFORE" "$READS_AFTER" "$DURATION" "$ROUNDS" "$TOKENS" "$BACKEND" "$RSS_KB" "$ROWS_BEFORE" "$ROWS_AFTER" <<'PY'
import statistics, sys
from collections import defaultdict
results, reads_before, reads_after, duration, rounds, tokens, backend, rss, rows_before, rows_after = sys.argv[1:]
by_round = defaultdict(dict)
for line in open(results).read().splitlines():
    rnd, name, rps, p50, p99, total, non2xx, cpu = line.split('\t')
    by_round[rnd][name] = dict(rps=float(rps), p50=float(p50), p99=float(p99), total=int(total), non2xx=int(non2xx),
                               cpu=float(cpu))
median = statistics.median
print(f"\nWide traffic: {int(tokens):,} tokens at random, wrk -t2 -c64, {rounds} rounds of {duration}s, loopback, release build, {backend}\n")
print("| round | /healthz req/s / p99 ms | /healthz, same script | one hot token | GET /v1/token, wide | wide req/s vs scripted /healthz | wide p99 vs scripted /healthz | wide vs plain /healthz | hot vs plain /healthz |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
ratios, p99s, plain, hot = [], [], [], []
for rnd, runs in by_round.items():
    h, s, t, o = runs['healthz'], runs['healthz_scripted'], runs['token_wide'], runs['token_hot']
    ratios.append(t['rps'] / s['rps']); p99s.append(t['p99'] / s['p99']); plain.append(t['rps'] / h['rps'])
    hot.append(o['rps'] / h['rps'])
    print(f"| {rnd} | {h['rps']:.0f} / {h['p99']:.2f} | {s['rps']:.0f} / {s['p99']:.2f} | {o['rps']:.0f} / {o['p99']:.2f} "
          f"| {t['rps']:.0f} / {t['p99']:.2f} | {ratios[-1]:.0%} | {p99s[-1]:.2f}x | {plain[-1]:.0%} | {hot[-1]:.0%} |")
requests = sum(by_round[r]['token_wide']['total'] for r in by_round)
non2xx = sum(by_round[r]['token_wide']['non2xx'] for r in by_round)
reads = int(float(reads_after)) - int(float(reads_before))
print(f"\nMedian: {median(ratios):.0%} of the scripted /healthz req/s [{min(ratios):.0%}–{max(ratios):.0%}], "
      f"p99 {median(p99s):.2f}x of its p99 [{min(p99s):.2f}–{max(p99s):.2f}]; "
      f"{median(plain):.0%} of plain /healthz req/s [{min(plain):.0%}–{max(plain):.0%}]; "
      f"one hot token in the same rounds: {median(hot):.0%} of plain /healthz [{min(hot):.0%}–{max(hot):.0%}].")
cpu = {name: median(by_round[r][name]['cpu'] for r in by_round) for name in ('healthz_scripted', 'token_hot', 'token_wide')}
print(f"Server CPU per request (user + kernel, medians): scripted /healthz {cpu['healthz_scripted']:.1f} µs, "
      f"one hot token {cpu['token_hot']:.1f} µs, wide {cpu['token_wide']:.1f} µs "
      f"({cpu['token_wide'] - cpu['token_hot']:+.1f} µs beyond the hot token).")
print(f"Requests: {requests} ({non2xx} non-2xx). Database reads by verification after warm-up: {reads} "
      f"({reads / max(requests, 1):.5f} per request). Server RSS: {int(rss) / 1024:.0f} MiB.")
rows = int(float(rows_after)) - int(float(rows_before))
print(f"Last-used rows written meanwhile, in batches every GATEPASS_LAST_USED_FLUSH_SECS=30 s (the default): {rows} "
      f"({rows / max(requests, 1):.5f} per request).")
PY
