# Shared set-up of the loopback benchmarks (sourced by bench/load.sh and
# bench/instructions.sh): builds the release binary, starts
# `gatepass serve --demo` on a fresh SQLite data directory, and creates the
# tokens and the wrk script every benchmark uses.
#
# WORK is a scratch directory, removed on exit with the server. After
# `start_benchmark_server [command prefix…]`, these are set:
#   URL, SERVER_PID         the server and its process
#   ADMIN_SESSION           a session of the demo admin
#   DEPLOY_TOKEN            a project deploy token (the verify path)
#   ADMIN_TOKEN             an org admin token (the introspecting service)
#   INVALID_TOKEN           well-formed, valid checksum, matches no token
#   INTROSPECT_LUA          a wrk script: POST /v1/introspect of DEPLOY_TOKEN
# and `benchmark_endpoint NAME` prints the wrk arguments for one endpoint,
# `wrk_round` runs wrk once and records its figures.

BENCHMARK_ENDPOINTS=(healthz token_valid token_invalid introspect)
WORK=$(mktemp -d)
SERVER_PID=
# BACKEND=postgres runs the server on a fresh database of the PostgreSQL at
# 127.0.0.1:5432 (user postgres), dropped on exit; the default is SQLite.
BACKEND="${BACKEND:-sqlite}"
BENCH_DB=
cleanup_benchmark() {
  if [ -n "$SERVER_PID" ]; then kill $SERVER_PID 2>/dev/null || true; fi
  wait 2>/dev/null || true
  if [ -n "$BENCH_DB" ]; then psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS $BENCH_DB" postgres >/dev/null 2>&1 || true; fi
  rm -rf "$WORK"
}
trap cleanup_benchmark EXIT
SALT="load-benchmark-salt-load-benchmark-salt"
# Where the server keeps its data: the SQLite data directory or the database URL.
DATABASE="$WORK/data"
if [ "$BACKEND" = postgres ]; then
  BENCH_DB="gatepass_bench_$$"
  psql -q -h 127.0.0.1 -U postgres -c "CREATE DATABASE $BENCH_DB" postgres
  DATABASE="postgres://postgres@127.0.0.1:5432/$BENCH_DB"
fi

start_benchmark_server() { # [command prefix, e.g. valgrind --tool=callgrind]
  command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 1; }
  command -v python3 >/dev/null || { echo "python3 is missing" >&2; exit 1; }
  cargo build --release -q -p gatepass
  local bin="${CARGO_TARGET_DIR:-target}/release/gatepass"
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  URL="http://127.0.0.1:$port"
  # Failed-auth limiting is per client address and all load comes from one, so
  # it is raised here; otherwise the invalid-token run would measure 429s.
  local database_url=
  [ "$BACKEND" = postgres ] && database_url="$DATABASE"
  ML_DEPLOYMENT_TOKEN_SALT="$SALT" RUST_LOG=warn DATABASE_URL="$database_url" \
    GATEPASS_AUTH_FAILURES_PER_MINUTE=1000000000 GATEPASS_LAST_USED_FLUSH_SECS="${LAST_USED_FLUSH_SECS:-5}" \
    "$@" "$bin" serve --demo --listen "127.0.0.1:$port" --data-dir "$WORK/data" 2> "$WORK/server.log" &
  SERVER_PID=$!
  for _ in $(seq 1 600); do curl -sf "$URL/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
  local password
  password=$(grep -o 'with password [A-Za-z0-9]*' "$WORK/server.log" | awk '{print $3}')
  ADMIN_SESSION=$(curl -sf "$URL/v1/sessions" -H 'content-type: application/json' \
    -d "{\"email\":\"admin@gatepass.local\",\"password\":\"$password\"}" | json_field token)
  create() {
    curl -sf "$URL/v1/orgs/demo/tokens" -H "authorization: Bearer $ADMIN_SESSION" -H 'content-type: application/json' \
      -d "$1" | json_field token
  }
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
  INTROSPECT_LUA="$WORK/introspect.lua"
  wrk_post_script "$INTROSPECT_LUA" "{\"token\":\"$DEPLOY_TOKEN\"}" "$ADMIN_TOKEN"
}

