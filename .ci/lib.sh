# Shared by the .ci scripts that start blogd (sourced, not run).
#
# The server is told to listen on port 0: the kernel picks a free port, so no two scripts (nor
# another program on the machine) can collide on a fixed one, and blogd prints the address it got
# ("blogd listening on URL"), which is read back here.

# start_blogd OUT CMD… : runs CMD (a `blogd serve … --listen 127.0.0.1:0`) in the background with
# its output in the file OUT (which must be new: an old "listening" line would be read back),
# then waits until it says where it listens. Sets BLOGD_PID, BLOGD_URL (e.g.
# https://127.0.0.1:40123) and BLOGD_ADDR (127.0.0.1:40123). Fails (non-zero) if the server exits
# first or has not said so within 30 s; the caller's EXIT trap must call stop_blogd.
start_blogd() {
  local out=$1 i
  shift
  BLOGD_URL=
  "$@" >"$out" 2>&1 &
  BLOGD_PID=$!
  for i in $(seq 1 300); do
    BLOGD_URL=$(sed -n 's/^blogd listening on \([^ ]*\).*/\1/p' "$out" | head -1)
    if [ -n "$BLOGD_URL" ]; then
      BLOGD_ADDR=${BLOGD_URL#*://}
      return 0
    fi
    if ! kill -0 "$BLOGD_PID" 2>/dev/null; then
      echo "FAIL: blogd exited before it listened; its output:"
      tail -30 "$out"
      return 1
    fi
    sleep 0.1
  done
  echo "FAIL: blogd did not say it was listening within 30 s (after $i checks); its output:"
  tail -30 "$out"
  return 1
}

# stop_blogd : stops the server started by start_blogd, if it runs, and waits for it to exit
# (so its data directory can be removed). Safe to call twice and from an EXIT trap.
stop_blogd() {
  if [ -n "${BLOGD_PID:-}" ]; then
    kill "$BLOGD_PID" 2>/dev/null || true
    wait "$BLOGD_PID" 2>/dev/null || true
    BLOGD_PID=
  fi
}
