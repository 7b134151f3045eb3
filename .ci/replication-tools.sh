#!/usr/bin/env bash
# Installs litestream and moto_server (pinned, hash-checked: .ci/requirements-replication.txt)
# into their own virtual environment, again only when that file changes, and prints the
# directory for PATH that holds those two commands only: the environment's own bin/ would also
# put its python3 first on PATH, hiding the packages other tests import (feedparser, aiosmtpd).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv=${REPLICATION_VENV:-/opt/blogd-replication-venv}
want=$(sha256sum "$root/.ci/requirements-replication.txt" | cut -d' ' -f1)
if [ "$(cat "$venv/.requirements.sha256" 2>/dev/null)" != "$want" ]; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --require-hashes -r "$root/.ci/requirements-replication.txt" >&2
  echo "$want" >"$venv/.requirements.sha256"
fi
"$venv/bin/litestream" version >&2
test -x "$venv/bin/moto_server"
mkdir -p "$venv/tools"
ln -sf "$venv/bin/litestream" "$venv/bin/moto_server" "$venv/tools/"
echo "$venv/tools"