wrk_post_script() { # file, JSON body, bearer credential: a wrk script that POSTs the body
  cat > "$1" <<LUA
wrk.method = "POST"
wrk.body = '$2'
wrk.headers["content-type"] = "application/json"
wrk.headers["authorization"] = "Bearer $3"
LUA
}

# CPU time the server process has used, user and kernel, in clock ticks
# (/proc/PID/stat fields 14 and 15; the name in field 2 has no spaces).
server_cpu_ticks() { awk '{print $14 + $15}' "/proc/$SERVER_PID/stat"; }

# The figures of a wrk report (file): req/s, requests, p50 and p99 in ms (0
# when run without --latency) and non-2xx responses, tab-separated.
wrk_figures() { # wrk output file
  python3 - "$1" <<'PY2'
import re, sys
text = open(sys.argv[1]).read()
def ms(v, unit): return float(v) * {'us': 0.001, 'ms': 1.0, 's': 1000.0}[unit]
rps = float(re.search(r'Requests/sec:\s+([\d.]+)', text).group(1))
total = int(re.search(r'(\d+) requests in', text).group(1))
p = {m.group(1): ms(m.group(2), m.group(3)) for m in re.finditer(r'\s(50|99)%\s+([\d.]+)(us|ms|s)\b', text)}
non2xx = re.search(r'Non-2xx or 3xx responses: (\d+)', text)
print(f"{rps:.0f}\t{total}\t{p.get('50', 0):.3f}\t{p.get('99', 0):.3f}\t{non2xx.group(1) if non2xx else 0}")
PY2
}

# Runs wrk for DURATION seconds (THREADS threads, CONNECTIONS connections) and
# appends "round, name, req/s, p50 ms, p99 ms, requests, non-2xx, server CPU
# µs per request" to $WORK/results.tsv. The server's CPU time per request
# (user and kernel, the kernel's loopback work for both ends included) is
# what the server costs apart from the load generator that shares its cores,
# and drifts far less between rounds than req/s does.
wrk_round() { # round, name, then wrk arguments
  local round=$1 name=$2 cpu_before cpu_after rps total p50 p99 non2xx cpu_us; shift 2
  cpu_before=$(server_cpu_ticks)
  wrk -t"${THREADS:-2}" -c"${CONNECTIONS:-64}" -d"${DURATION}s" --latency "$@" > "$WORK/wrk.txt"
  cpu_after=$(server_cpu_ticks)
  read -r rps total p50 p99 non2xx < <(wrk_figures "$WORK/wrk.txt")
  cpu_us=$(awk -v ticks=$(( cpu_after - cpu_before )) -v tck="$(getconf CLK_TCK)" -v total="$total" \
    'BEGIN {printf "%.2f", ticks / tck * 1e6 / (total > 0 ? total : 1)}')
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$name" "$rps" "$p50" "$p99" "$total" "$non2xx" "$cpu_us" \
    >> "$WORK/results.tsv"
}

json_field() { python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }

benchmark_endpoint() { # name -> wrk arguments, one per line
  case $1 in
    healthz) printf '%s\n' "$URL/healthz" ;;
    token_valid) printf '%s\n' -H "authorization: Bearer $DEPLOY_TOKEN" "$URL/v1/token" ;;
    token_invalid) printf '%s\n' -H "authorization: Bearer $INVALID_TOKEN" "$URL/v1/token" ;;
    introspect) printf '%s\n' -s "$INTROSPECT_LUA" "$URL/v1/introspect" ;;
  esac
}

metric() { curl -sf "$URL/metrics" | awk -v name="$1" '$1 == name {print $2}'; }
