#!/usr/bin/env bash
# Public-read performance beside the peers in ../shared/bench (the bare axum ceiling,
# PocketBase), on this machine, in one run:
#   1. build release; seed 1,000 published posts (~2 KB Markdown, 10 categories, 20 tags)
#      through the API;
#   2. ../shared/bench/compare.sh with blogd as an extra peer (bench/blogd-peer.sh: throttling
#      on with loopback allow-listed, logs on): list, view, filtered list, search, health
#      check, list and view over HTTPS. The axum peer also answers the *same bytes* as
#      blogd's list and view (HELLO_SIZES, sized from blogd's answers, headers included):
#      that is the ceiling blogd is held against;
#   3. server CPU per request (user + system time of the process over the run, divided by
#      the answers) for blogd and the same-bytes axum side by side, at saturation (wrk -t1
#      -c32) and at half of that rate (oha, constant rate), CPU_ROUNDS interleaved rounds,
#      and blogd's HTTPS instance at saturation beside its plain one;
#      then the access log's line count against the requests sent (every one logged);
#   4. p99 latency at half of blogd's peak rate (oha, constant rate, corrected for
#      coordinated omission), then the server's RSS;
#   5. cold start to /readyz 200 with 10,000 posts;
#   6. writes: post and comment creation with 4 concurrent writers;
#   7. signed page views ingested per second (bench/pageview.sh; none may be lost).
# Prints each result against its target. Knobs: PEERS (default "axum-hello.sh pocketbase.sh"),
# DURATION (10s), SKIP_COMPARE=1 (reuse the newest compare TSV), CPU_ROUNDS (2),
# SKIP_PAGEVIEWS=1, BENCH_BIN=path (measure that binary instead of building release).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
shared=${BENCH_SHARED_DIR:-$root/../shared}
export BENCH_DATA=${BENCH_DATA:-/tmp/bench-peers/blogd-data}
results=/tmp/bench-peers/results
mkdir -p "$results"

command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
command -v oha >/dev/null || cargo install oha --locked --version 1.16.0 --quiet
if [[ -n ${BENCH_BIN:-} ]]; then
  bin=$BENCH_BIN   # a given build (e.g. target/profiling/blogd while iterating): no build here
else
  cargo build --release --locked --quiet
  bin=${CARGO_TARGET_DIR:-$root/target}/release/blogd
fi
export BENCH_BLOGD_BIN=$bin
# The peers build their own projects in their own directories.
unset CARGO_TARGET_DIR

# 1. Seed (once per binary build; reseed with rm -rf $BENCH_DATA).
if [[ ! -f $BENCH_DATA/seeded.env || $BENCH_DATA/seeded.env -ot $bin ]]; then
  echo "== seeding 1,000 posts into $BENCH_DATA"
  rm -rf "$BENCH_DATA"; mkdir -p "$BENCH_DATA"
  BLOGD_TLS_ENABLED=false BLOGD_THROTTLE_ALLOW=127.0.0.0/8 BLOGD_LOG_STDOUT=false BLOGD_BACKUP_EVERY=off \
    "$bin" serve --data-dir "$BENCH_DATA" --listen 127.0.0.1:8096 >/tmp/bench-seed.out 2>&1 &
  pid=$!
  for _ in $(seq 1 100); do curl -fs http://127.0.0.1:8096/readyz >/dev/null 2>&1 && break; sleep 0.1; done
  curl -fs http://127.0.0.1:8096/readyz >/dev/null || { cat /tmp/bench-seed.out >&2; exit 1; }
  user=$(sed -n 's/^ *username: *\([^ ]*\).*/\1/p' /tmp/bench-seed.out | head -1)
  pass=$(sed -n 's/^ *password: *\([^ ]*\).*/\1/p' /tmp/bench-seed.out | head -1)
  python3 bench/seed.py http://127.0.0.1:8096 "$user" "$pass" 1000 >"$BENCH_DATA/seeded.env.tmp"
  echo "ADMIN_USER='$user'" >>"$BENCH_DATA/seeded.env.tmp"
  echo "ADMIN_PASSWORD='$pass'" >>"$BENCH_DATA/seeded.env.tmp"
  kill -TERM $pid; wait $pid || true
  mv "$BENCH_DATA/seeded.env.tmp" "$BENCH_DATA/seeded.env"
fi
# shellcheck disable=SC1091
source "$BENCH_DATA/seeded.env"

