#!/usr/bin/env bash
# Typed clients generated from the served OpenAPI document, the way a front end makes them, and
# driven through a realistic flow (clients/README.md):
#   1. start blogd (plain HTTP, a scratch data dir, a clean environment) and fetch /api/schema;
#   2. generate a TypeScript client (openapi-typescript + openapi-fetch) and type-check the flow
#      with tsc --strict; generate a Python client (openapi-python-client) and run mypy --strict
#      over the package and its flow;
#   3. run both flows (sign-in, taxonomy, posts, lists, ETags, If-Match, comments, refresh,
#      logout, SEO, a real 429), each against its own server, recording every exchange;
#   4. validate the document (openapi-spec-validator) and every recorded answer against it
#      (status, headers, body: clients/validate.py with openapi-core).
# Tools install idempotently from lockfiles: npm ci (package-lock.json), pip --require-hashes.
# Usage: .ci/clients.sh path/to/blogd          Exits non-zero on the first problem.
set -euo pipefail
bin=$(realpath "${1:?usage: $0 path/to/blogd}")
root=$(cd "$(dirname "$0")/.." && pwd)
clients=$root/clients
venv=${CLIENTS_VENV:-/opt/blogd-clients-venv}
work=$(mktemp -d)
pids=()
cleanup() {
  if [ -n "${CLIENTS_KEEP:-}" ]; then cp "$work"/*.jsonl "$work/openapi.json" "$CLIENTS_KEEP"/ 2>/dev/null || true; fi
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
t0=$SECONDS
lap() { printf '   [%ss] %s\n' "$((SECONDS - t0))" "$1"; }

# Tools, reinstalled only when their lockfile changes.
want=$(sha256sum "$clients/python/requirements.txt" | cut -d' ' -f1)
if [ "$(cat "$venv/.requirements.sha256" 2>/dev/null)" != "$want" ]; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --require-hashes -r "$clients/python/requirements.txt"
  echo "$want" >"$venv/.requirements.sha256"
fi
(
  cd "$clients/ts"
  if ! cmp -s package-lock.json node_modules/.installed-lock 2>/dev/null; then
    npm ci --no-audit --no-fund --loglevel=error
    cp package-lock.json node_modules/.installed-lock
  fi
)
lap "tools installed"

# One server per flow: each flow ends by tripping the sign-in limit of its address. Loopback
# is not exempt (throttle.allow is empty), so every answer carries the RateLimit-* headers the
# document declares; the general limits are raised so that only sign-in (10 per 5 minutes)
# refuses anything.
# A known analytics secret, so that the flow can sign page views as a front end's server does.
analytics_secret=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
start() { # name → writes $work/NAME/{base,admin,password}
  local dir=$work/$1
  mkdir -p "$dir"
  env -i PATH="$PATH" HOME="$dir" \
    BLOGD_TLS_ENABLED=false BLOGD_SERVER_LISTEN=127.0.0.1:0 BLOGD_LOG_STDOUT=false \
    BLOGD_BACKUP_EVERY=off BLOGD_THROTTLE_ALLOW= \
    BLOGD_THROTTLE_ANONYMOUS=100000/hour BLOGD_THROTTLE_AUTHENTICATED=100000/hour \
    BLOGD_THROTTLE_WRITE=10000/minute BLOGD_THROTTLE_COMMENT=1000/minute \
    BLOGD_THROTTLE_LOGIN=10/5m BLOGD_ANALYTICS_SECRET="$analytics_secret" \
    "$bin" serve --data-dir "$dir/data" >"$dir/out" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 150); do grep -q '^blogd listening on' "$dir/out" && break; sleep 0.1; done
  sed -n 's/^blogd listening on \(http:[^ ]*\).*/\1/p' "$dir/out" | head -1 >"$dir/base"
  sed -n 's/^ *username: *\([^ ]*\).*/\1/p' "$dir/out" | head -1 >"$dir/admin"
  sed -n 's/^ *password: *\([^ ]*\).*/\1/p' "$dir/out" | head -1 >"$dir/password"
  if [ ! -s "$dir/base" ] || [ ! -s "$dir/password" ]; then
    echo "blogd ($1) did not start:"; cat "$dir/out"; exit 1
  fi
}
start ts
start py
base_ts=$(cat "$work/ts/base")
base_py=$(cat "$work/py/base")
curl -fsS "$base_ts/api/schema" -o "$work/openapi.json"
lap "two servers up, document fetched from $base_ts/api/schema"
"$venv/bin/python" "$clients/validate.py" "$work/openapi.json"

# TypeScript: generate, type-check (strict), run.
(
  cd "$clients/ts"
  rm -rf generated
  npx --no-install openapi-typescript "$work/openapi.json" -o generated/schema.d.ts --silent
  npx --no-install tsc --noEmit -p .
)
lap "TypeScript client generated, tsc --strict clean"
# A flow that fails still leaves its recorded answers to validate: both are reported.
failed=0
touch "$work/ts.jsonl" "$work/py.jsonl"
if (cd "$clients/ts" && BLOGD_ANALYTICS_SECRET=$analytics_secret npx --no-install tsx flow.ts "$base_ts" "$(cat "$work/ts/admin")" "$(cat "$work/ts/password")" "$work/ts.jsonl"); then
  lap "TypeScript flow passed"
else
  failed=1
fi

# Python: generate, mypy --strict, run.
rm -rf "$clients/python/generated"
(
  cd "$work"
  PATH="$venv/bin:$PATH" "$venv/bin/openapi-python-client" generate --path "$work/openapi.json" \
    --output-path "$clients/python/generated/blogd_client" --meta none >"$work/pygen.log" 2>&1 \
    || { cat "$work/pygen.log"; exit 1; }
)
# The generator skips what it cannot express (non-JSON answers, a text/plain request body):
# those warnings are expected; anything else it warns about is a problem of the document.
if grep -q WARNING "$work/pygen.log"; then
  unexpected=$(grep -A2 '^WARNING' "$work/pygen.log" \
    | grep -v -e '^WARNING' -e '^--' -e '^$' \
              -e 'Unsupported content_type \(image/\*\|application/xml\|application/rss+xml\|text/plain\|text/html\)' \
              -e '^Unsupported content type text/plain$' || true)
  if [ -n "$unexpected" ]; then
    echo "openapi-python-client warned:"; cat "$work/pygen.log"; exit 1
  fi
fi
(cd "$clients/python" && MYPYPATH=generated "$venv/bin/mypy" --config-file mypy.ini --cache-dir "$work/mypy-cache" generated/blogd_client flow.py)
lap "Python client generated, mypy --strict clean"
if (cd "$clients/python" && PYTHONPATH=generated "$venv/bin/python" flow.py "$base_py" "$(cat "$work/py/admin")" "$(cat "$work/py/password")" "$work/py.jsonl"); then
  lap "Python flow passed"
else
  failed=1
fi

# Every answer either flow received, against the document.
if "$venv/bin/python" "$clients/validate.py" "$work/openapi.json" "$work/ts.jsonl" "$work/py.jsonl"; then
  lap "every recorded answer matches the document"
else
  failed=1
fi
[ "$failed" = 0 ] || { echo "clients: FAILED"; exit 1; }

for name in ts py; do
  if grep -q '"level":"ERROR"' "$work/$name/data/logs/app.log" 2>/dev/null; then
    echo "blogd ($name) logged errors:"; grep '"level":"ERROR"' "$work/$name/data/logs/app.log" | head -20
    exit 1
  fi
done
echo "clients: ok in $((SECONDS - t0)) s"
