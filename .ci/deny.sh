#!/usr/bin/env bash
# Supply-chain gate: cargo-deny (pinned) against deny.toml, offline, with the RustSec advisory
# database snapshot from the shared folder beside the project (the machines reach no git host).
set -euo pipefail
cd "$(dirname "$0")/.."
version=0.20.2
if ! cargo deny --version 2>/dev/null | grep -q " $version"; then
  cargo install cargo-deny --locked --version "$version" --quiet
fi
shared=${BLOGD_SHARED_DIR:-}
for candidate in "$PWD/../shared" /work/shared; do
  [ -z "$shared" ] && [ -x "$candidate/tools/install-rustsec-db.sh" ] && shared=$candidate
done
[ -n "$shared" ] || { echo "FAIL: no ../shared/tools/install-rustsec-db.sh (set BLOGD_SHARED_DIR)"; exit 1; }
"$shared/tools/install-rustsec-db.sh"
echo "RustSec advisory database snapshot: $(cat "$shared/rustsec-advisory-db/SNAPSHOT")"
# cargo-deny reads the metadata of every crate in Cargo.lock, for every target (wasm ones too):
# fetch them first from the registry, which the machines do reach, so --offline finds them all.
cargo fetch --locked --quiet
out=$(cargo deny --offline check --hide-inclusion-graph 2>&1) && ok=1 || ok=0
# Duplicate small crates are warnings (see deny.toml); show how many, and every error in full.
echo "duplicate crate versions (allowed, shown as warnings): $(grep -c '^warning\[duplicate\]' <<<"$out" || true)"
awk '/^(error|warning)\[/{show = ($0 !~ /^warning\[duplicate\]/)} /^(advisories|bans|licenses|sources) /{show=1} show' <<<"$out"
# A failure that is no finding (cargo metadata, a missing crate) prints only ERROR lines: show them.
[ "$ok" = 1 ] || { grep -E '\[ERROR\]|^error' <<<"$out" | grep -v '^error\[' || true; echo "FAIL: cargo deny"; exit 1; }