# The same-bytes ceiling: axum's /bytes/N sized so that its whole answer (status line and
# headers included) is as long as blogd's list and view answers.
bench/blogd-peer.sh start >/dev/null
HELLO_SIZES="" "$shared/bench/axum-hello.sh" start >/dev/null
wire() { curl -fsS -o /dev/null -w '%{size_header} %{size_download}' "$1" | awk '{print $1 + $2}'; }
axum_head=$(( $(wire http://127.0.0.1:8081/bytes/10000) - 10000 ))
same_bytes() { # blogd URL -> N
  echo $(( $(wire "$1") - axum_head ))
}
list_url=$(bench/blogd-peer.sh urls | sed -n "s/^BLOGD_LIST_URL='\(.*\)'/\1/p")
view_url=$(bench/blogd-peer.sh urls | sed -n "s/^BLOGD_VIEW_URL='\(.*\)'/\1/p")
list_n=$(same_bytes "$list_url"); view_n=$(same_bytes "$view_url")
export HELLO_SIZES="$list_n $view_n"
bench/blogd-peer.sh stop >/dev/null
"$shared/bench/axum-hello.sh" stop >/dev/null 2>&1
echo "== same bytes as blogd's answers: list $list_n, view $view_n bytes of body from axum"

# 2. Side by side.
if [[ -z ${SKIP_COMPARE:-} ]]; then
  echo "== compare.sh (peers: ${PEERS:-axum-hello.sh pocketbase.sh} + blogd)"
  PEERS=${PEERS:-"axum-hello.sh pocketbase.sh"} EXTRA_PEERS=$root/bench/blogd-peer.sh \
    "$shared/bench/compare.sh"
fi
tsv=$(ls -t "$results"/compare-*.tsv | head -1)

# The server's CPU time so far (user and system, µs): CPU per request is the measure that the
# neighbours of a shared VM disturb least (throughput moved ±20 % between runs; this ±5 %).
cpu_us() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.0f %.0f", $14 * 1000000 / hz, $15 * 1000000 / hz}' "/proc/$1/stat"; }
peak() { awk -F'\t' -v t="$1" '$1==t && $2=="tput" {print int($4)}' "$tsv"; }

# 3. CPU per request, blogd beside the same-bytes axum, at saturation and at half of it.
echo "== server CPU per request: blogd and the same-bytes axum, saturation and half load"
bench/blogd-peer.sh start >/dev/null
"$shared/bench/axum-hello.sh" start >/dev/null
plain_pid=$(cat /tmp/bench-peers/blogd/plain.pid)
hello_pid=$(cat /tmp/bench-peers/axum-hello/hello.pid)
tls_pid=$(cat /tmp/bench-peers/blogd/tls.pid)
tls_list_url=$(bench/blogd-peer.sh urls | sed -n "s/^BLOGD_TLS_LIST_URL='\(.*\)'/\1/p")
tls_view_url=$(bench/blogd-peer.sh urls | sed -n "s/^BLOGD_TLS_VIEW_URL='\(.*\)'/\1/p")
: >"$results/cpu.tsv"
: >"$results/cpu-sent"
# Access lines already there (the seeding's, copied with the data): not this run's.
count_lines() { # non-probe access lines of the plain instance
  local logs=(/tmp/bench-peers/blogd/plain/logs/access.log*) total probes
  total=$(cat "${logs[@]}" | wc -l)
  probes=$(cat "${logs[@]}" | grep -c -e '"route":"/readyz"' -e '"route":"/api/healthcheck"' || true)
  echo $((total - probes))
}
lines_before=$(count_lines)
cpu_run() { # server-name pid target url mode(sat|half) [rate]
  local name=$1 pid=$2 target=$3 url=$4 mode=$5 rate=${6:-0} before after answered rps
  before=$(cpu_us "$pid")
  if [[ $mode == sat ]]; then
    out=$(wrk -t1 -c32 -d10s "$url")
    answered=$(awk '/requests in/ {print $1}' <<<"$out")
    rps=$(awk '/Requests\/sec/ {printf "%.0f", $2}' <<<"$out")
  else
    oha --no-tui --output-format json -z 10s -q "$rate" -c 32 "$url" >"$results/oha-cpu.json"
    read -r answered rps < <(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(sum(d.get("statusCodeDistribution", {}).values()), round(d["summary"]["requestsPerSec"]))' "$results/oha-cpu.json")
  fi
  after=$(cpu_us "$pid")
  # (A file, not a variable: this function runs in a subshell when its output is captured.)
  [[ $name == blogd ]] && echo "$answered" >>"$results/cpu-sent"
  printf '%s\t%s\t%s\t%s\t%s\t%s %s\t%s\n' "$name" "$target" "$mode" "$rps" "$answered" "$before" "$after" "$url" >>"$results/cpu.tsv"
  echo "$rps"
}
for round in $(seq 1 "${CPU_ROUNDS:-2}"); do
  for target in list view; do
    url=$([[ $target == list ]] && echo "$list_url" || echo "$view_url")
    n=$([[ $target == list ]] && echo "$list_n" || echo "$view_n")
    b_rps=$(cpu_run blogd "$plain_pid" "$target" "$url" sat)
    a_rps=$(cpu_run axum "$hello_pid" "$target" "http://127.0.0.1:8081/bytes/$n" sat)
    cpu_run blogd "$plain_pid" "$target" "$url" half $((b_rps / 2)) >/dev/null
    cpu_run axum "$hello_pid" "$target" "http://127.0.0.1:8081/bytes/$n" half $((a_rps / 2)) >/dev/null
    # HTTPS beside plain by the server's CPU: on two shared cores a TLS load generator spends
    # more of them decrypting, so req/s understates the server; its CPU per answer does not.
    cpu_run tls "$tls_pid" "$target" "$([[ $target == list ]] && echo "$tls_list_url" || echo "$tls_view_url")" sat >/dev/null
  done
done
"$shared/bench/axum-hello.sh" stop >/dev/null 2>&1
# Every answer has its access line: stop blogd (the last batch is written at exit) and count
# the lines of every access.log* file (blogd-peer.sh keeps enough of them). wrk counts only
# the answers it read before its deadline; a connection's last answer may be logged but not
# counted, so the log may hold up to one line per connection and run more.
dropped=$(curl -fsS http://127.0.0.1:8095/api/healthcheck | python3 -c 'import json,sys; print(json.load(sys.stdin).get("checks", {}).get("logs", {}).get("dropped_lines", "?"))' 2>/dev/null || echo "?")
bench/blogd-peer.sh stop >/dev/null
for _ in $(seq 1 50); do kill -0 "$plain_pid" 2>/dev/null || break; sleep 0.1; done
logs=(/tmp/bench-peers/blogd/plain/logs/access.log*)
logged=$(( $(count_lines) - lines_before ))
sent=$(awk '{s += $1} END {print s + 0}' "$results/cpu-sent")
runs=$(( 4 * ${CPU_ROUNDS:-2} ))
if (( logged >= sent && logged <= sent + 32 * runs )); then
  log_check="OK: $logged access lines in ${#logs[@]} files for $sent answers counted by the load generators (+ up to $((32 * runs)) in flight at their deadlines); lines dropped by the writer: $dropped"
else
  log_check="MISMATCH: $logged access lines in ${#logs[@]} files for $sent answers counted; lines dropped by the writer: $dropped"
fi

# 4. Latency at half the peak rate, and memory afterwards.
echo "== p99 at half of the peak rate (oha, constant rate)"
bench/blogd-peer.sh start >/dev/null
plain_pid=$(cat /tmp/bench-peers/blogd/plain.pid)
: >"$results/blogd-latency.tsv"
for target in list view; do
  url=$(bench/blogd-peer.sh urls | sed -n "s/^BLOGD_${target^^}_URL='\(.*\)'/\1/p")
  rate=$(( $(peak "blogd_$target") / 2 ))
  [[ $rate -gt 0 ]] || { echo "no peak for blogd_$target in $tsv"; continue; }
  cpu_before=$(cpu_us "$plain_pid" | awk '{print $1 + $2}')
  oha --no-tui --output-format json -z 10s -q "$rate" -c 32 --latency-correction "$url" >"$results/oha-$target.json"
  cpu_after=$(cpu_us "$plain_pid" | awk '{print $1 + $2}')
  python3 - "$results/oha-$target.json" "$target" "$rate" "$cpu_before" "$cpu_after" >>"$results/blogd-latency.tsv" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
p = d["latencyPercentiles"]
answered = sum(d.get("statusCodeDistribution", {}).values()) or 1
cpu = (float(sys.argv[5]) - float(sys.argv[4])) / answered
print(f"{sys.argv[2]}\t{sys.argv[3]}\t{d['summary']['requestsPerSec']:.0f}\t{p['p50']*1000:.2f}\t{p['p99']*1000:.2f}\t{d['summary']['successRate']:.4f}\t{cpu:.1f}")
PY
done
rss_kb=$(awk '/VmRSS/ {print $2}' "/proc/$plain_pid/status")
bench/blogd-peer.sh stop >/dev/null

# 5. Cold start with 10,000 posts.
echo "== cold start with 10,000 posts"
cold=/tmp/bench-peers/blogd-cold
rm -rf "$cold"; cp -a "$BENCH_DATA" "$cold"
python3 - "$cold/blogd.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
have = db.execute("select count(*) from posts").fetchone()[0]
cols = "title, content, content_html, excerpt, status, published_at, author_id, created_at, updated_at"
for copy in range(1, 10):
    db.execute(f"insert into posts (slug, {cols}) select slug || '-copy{copy}', {cols} from posts where slug not like '%-copy%'")
db.commit()
print("posts:", db.execute("select count(*) from posts").fetchone()[0], file=sys.stderr)
PY
cold_ms=$(python3 - "$bin" "$cold" <<'PY'
import os, statistics, subprocess, sys, time, http.client
bin, data = sys.argv[1], sys.argv[2]
env = dict(os.environ, BLOGD_TLS_ENABLED="false", BLOGD_LOG_STDOUT="false", BLOGD_BACKUP_EVERY="off")
times = []
for _ in range(5):
    start = time.perf_counter()
    proc = subprocess.Popen([bin, "serve", "--data-dir", data, "--listen", "127.0.0.1:8097"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while True:
        try:
            c = http.client.HTTPConnection("127.0.0.1", 8097, timeout=1)
            c.request("GET", "/readyz")
            if c.getresponse().status == 200:
                break
        except OSError:
            pass
        time.sleep(0.001)
    times.append((time.perf_counter() - start) * 1000)
    proc.terminate(); proc.wait()
print(f"{statistics.median(times):.0f}")
PY
)

# 6. Writes: 4 concurrent writers.
echo "== writes, 4 concurrent writers"
bench/blogd-peer.sh start >/dev/null
base=http://127.0.0.1:8095
token=$(curl -fsS -H 'content-type: application/json' -d "{\"username\":\"$ADMIN_USER\",\"password\":\"$ADMIN_PASSWORD\"}" "$base/api/v1/auth/login" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
writes() { # label, url, body, auth?
  local label=$1 url=$2 body=$3; shift 3
  oha --no-tui --output-format json -z 10s -c 4 -m POST -T application/json -d "$body" "$@" "$url" >"$results/oha-$label.json"
  python3 - "$results/oha-$label.json" "$label" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
codes = d.get("statusCodeDistribution", {})
errors = sum(v for k, v in codes.items() if not k.startswith("2"))
print(f"{sys.argv[2]}: {d['summary']['requestsPerSec']:.0f}/s, p50 {d['latencyPercentiles']['p50']*1000:.2f} ms, "
      f"p99 {d['latencyPercentiles']['p99']*1000:.2f} ms, statuses {codes}, non-2xx {errors}")
PY
}
post_line=$(writes posts "$base/api/v1/posts" '{"title":"Write benchmark","content":"Some **text**.","status":"published","tags":["bench"]}' -H "Authorization: Bearer $token")
comment_line=$(writes comments "$base/api/v1/posts/$VIEW_SLUG/comments" '{"author_name":"Bench","author_email":"bench@example.com","body":"A comment."}')
locked=$(grep -c "database is locked" /tmp/bench-peers/blogd/plain/logs/app.log 2>/dev/null || true)
bench/blogd-peer.sh stop >/dev/null

# 7. Page views.
pv_line="(skipped)"
if [[ -z ${SKIP_PAGEVIEWS:-} ]]; then
  echo "== signed page views"
  pv_line=$(BENCH_BIN="$bin" bench/pageview.sh 10 64 2>&1 | tail -2 | tr '\n' ' ')
fi

# Summary against the targets.
echo
echo "== blogd vs the ceilings and PocketBase ($(basename "$tsv"))"
python3 - "$tsv" "$results/blogd-latency.tsv" "$rss_kb" "$cold_ms" "$list_n" "$view_n" "$results/cpu.tsv" <<'PY'
import csv, sys
from collections import defaultdict
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
tput = defaultdict(float)
for r in rows:
    if r["kind"] == "tput":
        tput[r["target"]] = max(tput[r["target"]], float(r["rps"]))
def best(*names):
    return max(tput.get(n, 0) for n in names)
list_n, view_n = sys.argv[5], sys.argv[6]
ceiling = best("hello", "hello_end")
same = {"list": best(f"hello_b{list_n}", f"hello_b{list_n}_end"),
        "view": best(f"hello_b{view_n}", f"hello_b{view_n}_end")}
pb = {"list": tput.get("pb_list_nobody"), "view": tput.get("pb_view")}
print(f"ceiling (axum hello): {ceiling:.0f} rps; same bytes as the list ({list_n} B body): "
      f"{same['list']:.0f} rps; as a post ({view_n} B body): {same['view']:.0f} rps")
def line(name, target):
    v = tput.get(name)
    if not v:
        return
    kind = name.split("_")[-1]
    vs_same = f"{100 * v / same[kind]:5.1f}% of same bytes" if same.get(kind) else " " * 20
    vs_pb = f"{v / pb[kind]:5.1f}x PB" if kind in pb and pb[kind] else "        "
    print(f"{name:18} {v:9.0f} rps  {100 * v / ceiling:5.1f}% of hello  {vs_same}  {vs_pb}  (target {target})")
for name, target in [("blogd_list", ">= 80% of same bytes"), ("blogd_view", ">= 80% of same bytes, >= 10x PB"),
                     ("blogd_filter", ">= 25% of hello"), ("blogd_search", ">= 25% of hello"), ("blogd_checks", "-"),
                     ("blogd_tls_list", ">= 85% of plain"), ("blogd_tls_view", ">= 85% of plain")]:
    line(name, target)
for kind in ("list", "view"):
    if tput.get(f"blogd_tls_{kind}") and tput.get(f"blogd_{kind}"):
        print(f"HTTPS/plain {kind}: {100 * tput[f'blogd_tls_{kind}'] / tput[f'blogd_{kind}']:.0f}% (target >= 85%)")
# CPU per request: sum over the rounds of each (server, target, mode).
cpu = defaultdict(lambda: [0, 0.0, 0.0, []])
for r in csv.reader(open(sys.argv[7]), delimiter="\t"):
    name, target, mode, rps, answered = r[0], r[1], r[2], int(r[3]), int(r[4])
    u0, s0, u1, s1 = map(float, r[5].split())
    c = cpu[(name, target, mode)]
    c[0] += answered; c[1] += u1 - u0; c[2] += s1 - s0; c[3].append(rps)
print()
print("server CPU per request (µs, user + system; rounds summed)     blogd             same-bytes axum    ratio")
for target in ("list", "view"):
    for mode, label in (("sat", "saturation (wrk -t1 -c32)"), ("half", "half that rate (oha -q)")):
        b, a = cpu.get(("blogd", target, mode)), cpu.get(("axum", target, mode))
        if not b or not a or not b[0] or not a[0]:
            continue
        bt, at = (b[1] + b[2]) / b[0], (a[1] + a[2]) / a[0]
        target_note = " (target <= 1.5x)" if mode == "sat" else ""
        print(f"  {target:4} {label:28} {bt:6.1f} ({b[1]/b[0]:4.1f}+{b[2]/b[0]:4.1f})   {at:6.1f} ({a[1]/a[0]:4.1f}+{a[2]/a[0]:4.1f})   "
              f"{bt / at:4.2f}x{target_note}  rps {'/'.join(map(str, b[3]))} vs {'/'.join(map(str, a[3]))}")
for target in ("list", "view"):
    p, t = cpu.get(("blogd", target, "sat")), cpu.get(("tls", target, "sat"))
    if p and t and p[0] and t[0]:
        pt, tt = (p[1] + p[2]) / p[0], (t[1] + t[2]) / t[0]
        print(f"  HTTPS/plain by server CPU, {target}: {pt:.1f} µs plain, {tt:.1f} µs HTTPS ({t[1]/t[0]:.1f}+{t[2]/t[0]:.1f}) = "
              f"{100 * pt / tt:.0f}% (target >= 85%)")
for r in csv.reader(open(sys.argv[2]), delimiter="\t"):
    print(f"p99 at half peak, {r[0]}: {r[4]} ms at {r[2]} rps (p50 {r[3]} ms, success {r[5]}) (target <= 5 ms); "
          f"server CPU {r[6]} us per request")
print(f"RSS after the run: {int(sys.argv[3]) / 1024:.1f} MB (target <= 64 MB)")
print(f"cold start to /readyz with 10,000 posts: {sys.argv[4]} ms median of 5 (target <= 150 ms)")
PY
echo "$post_line"
echo "$comment_line"
echo "'database is locked' in the log: ${locked:-0}"
echo "access log: $log_check"
echo "page views: $pv_line (target >= 50,000/s, none lost)"
