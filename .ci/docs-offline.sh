#!/usr/bin/env bash
# Renders /api/docs/ (Swagger UI) and /api/redoc/ (ReDoc) in headless Chromium inside a network
# namespace that has only loopback: proves the docs pages need nothing from the internet, over
# the default HTTPS, and that their Content-Security-Policy lets them run (no violations logged).
# Usage: .ci/docs-offline.sh path/to/blogd
set -euo pipefail
bin=$(realpath "${1:?usage: $0 path/to/blogd}")

if ! command -v chromium >/dev/null 2>&1; then
  echo "installing chromium"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# How many operations the document has: both pages must show every one.
expected=$("$bin" openapi | python3 -c 'import json,sys; print(sum(len(v) for v in json.load(sys.stdin)["paths"].values()))')
echo "the OpenAPI document has $expected operations"

# Everything below runs with no network but loopback.
unshare --net bash -s "$bin" "$work" "$expected" <<'INNER'
set -euo pipefail
bin=$1; work=$2; expected=$3
ip link set lo up
"$bin" serve --data-dir "$work/data" --listen 127.0.0.1:18099 >"$work/serve.out" 2>"$work/serve.err" &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  grep -q "listening" "$work/serve.out" 2>/dev/null && break
  sleep 0.1
done

render() {
  # The local CA is not in Chromium's store; this check is about rendering, not trust.
  chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --no-first-run --disable-sync --disable-quic \
    --ignore-certificate-errors --enable-logging=stderr --v=0 \
    --user-data-dir="$work/profile-$1" --virtual-time-budget=15000 \
    --dump-dom "https://127.0.0.1:18099$2" 2>"$work/chromium-$1.err"
}

csp_violations() {
  grep -iE "content security policy|refused to (load|execute|apply|connect|create)" "$work/chromium-$1.err" || true
}

fail=0
swagger=$(render swagger /api/docs/)
operations=$(grep -o 'class="opblock opblock-' <<<"$swagger" | wc -l)
echo "swagger ui: $operations operations rendered"
[ "$operations" -eq "$expected" ] || { echo "FAIL: Swagger UI did not render the operations list"; fail=1; }
grep -q '/api/v1/posts' <<<"$swagger" || { echo "FAIL: Swagger UI shows no /api/v1/posts"; fail=1; }
violations=$(csp_violations swagger)
[ -z "$violations" ] || { echo "FAIL: CSP violations on /api/docs/:"; echo "$violations"; fail=1; }

redoc=$(render redoc /api/redoc/)
redoc_ops=$(grep -o 'data-section-id="operation/' <<<"$redoc" | wc -l)
echo "redoc: $redoc_ops operations rendered"
[ "$redoc_ops" -eq "$expected" ] || { echo "FAIL: ReDoc did not render the operations list"; fail=1; }
violations=$(csp_violations redoc)
[ -z "$violations" ] || { echo "FAIL: CSP violations on /api/redoc/:"; echo "$violations"; fail=1; }
exit $fail
INNER
