#!/usr/bin/env bash
# OpenAPI conformance: schemathesis (installed into a virtualenv with pip)
# against a live gatepass server, with an instance admin's session, checking
# that every answer is documented with its status, media type and schema.
# Exits non-zero on any failure. Used by .ci/run; see the README's "Testing".
set -euo pipefail
cd "$(dirname "$0")/.."

venv=${SCHEMATHESIS_VENV:-target/schemathesis-venv}
if [ ! -x "$venv/bin/schemathesis" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check 'schemathesis>=4,<5'
fi

cargo build --quiet -p gatepass
gatepass="${CARGO_TARGET_DIR:-target}/debug/gatepass"
work=$(mktemp -d)
server=""
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

email=admin@example.test
password=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
printf '%s\n' "$password" > "$work/password"
"$gatepass" admin create --email "$email" --password-file "$work/password" --data-dir "$work" 2>/dev/null
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url="http://127.0.0.1:$port"
ML_DEPLOYMENT_TOKEN_SALT=$(head -c 48 /dev/urandom | base64) RUST_LOG=warn \
  "$gatepass" serve --listen "127.0.0.1:$port" --data-dir "$work" 2>"$work/server.log" &
server=$!
for _ in $(seq 1 100); do
  curl -fsS "$url/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done

session=$(curl -fsS "$url/v1/sessions" -H 'content-type: application/json' \
  -d "{\"email\":\"$email\",\"password\":\"$password\"}" | python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])')
# Something for the generated requests to find: an org with a project and environments.
auth=(-H "authorization: Bearer $session" -H 'content-type: application/json')
curl -fsS "$url/v1/orgs" "${auth[@]}" -d '{"name":"Acme","slug":"acme","plan":"pro"}' >/dev/null
curl -fsS "$url/v1/orgs/acme/projects" "${auth[@]}" -d '{"name":"Web","slug":"web"}' >/dev/null
curl -fsS "$url/v1/projects/web/environments" "${auth[@]}" -d '{"name":"production"}' >/dev/null

# Point the generated requests at the objects above as well as at random ids.
cat > "$work/schemathesis.toml" <<TOML
[parameters]
"path.org" = "acme"
"path.project" = "web"
TOML

# Logging out would end the session the rest of the run uses; it is covered
# by the black-box tests instead.
"$venv/bin/schemathesis" --config-file "$work/schemathesis.toml" run "$url/v1/openapi.json" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
  --header "Authorization: Bearer $session" \
  --exclude-path /v1/sessions/current \
  --max-examples "${SCHEMATHESIS_MAX_EXAMPLES:-30}" \
  --workers 2 \
  --no-color
