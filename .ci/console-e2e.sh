#!/usr/bin/env bash
# End-to-end check of `blogd console` in a real terminal (tmux) against a real server:
# it shows health; a ban caused by failed logins appears in the Throttle tab and `u` lifts it
# (checked over HTTP); `n` in the Backups tab makes a backup that `blogd backup list` shows;
# it says "disconnected" when the server goes away and reconnects when it is back; `q` quits.
# Usage: .ci/console-e2e.sh path/to/blogd
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
bin=$(realpath "${1:?usage: $0 path/to/blogd}")
command -v tmux >/dev/null || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tmux >/dev/null; }

work=$(mktemp -d)
session="blogd-e2e-$$"
export BLOGD_TLS_ENABLED=false BLOGD_THROTTLE_BAN_AFTER=3 BLOGD_BACKUP_EVERY=off BLOGD_LOG_STDOUT=false
# The first start takes a free port (port 0); the restart below reuses the address it got, as
# a restarted server would.
listen=127.0.0.1:0
starts=0
start_server() {
  starts=$((starts + 1))
  start_blogd "$work/serve-$starts.out" "$bin" serve --data-dir "$work/data" --listen "$listen"
  listen=$BLOGD_ADDR
  base=$BLOGD_URL
  curl -fsS "$base/healthz" >/dev/null || { echo "FAIL: no /healthz at $base"; exit 1; }
}
cleanup() {
  tmux kill-session -t "$session" 2>/dev/null || true
  stop_blogd
  rm -rf "$work"
}
trap cleanup EXIT
start_server

screen() { tmux capture-pane -p -t "$session"; }
wait_for() { # extended regex, what
  for _ in $(seq 1 50); do screen | grep -Eq -- "$1" && return 0; sleep 0.2; done
  echo "FAIL: $2 (waited for '$1'); the screen was:"; screen; exit 1
}
status() { curl -s -o /dev/null -w '%{http_code}' "$base$1"; }

# Three failed logins from 127.0.0.1: a ban.
for _ in 1 2 3; do
  curl -s -o /dev/null -H 'content-type: application/json' -d '{"username":"admin","password":"wrong-password-1"}' "$base/api/v1/auth/login"
done
[ "$(status /api/v1/posts)" = 403 ] || { echo "FAIL: no ban after failed logins"; exit 1; }

tmux new-session -d -s "$session" -x 100 -y 30 "$bin console --data-dir $work/data"
# " connected " with its spaces: "disconnected, retrying" must not count as connected.
wait_for " connected " "the console connects"
wait_for "Overall +(healthy|degraded)" "the overview shows health"
echo "ok: overview shows health"

tmux send-keys -t "$session" 2
wait_for "127.0.0.1" "the ban is listed in the Throttle tab"
tmux send-keys -t "$session" u
for _ in $(seq 1 50); do [ "$(status /api/v1/posts)" = 200 ] && break; sleep 0.2; done
[ "$(status /api/v1/posts)" = 200 ] || { echo "FAIL: u did not lift the ban"; screen; exit 1; }
echo "ok: u lifted the ban (checked over HTTP)"

before=$("$bin" backup list --data-dir "$work/data" | grep -c '\.db' || true)
tmux send-keys -t "$session" 4
wait_for "Backups in" "the Backups tab"
tmux send-keys -t "$session" n
wait_for "made and verified" "n makes a backup"
after=$("$bin" backup list --data-dir "$work/data" | grep -c '\.db' || true)
[ "$after" -eq $((before + 1)) ] || { echo "FAIL: blogd backup list shows $after backups, expected $((before + 1))"; exit 1; }
echo "ok: n made a backup that blogd backup list shows"

stop_blogd
wait_for "disconnected, retrying" "the console notices the server is gone"
start_server
wait_for " connected " "the console reconnects"
echo "ok: disconnected and reconnected"

tmux send-keys -t "$session" q
for _ in $(seq 1 25); do tmux has-session -t "$session" 2>/dev/null || break; sleep 0.2; done
if tmux has-session -t "$session" 2>/dev/null; then echo "FAIL: q did not quit"; exit 1; fi
echo "ok: q quits"
