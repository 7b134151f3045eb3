#!/usr/bin/env bash
# Memory under sustained load: does the resident size level off when nobody scrapes /metrics
# or reads anything else the server keeps? Starts the release binary on the data seeded by
# bench/run.sh (plain HTTP, throttling on with loopback allow-listed, logs to files), drives
# public reads with wrk in slices, and prints requests served and RSS after each slice.
#
#   bench/soak.sh [SLICES] [SECONDS_PER_SLICE]        (default 6 × 20 s)
#   BENCH_BLOGD_BIN=/path/to/blogd bench/soak.sh       (compare two builds)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
BIN=${BENCH_BLOGD_BIN:-${CARGO_TARGET_DIR:-$here/../target}/release/blogd}
DATA=${BENCH_DATA:-/tmp/bench-peers/blogd-data}
RUN=/tmp/bench-peers/soak
LISTEN=127.0.0.1:8097
slices=${1:-6}
seconds=${2:-20}

[[ -x $BIN ]] || { echo "no $BIN: cargo build --release" >&2; exit 1; }
[[ -f $DATA/seeded.env ]] || { echo "no seeded data in $DATA: run bench/run.sh first" >&2; exit 1; }
command -v wrk >/dev/null || { echo "wrk missing: apt-get install -y wrk" >&2; exit 1; }
# shellcheck disable=SC1091
source "$DATA/seeded.env"

rm -rf "$RUN"; cp -a "$DATA" "$RUN"
BLOGD_TLS_ENABLED=false BLOGD_THROTTLE_ALLOW=127.0.0.0/8 BLOGD_LOG_STDOUT=false BLOGD_BACKUP_EVERY=off \
  "$BIN" serve --data-dir "$RUN" --listen "$LISTEN" >"$RUN.out" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do curl -fs "http://$LISTEN/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
curl -fs "http://$LISTEN/readyz" >/dev/null || { cat "$RUN.out" >&2; exit 1; }

rss() { awk '/VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$pid/status"; }
# A mix of cached and uncached reads: the list, one post, and a search.
lua=$(mktemp --suffix .lua)
cat >"$lua" <<LUA
local paths = { "/api/v1/posts?per_page=20", "/api/v1/posts/$VIEW_SLUG", "/api/v1/posts?q=$SEARCH_WORD" }
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i % #paths) + 1])
end
LUA
echo "$($BIN --version)  $slices × ${seconds}s, 64 connections, /metrics never scraped"
printf '%8s %12s %10s\n' slice requests rss_mb
printf '%8s %12s %10s\n' 0 0 "$(rss)"
total=0
for n in $(seq 1 "$slices"); do
  done_now=$(wrk -t2 -c64 -d"${seconds}s" -s "$lua" "http://$LISTEN" | awk '/requests in/ {print $1}')
  total=$((total + done_now))
  printf '%8s %12s %10s\n' "$n" "$total" "$(rss)"
done
rm -f "$lua"
