#!/usr/bin/env bash
# Line coverage of the whole test suite (unit + integration), with a floor that fails CI.
# cargo-llvm-cov with the toolchain's llvm-tools; when llvm-tools cannot be installed,
# cargo-tarpaulin (from crates.io) measures instead.
set -euo pipefail
cd "$(dirname "$0")/.."
FLOOR=${COVERAGE_FLOOR:-88}
if rustup component list --installed 2>/dev/null | grep -q '^llvm-tools' \
   || rustup component add llvm-tools >/dev/null 2>&1; then
  version=0.9.1
  cargo llvm-cov --version 2>/dev/null | grep -q " $version" \
    || cargo install cargo-llvm-cov --locked --version "$version" --quiet
  # Only blogd's own code counts (not the tests themselves).
  cargo llvm-cov --locked --summary-only --ignore-filename-regex '(^|/)(tests|benches)/' \
    | tee target/coverage.txt | grep -E '^(Filename|TOTAL)'
  percent=$(awk '/^TOTAL/ {print $10}' target/coverage.txt | tr -d '%')
else
  cargo tarpaulin --version >/dev/null 2>&1 || cargo install cargo-tarpaulin --locked --quiet
  cargo tarpaulin --locked --skip-clean --exclude-files 'tests/*' 'benches/*' --out Stdout \
    | tee target/coverage.txt | tail -3
  percent=$(sed -n 's/^\([0-9.]*\)% coverage.*/\1/p' target/coverage.txt | tail -1)
fi
echo "line coverage: ${percent}% (floor ${FLOOR}%)"
python3 -c "import sys; sys.exit(0 if float('$percent') >= float('$FLOOR') else 1)" \
  || { echo "FAIL: line coverage ${percent}% is below the floor of ${FLOOR}%"; exit 1; }
