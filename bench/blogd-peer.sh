#!/usr/bin/env bash
# blogd as a peer of ../shared/bench/compare.sh: `start` runs the release binary as an operator
# would (throttling on, with the load generator's loopback address in throttle.allow; access,
# app and security logs written to files) on a data directory seeded by bench/run.sh, and
# prints the URLs to measure; `stop` stops it. Two instances on copies of the same data: plain
# HTTP on :8095 and the default HTTPS (local CA, rustls) on :8445.
#
#   BENCH_DATA=/tmp/bench-peers/blogd-data bench/blogd-peer.sh start|stop|urls
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
BIN=${BENCH_BLOGD_BIN:-$here/../target/release/blogd}
DATA=${BENCH_DATA:-/tmp/bench-peers/blogd-data}
RUN=/tmp/bench-peers/blogd
PLAIN=127.0.0.1:8095
TLS=127.0.0.1:8445

run_one() { # name listen tls
  local name=$1 listen=$2 tls=$3
  rm -rf "$RUN/$name"; cp -a "$DATA" "$RUN/$name"
  # Logs rotate at the default size, but more old files are kept than the default 30, so that
  # bench/run.sh can count every access line of a run against the requests sent.
  BLOGD_TLS_ENABLED=$tls BLOGD_THROTTLE_ALLOW=127.0.0.0/8 BLOGD_LOG_STDOUT=false \
  BLOGD_BACKUP_EVERY=off BLOGD_LOG_KEEP=1000 \
    "$BIN" serve --data-dir "$RUN/$name" --listen "$listen" >"$RUN/$name.out" 2>&1 &
  echo $! >"$RUN/$name.pid"
}

urls() {
  # shellcheck disable=SC1091
  source "$DATA/seeded.env"
  echo "BLOGD_LIST_URL='http://$PLAIN/api/v1/posts?per_page=20'"
  echo "BLOGD_VIEW_URL='http://$PLAIN/api/v1/posts/$VIEW_SLUG'"
  echo "BLOGD_FILTER_URL='http://$PLAIN/api/v1/posts?category=$FILTER_CATEGORY&tag=$FILTER_TAG'"
  echo "BLOGD_SEARCH_URL='http://$PLAIN/api/v1/posts?q=$SEARCH_WORD'"
  # (compare.sh skips keys containing HEALTH: those are readiness probes of the peers.)
  echo "BLOGD_CHECKS_URL='http://$PLAIN/api/healthcheck'"
  echo "BLOGD_TLS_LIST_URL='https://$TLS/api/v1/posts?per_page=20'"
  echo "BLOGD_TLS_VIEW_URL='https://$TLS/api/v1/posts/$VIEW_SLUG'"
}

case ${1:-start} in
  start)
    [[ -x $BIN ]] || { echo "no $BIN: run bench/run.sh (it builds and seeds)" >&2; exit 1; }
    [[ -f $DATA/seeded.env ]] || { echo "no seeded data in $DATA: run bench/run.sh" >&2; exit 1; }
    "$0" stop >/dev/null 2>&1 || true
    mkdir -p "$RUN"
    run_one plain "$PLAIN" false
    run_one tls "$TLS" true
    for _ in $(seq 1 100); do
      curl -fs "http://$PLAIN/readyz" >/dev/null 2>&1 && curl -fsk "https://$TLS/readyz" >/dev/null 2>&1 && break
      sleep 0.1
    done
    curl -fs "http://$PLAIN/readyz" >/dev/null || { cat "$RUN/plain.out" >&2; exit 1; }
    urls
    ;;
  stop)
    for name in plain tls; do
      [[ -f $RUN/$name.pid ]] && kill "$(cat "$RUN/$name.pid")" 2>/dev/null || true
      rm -f "$RUN/$name.pid"
    done
    ;;
  urls) urls ;;
  *) echo "usage: $0 start|stop|urls" >&2; exit 2 ;;
esac
