#!/usr/bin/env bash
# Runs testssl.sh against a started blogd on its defaults (HTTPS with the local CA) and fails
# unless the scan really happened and the configuration is the one we promise:
# - the scan connected and finished: testssl exits 0 (it counts errors and ambiguous results in
#   its exit code; 246 means it could not connect), and its JSON has no FATAL or WARN entry
#   (scanProblem, "Scan interrupted", "doesn't seem to be a TLS/SSL enabled server");
# - TLS 1.2 and TLS 1.3 are offered, and SSLv2, SSLv3, TLS 1.0 and TLS 1.1 are not; a protocol
#   testssl did not report on counts as a failure, not as "not offered";
# - the certificate chains to the local root that clients are told to trust;
# - no finding rated HIGH or CRITICAL, but the one accepted below.
# The verdict is read from testssl's JSON output (--jsonfile) by .ci/testssl-verdict.py, never
# from its text.
# Usage: .ci/testssl.sh path/to/blogd
set -euo pipefail
bin=$(realpath "${1:?usage: $0 path/to/blogd}")
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"

if ! command -v testssl >/dev/null 2>&1; then
  echo "installing testssl.sh"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq testssl.sh >/dev/null
fi

work=$(mktemp -d)
cleanup() { stop_blogd; rm -rf "$work"; }
trap cleanup EXIT
start_blogd "$work/serve.out" "$bin" serve --data-dir "$work/data" --listen 127.0.0.1:0
echo "blogd: $BLOGD_URL"

# The local root is what clients are told to trust (`blogd tls export-ca`); so does testssl.
# Its exit code is kept, not swallowed: the verdict (.ci/testssl-verdict.py) needs both it and
# the JSON. A scan whose only problem is a single check that could not connect is made once
# more (never more): any other problem, or the same one twice, fails.
for attempt in 1 2; do
  set +e
  testssl --quiet --color 0 --warnings off --add-ca "$work/data/tls/root.pem" \
    --jsonfile "$work/testssl-$attempt.json" "$BLOGD_URL" >"$work/testssl-$attempt.txt" 2>&1
  code=$?
  python3 "$here/testssl-verdict.py" "$work/testssl-$attempt.json" "$code"
  verdict=$?
  set -e
  [ "$verdict" = 0 ] && break
  if [ "$verdict" = 2 ] && [ "$attempt" = 1 ]; then
    echo "a single check could not connect (a busy machine?): scanning once more"
    continue
  fi
  echo "testssl's own output ended:"; tail -15 "$work/testssl-$attempt.txt"
  exit 1
done
echo "ok: TLS 1.2 and 1.3 only, no HIGH or CRITICAL finding but the accepted one"
