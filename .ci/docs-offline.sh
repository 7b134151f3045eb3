#!/usr/bin/env bash
# Renders /api/docs/ (Swagger UI) and /api/redoc/ (ReDoc) in headless Chromium inside a network
# namespace that has only loopback: proves the docs pages need nothing from the internet, over
# the default HTTPS, that they render every operation (a blank page fails), and that their
# Content-Security-Policy lets them run. Chromium is driven over the DevTools protocol by
# .ci/docs-browser.py, which collects CSP violations as events and, in the same run, plants one
# on each page as a positive control that must be detected (see that file).
# Usage: .ci/docs-offline.sh path/to/blogd
set -euo pipefail
bin=$(realpath "${1:?usage: $0 path/to/blogd}")
here=$(cd "$(dirname "$0")" && pwd)

if ! command -v chromium >/dev/null 2>&1; then
  echo "installing chromium"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
chromium --version

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# How many operations the document has: both pages must show every one.
expected=$(timeout 60 "$bin" openapi | python3 -c 'import json,sys; print(sum(len(v) for v in json.load(sys.stdin)["paths"].values()))')
[ "$expected" -gt 0 ] || { echo "FAIL: the OpenAPI document has no operations"; exit 1; }
echo "the OpenAPI document has $expected operations"

# Everything below runs with no network but loopback.
unshare --net bash -s "$bin" "$work" "$expected" "$here" <<'INNER'
set -euo pipefail
bin=$1; work=$2; expected=$3; here=$4
source "$here/lib.sh"
ip link set lo up
trap stop_blogd EXIT
start_blogd "$work/serve.out" "$bin" serve --data-dir "$work/data" --listen 127.0.0.1:0
echo "blogd: $BLOGD_URL (in a network namespace with only loopback)"
timeout 600 python3 "$here/docs-browser.py" "$BLOGD_URL" "$expected" "$work" \
  || { echo "FAIL: the docs pages (the end of Chromium's own output, without its D-Bus noise):"
       grep -v 'dbus' "$work/chromium.out" | tail -20 || true; exit 1; }
echo "ok: both docs pages rendered every operation offline with no CSP violation"
INNER
