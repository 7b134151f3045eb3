#!/usr/bin/env bash
# Analytics ingestion throughput: wrk posts signed page views to a release blogd (plain HTTP,
# loopback allow-listed so the throttle does not refuse the load generator), then SIGTERM, and
# the database must hold every accepted view. Target: >= 50,000 accepted views/s sustained.
# Usage: bench/pageview.sh [seconds] [connections]   (BENCH_BIN=path: that build, no build here)
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-10}
conns=${2:-64}
command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
if [[ -n ${BENCH_BIN:-} ]]; then
  bin=$BENCH_BIN
else
  cargo build --release --quiet
  bin=target/release/blogd
fi
work=$(mktemp -d)
secret=$(openssl rand -hex 32)
body='{"path":"/blog/benchmark-post","referrer":"https://news.example/x"}'
sig=$(printf '%s' "$body" | openssl dgst -sha256 -hmac "$secret" | awk '{print $2}')
cat >"$work/post.lua" <<LUA
wrk.method = "POST"
wrk.body = '$body'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Signature"] = "sha256=$sig"
local accepted = 0
response = function(status) if status == 202 then accepted = accepted + 1 end end
LUA
BLOGD_TLS_ENABLED=false BLOGD_LOG_STDOUT=false BLOGD_THROTTLE_ALLOW=127.0.0.0/8 \
BLOGD_ANALYTICS_SECRET=$secret BLOGD_ANALYTICS_QUEUE_SIZE=1000000 \
  "$bin" serve --data-dir "$work/data" --listen 127.0.0.1:18097 >"$work/out" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do grep -q listening "$work/out" && break; sleep 0.1; done
grep -q listening "$work/out" || { cat "$work/out"; exit 1; }
wrk -t2 -c"$conns" -d"${duration}s" -s "$work/post.lua" http://127.0.0.1:18097/api/v1/analytics/pageview | tee "$work/wrk.txt"
kill -TERM $pid; wait $pid || true
stored=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from pageviews').fetchone()[0])" "$work/data/blogd.db")
requests=$(awk '/requests in/ {print $1}' "$work/wrk.txt")
non2xx=$(awk '/Non-2xx/ {print $NF}' "$work/wrk.txt"); non2xx=${non2xx:-0}
accepted=$((requests - non2xx))
echo "accepted views: $accepted in ${duration}s = $((accepted / duration))/s; stored after SIGTERM: $stored"
# wrk counts only responses it read before its deadline; requests still in flight then were
# accepted too, so the database may hold a few more than wrk saw, never fewer.
[ "$stored" -ge "$accepted" ] && echo "OK: none lost" || { echo "LOST $((accepted - stored))"; exit 1; }
