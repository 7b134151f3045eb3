#!/usr/bin/env bash
# Builds the Debian package: release binary, then the generated assets (packaged config,
# man page, completions) from the binary itself, then cargo-deb.
# Usage: packaging/build-deb.sh   → prints the .deb's path last
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v cargo-deb >/dev/null 2>&1; then
  cargo install cargo-deb --version 3.8.0 --locked
fi
cargo build --release --locked
bin=target/release/blogd
out=target/deb-assets
mkdir -p "$out"
"$bin" config print-default --packaged >"$out/blogd.toml"
"$bin" config check "$out/blogd.toml" >/dev/null
"$bin" man | gzip -9n >"$out/blogd.1.gz"
"$bin" completions bash >"$out/blogd.bash"
"$bin" completions zsh >"$out/_blogd"
"$bin" completions fish >"$out/blogd.fish"
cargo deb --no-build --no-strip --locked 2>&1 | tail -1
