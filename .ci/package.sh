#!/usr/bin/env bash
# Packaging check: build the .deb, lintian it (no errors), check the systemd unit (verify, and
# an exposure score of at most 2.0), install it, run the installed binary as the blogd user
# against the installed config, then purge it, leaving the machine as it was.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v lintian >/dev/null 2>&1 || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq lintian >/dev/null; }

packaging/build-deb.sh
deb=$(ls -t target/debian/blogd_*.deb | head -1)
echo "package: $deb ($(du -h "$deb" | cut -f1))"
dpkg-deb --field "$deb" Depends

echo "-- lintian"
lintian --no-tag-display-limit "$deb" | tee target/lintian.txt || true
if grep -q '^E:' target/lintian.txt; then echo "FAIL: lintian errors"; exit 1; fi

echo "-- systemd unit"
score=$(systemd-analyze security --offline=yes systemd/blogd.service 2>/dev/null | sed -n 's/.*Overall exposure level for blogd.service: \([0-9.]*\).*/\1/p')
echo "exposure: $score"
python3 -c "import sys; sys.exit(0 if float('$score') <= 2.0 else 1)" || { echo "FAIL: exposure $score > 2.0"; exit 1; }

cleanup() {
  [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null || true
  dpkg --purge blogd >/dev/null 2>&1 || true
}
trap cleanup EXIT

echo "-- install"
dpkg -i "$deb"
systemd-analyze verify /lib/systemd/system/blogd.service
version=$(dpkg-deb --field "$deb" Version)
/usr/bin/blogd --version | tee /dev/stderr | grep -q "blogd ${version%%-*} " || { echo "FAIL: --version does not match $version"; exit 1; }
blogd config check /etc/blogd/blogd.toml
[ "$(stat -c '%a %U:%G' /etc/blogd/blogd.toml)" = "640 root:blogd" ] || { echo "FAIL: config mode"; stat /etc/blogd/blogd.toml; exit 1; }
[ -f /usr/share/man/man1/blogd.1.gz ] && [ -f /usr/share/bash-completion/completions/blogd ]

echo "-- run as blogd"
runuser -u blogd -- /usr/bin/blogd serve --config /etc/blogd/blogd.toml --listen 127.0.0.1:18444 >/tmp/blogd-package-run.out 2>&1 &
pid=$!
for _ in $(seq 1 100); do curl -fsk https://127.0.0.1:18444/healthz >/dev/null 2>&1 && break; sleep 0.1; done
curl -fsk https://127.0.0.1:18444/healthz | grep -q '"ok"' || { echo "FAIL: no /healthz"; cat /tmp/blogd-package-run.out; exit 1; }
[ "$(stat -c '%U' /var/lib/blogd/blogd.db)" = blogd ] || { echo "FAIL: database not owned by blogd"; exit 1; }
[ -S /run/blogd/admin.sock ] || { echo "FAIL: no admin socket in /run/blogd"; exit 1; }
runuser -u blogd -- /usr/bin/blogd backup list >/dev/null
kill "$pid"; wait "$pid" || true; pid=
[ -s /var/log/blogd/app.log ] || { echo "FAIL: nothing in /var/log/blogd/app.log"; exit 1; }
grep -q "first admin" /tmp/blogd-package-run.out || grep -q "password:" /tmp/blogd-package-run.out
echo "served /healthz as blogd; data in /var/lib/blogd, logs in /var/log/blogd, socket in /run/blogd"

echo "-- purge"
dpkg --purge blogd
for path in /usr/bin/blogd /etc/blogd /var/lib/blogd /var/log/blogd; do
  [ ! -e "$path" ] || { echo "FAIL: $path left behind"; exit 1; }
done
! getent passwd blogd >/dev/null || { echo "FAIL: the blogd user is left"; exit 1; }
echo "ok: package installed, ran, and purged cleanly"
