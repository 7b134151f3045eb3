#!/usr/bin/env sh
# Refreshes the vendored ReDoc bundle from the npm registry.
# Usage: ./refresh.sh [VERSION]   (default: the version in ./VERSION)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
version=${1:-$(cat "$here/VERSION")}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack "redoc@$version" >/dev/null && tar xzf redoc-*.tgz)
cp "$tmp/package/bundles/redoc.standalone.js" "$tmp/package/bundles/redoc.standalone.js.LICENSE.txt" "$here/"
cp "$tmp/package/LICENSE" "$here/LICENSE"
# The one thing the bundle fetches from the internet on its own is the "API docs by Redocly"
# logo. Air-gapped pages must not try: point it at an empty inline SVG instead.
sed -i 's#"https://cdn.redoc.ly/redoc/logo-mini.svg"#"data:image/svg+xml,%3Csvg%20xmlns=%27http://www.w3.org/2000/svg%27/%3E"#' "$here/redoc.standalone.js"
if grep -q 'cdn.redoc.ly' "$here/redoc.standalone.js"; then echo "redoc still references cdn.redoc.ly: check the patch" >&2; exit 1; fi
echo "$version" > "$here/VERSION"
echo "redoc $version vendored into $here"
