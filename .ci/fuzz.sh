#!/usr/bin/env bash
# Builds every fuzz target in fuzz/ (their own workspace, see fuzz/README.md) and runs each for a
# short fixed time, so that they keep building against the server's code and a crash that a
# short run finds fails CI. This is a smoke run, not the 10-minute runs of the README.
# Usage: .ci/fuzz.sh [seconds-per-target]
#
# cargo-fuzz needs a nightly compiler's -Z flags (sanitizer, coverage instrumentation); the
# machines have one stable toolchain and no other can be fetched, so RUSTC_BOOTSTRAP=1 lets
# that stable compiler accept them. The sanitizer runtimes ship with the stable rust-std.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
budget=${1:-25}
export RUSTC_BOOTSTRAP=1 CARGO_TERM_COLOR=never
version=0.13.2
if ! cargo fuzz --version 2>/dev/null | grep -q " $version\$"; then
  cargo install cargo-fuzz --locked --version "$version" --quiet
fi

# cargo fuzz has no --locked: check here that fuzz/Cargo.lock still matches (it must be updated
# with the server's dependencies), instead of letting the build rewrite it.
cargo fetch --locked --quiet
cargo fuzz build
targets=$(cargo fuzz list)
[ -n "$targets" ] || { echo "FAIL: cargo fuzz list names no target"; exit 1; }
# The built targets are run directly: `cargo fuzz run` would check the build again and, seen
# here, rebuild the server crate once more (minutes) for flags of its own.
out=target/$(rustc -vV | sed -n 's/^host: //p')/release

fail=0
for target in $targets; do
  args=(-max_total_time="$budget" -timeout=10 -print_final_stats=1)
  # JSON bodies up to the server's body limit, as in fuzz/README.md.
  [ "$target" = json_bodies ] && args+=(-max_len=65536)
  log=$(mktemp)
  echo "-- fuzz $target (${budget} s)"
  # As cargo fuzz run would: the corpus grows in corpus/<target> (not committed), and a crashing
  # input is saved in artifacts/<target>/ to replay.
  mkdir -p "corpus/$target" "artifacts/$target"
  if "$out/$target" -artifact_prefix="artifacts/$target/" "${args[@]}" "corpus/$target" >"$log" 2>&1; then
    # A run that executed nothing proves nothing: libFuzzer ends with "Done N runs in S second(s)".
    runs=$(sed -n 's/^Done \([0-9]*\) runs in .*/\1/p' "$log" | tail -1)
    if [ -z "$runs" ] || [ "$runs" -eq 0 ]; then
      echo "FAIL: $target ran no input"; tail -20 "$log"; fail=1
    else
      echo "$target: $runs inputs, no crash ($(grep -o 'cov: [0-9]*' "$log" | tail -1))"
    fi
  else
    echo "FAIL: $target crashed (or could not run); libFuzzer's report, shortened:"
    # The panic (or sanitizer report) first, then where the crashing input was saved.
    grep -E -A2 'panicked at|^==[0-9]+==ERROR' "$log" | head -12 || true
    grep -E '^SUMMARY|Test unit written|^Base64' "$log" || tail -30 "$log"
    fail=1
  fi
  rm -f "$log"
done
[ "$fail" = 0 ] && echo "ok: every fuzz target built and ran ${budget} s with no crash"
exit $fail
