#!/usr/bin/env bash
# Memory under sustained load: does the resident size level off when nobody scrapes /metrics
# or reads anything else the server keeps? Starts blogd as bench/blogd-peer.sh does (on the
# data seeded by bench/run.sh), drives public reads at its plain-HTTP instance with wrk in
# slices, and prints requests served and that instance's RSS after each slice.
#
#   bench/soak.sh [SLICES] [SECONDS_PER_SLICE]        (default 6 × 20 s)
#   BENCH_BLOGD_BIN=/path/to/blogd bench/soak.sh       (compare two builds)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export BENCH_BLOGD_BIN=${BENCH_BLOGD_BIN:-${CARGO_TARGET_DIR:-$here/../target}/release/blogd}
DATA=${BENCH_DATA:-/tmp/bench-peers/blogd-data}
slices=${1:-6}
seconds=${2:-20}

command -v wrk >/dev/null || { echo "wrk missing: apt-get install -y wrk" >&2; exit 1; }
"$here/blogd-peer.sh" start >/dev/null
trap '"$here/blogd-peer.sh" stop' EXIT
pid=$(cat /tmp/bench-peers/blogd/plain.pid)
# shellcheck disable=SC1091
source "$DATA/seeded.env"
base=$("$here/blogd-peer.sh" urls | sed -n "s|^BLOGD_LIST_URL='\(http://[^/]*\)/.*|\1|p")

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
echo "$("$BENCH_BLOGD_BIN" --version)  $slices × ${seconds}s, 64 connections, /metrics never scraped"
printf '%8s %12s %10s\n' slice requests rss_mb
printf '%8s %12s %10s\n' 0 0 "$(rss)"
total=0
for n in $(seq 1 "$slices"); do
  done_now=$(wrk -t2 -c64 -d"${seconds}s" -s "$lua" "$base" | awk '/requests in/ {print $1}')
  total=$((total + done_now))
  printf '%8s %12s %10s\n' "$n" "$total" "$(rss)"
done
rm -f "$lua"
