# The write path (sourced by `bench/load.sh writes`): token creates and
# deployments per second with 4 and then 16 concurrent clients, each write
# acknowledged only once it is durable (SQLite synchronous=FULL, PostgreSQL
# commit). Prints req/s and p99 per kind and concurrency.
start_benchmark_server
curl -sf -X PATCH "$URL/v1/orgs/demo" -H "authorization: Bearer $ADMIN_SESSION" -H 'content-type: application/json' \
  -d '{"plan":"team"}' > /dev/null
wrk_post_script "$WORK/create.lua" \
  '{"name":"bench","scopes":["deploy"],"project":"web","environment":"production"}' "$ADMIN_SESSION"
wrk_post_script "$WORK/deploy.lua" \
  '{"environment":"production","ref":"main","commit":"abc1234","description":"bench"}' "$DEPLOY_TOKEN"
for clients in 4 16; do
  CONNECTIONS=$clients wrk_round "$clients" "token create" -s "$WORK/create.lua" "$URL/v1/orgs/demo/tokens"
  CONNECTIONS=$clients wrk_round "$clients" deployment -s "$WORK/deploy.lua" "$URL/v1/projects/web/deployments"
done
printf '\nWrite path: wrk -t2, %ss per run, loopback, release build, %s\n\n' "$DURATION" "$BACKEND"
printf '| write | clients | req/s | p50 ms | p99 ms | non-2xx |\n|---|---:|---:|---:|---:|---:|\n'
awk -F'\t' '{printf "| %s | %s | %s | %.2f | %.2f | %s |\n", $2, $1, $3, $4, $5, $7}' "$WORK/results.tsv"
