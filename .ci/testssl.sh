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
# The verdict is read from testssl's JSON output (--jsonfile), never from its text.
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
# Its exit code is kept, not swallowed: the verdict below needs both it and the JSON.
set +e
testssl --quiet --color 0 --warnings off --add-ca "$work/data/tls/root.pem" \
  --jsonfile "$work/testssl.json" "$BLOGD_URL" >"$work/testssl.txt" 2>&1
code=$?
set -e

python3 - "$work/testssl.json" "$code" <<'PY' || { echo "testssl's own output ended:"; tail -15 "$work/testssl.txt"; exit 1; }
import json, sys

path, code = sys.argv[1], int(sys.argv[2])
problems = []
try:
    findings = json.load(open(path))
except (OSError, ValueError) as e:
    print(f"FAIL: no readable testssl JSON ({e}); exit code {code}")
    sys.exit(1)
if code != 0:
    meaning = {246: "could not connect"}.get(code, "errors or ambiguous results, or a fatal error")
    problems.append(f"testssl exited {code} ({meaning})")
by_id = {}
for f in findings:
    by_id.setdefault(f["id"], f)
    # FATAL: the scan could not go on (scanProblem); WARN: a check could not be made or the
    # scan was cut short. Either means the verdict below would rest on checks not made.
    if f["severity"] in ("FATAL", "WARN"):
        problems.append(f"scan problem: {f['severity']} {f['id']}: {f['finding']}")

def finding(id_):
    f = by_id.get(id_)
    return None if f is None else f["finding"].strip()

for proto in ("TLS1_2", "TLS1_3"):
    got = finding(proto)
    if got is None:
        problems.append(f"no result for {proto}: the protocols were not tested")
    elif not got.startswith("offered"):
        problems.append(f"{proto} must be offered, testssl says: {got}")
for proto in ("SSLv2", "SSLv3", "TLS1", "TLS1_1"):
    got = finding(proto)
    if got is None:
        problems.append(f"no result for {proto}: the protocols were not tested")
    elif not got.startswith("not offered"):
        problems.append(f"{proto} must not be offered, testssl says: {got}")

chain = finding("cert_chain_of_trust")
if chain is None or not chain.startswith("passed"):
    problems.append(f"certificate chain of trust to the local root: {chain or 'not tested'}")

# A private local CA has no CRL or OCSP responder; its leaves live 90 days and are renewed by
# blogd instead (the short-lived-certificate answer to revocation). This is a property of the
# local certificate, not of the TLS configuration, and it is the one accepted finding.
accepted = {"cert_revocation"}
for f in findings:
    if f["severity"] in ("HIGH", "CRITICAL") and f["id"] not in accepted:
        problems.append(f"{f['severity']} {f['id']}: {f['finding']}")

offered = [p for p in ("SSLv2", "SSLv3", "TLS1", "TLS1_1", "TLS1_2", "TLS1_3")
           if (finding(p) or "").startswith("offered")]
print(f"testssl: exit code {code}, {len(findings)} results; protocols offered: {', '.join(offered) or 'none'}")
for p in problems:
    print(f"FAIL: {p}")
sys.exit(1 if problems else 0)
PY
echo "ok: TLS 1.2 and 1.3 only, no HIGH or CRITICAL finding but the accepted one"
