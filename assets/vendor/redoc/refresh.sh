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
echo "$version" > "$here/VERSION"
echo "redoc $version vendored into $here"
