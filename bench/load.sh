#!/usr/bin/env bash
# Loopback load benchmark of gatepass (release build, embedded SQLite).
#
# Starts a fresh server, creates a deploy token and an org admin token, then
# runs wrk (Debian package `wrk`) at 64 connections against:
#   GET  /healthz                  the framework ceiling on the same server
#   GET  /v1/token  valid token    the verify path, answered from the node cache
#   GET  /v1/token  invalid token  a well-formed token that does not exist (database lookup, 401)
#   POST /v1/introspect            an internal service checking a valid token
# and prints req/s, p50 and p99 per endpoint, the ratio to /healthz, and the
# database writes the run caused (last-used rows, written in batches).
#
# Usage: bench/load.sh [seconds per endpoint, default 10]
# On 2 cores wrk and the server share the CPU: compare ratios, not absolutes.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-10}"
CONNECTIONS=64
THREADS=2

command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 1; }
command -v python3 >/dev/null || { echo "python3 is missing" >&2; exit 1; }

cargo build --release -q -p gatepass
BIN="${CARGO_TARGET_DIR:-target}/release/gatepass"
WORK=$(mktemp -d)
trap 'kill $SERVER_PID 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$WORK"' EXIT

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
URL="http://127.0.0.1:$PORT"
# Failed-auth limiting is per client address and all load comes from one, so
# it is raised here; otherwise the invalid-token run would measure 429s.
ML_DEPLOYMENT_TOKEN_SALT="load-benchmark-salt-load-benchmark-salt" RUST_LOG=warn \
  GATEPASS_AUTH_FAILURES_PER_MINUTE=1000000000 GATEPASS_LAST_USED_FLUSH_SECS=5 \
  "$BIN" serve --demo --listen "127.0.0.1:$PORT" --data-dir "$WORK/data" 2> "$WORK/server.log" &
SERVER_PID=$!
for _ in $(seq 1 100); do curl -sf "$URL/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
PASSWORD=$(grep -o 'with password [A-Za-z0-9]*' "$WORK/server.log" | awk '{print $3}')

json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
SESSION=$(curl -sf "$URL/v1/sessions" -H 'content-type: application/json' \
  -d "{\"email\":\"admin@gatepass.local\",\"password\":\"$PASSWORD\"}" | json '["token"]')
create() { curl -sf "$URL/v1/orgs/demo/tokens" -H "authorization: Bearer $SESSION" -H 'content-type: application/json' -d "$1" | json '["token"]'; }
DEPLOY_TOKEN=$(create '{"name":"load","scopes":["deploy","read"],"project":"web","environment":"production"}')
ADMIN_TOKEN=$(create '{"name":"introspector","scopes":["admin"]}')
# Well-formed (valid checksum) but unknown: the most expensive kind of invalid token.
INVALID_TOKEN=$(python3 - <<'PY'
import random, string, zlib
alphabet = string.digits + string.ascii_uppercase + string.ascii_lowercase
body = ''.join(random.choice(alphabet) for _ in range(30))
crc, digits = zlib.crc32(body.encode()), []
for _ in range(6):
    digits.append(alphabet[crc % 62]); crc //= 62
print('gpd_' + body + ''.join(reversed(digits)))
PY
)
[ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/v1/token" -H "authorization: Bearer $INVALID_TOKEN")" = 401 ]

cat > "$WORK/introspect.lua" <<LUA
wrk.method = "POST"
wrk.body = '{"token":"$DEPLOY_TOKEN"}'
wrk.headers["content-type"] = "application/json"
wrk.headers["authorization"] = "Bearer $ADMIN_TOKEN"
LUA

metric() { curl -sf "$URL/metrics" | awk -v name="$1" '$1 == name {print $2}'; }
ROWS_BEFORE=$(metric gatepass_last_used_rows_written_total)

run() { # name, then wrk arguments
  local name=$1; shift
  wrk -t$THREADS -c$CONNECTIONS -d"${DURATION}s" --latency "$@" > "$WORK/$name.txt"
  python3 - "$WORK/$name.txt" "$name" >> "$WORK/results.tsv" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
def ms(v, unit): return float(v) * {'us': 0.001, 'ms': 1.0, 's': 1000.0}[unit]
rps = float(re.search(r'Requests/sec:\s+([\d.]+)', text).group(1))
total = int(re.search(r'(\d+) requests in', text).group(1))
p = {m.group(1): ms(m.group(2), m.group(3)) for m in re.finditer(r'\s(50|99)%\s+([\d.]+)(us|ms|s)\b', text)}
non2xx = re.search(r'Non-2xx or 3xx responses: (\d+)', text)
print(f"{sys.argv[2]}\t{rps:.0f}\t{p['50']:.3f}\t{p['99']:.3f}\t{total}\t{non2xx.group(1) if non2xx else 0}")
PY
}

run healthz "$URL/healthz"
run token_valid -H "authorization: Bearer $DEPLOY_TOKEN" "$URL/v1/token"
run token_invalid -H "authorization: Bearer $INVALID_TOKEN" "$URL/v1/token"
run introspect -s "$WORK/introspect.lua" "$URL/v1/introspect"

sleep 6 # one last-used flush interval, so the run's writes are counted
ROWS_AFTER=$(metric gatepass_last_used_rows_written_total)

python3 - "$WORK/results.tsv" "$ROWS_BEFORE" "$ROWS_AFTER" "$DURATION" <<'PY'
import sys
rows = [line.split('\t') for line in open(sys.argv[1]).read().splitlines()]
base_rps, base_p99 = float(rows[0][1]), float(rows[0][3])
print(f"\nwrk -t2 -c64 -d{sys.argv[4]}s, loopback, release build, SQLite\n")
print("| endpoint | req/s | p50 ms | p99 ms | requests | non-2xx | req/s vs /healthz | p99 vs /healthz |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
for name, rps, p50, p99, total, non2xx in rows:
    print(f"| {name} | {float(rps):.0f} | {float(p50):.3f} | {float(p99):.3f} | {total} | {non2xx} | "
          f"{float(rps)/base_rps:.0%} | {float(p99)/base_p99:.2f}x |")
authenticated = sum(int(r[4]) for r in rows[1:])
written = int(float(sys.argv[3])) - int(float(sys.argv[2]))
print(f"\ndatabase writes caused by {authenticated} authenticated requests: {written} last-used row updates "
      f"({written / max(authenticated, 1):.6f} per request)")
PY
