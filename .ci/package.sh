#!/usr/bin/env bash
# Packaging check: build the .deb, lintian it (no errors), check the systemd unit (verify, and
# an exposure score of at most 2.0), install it, run the installed binary as the blogd user
# against the installed config, then purge it, leaving the machine as it was.
set -euo pipefail
cd "$(dirname "$0")/.."
source .ci/lib.sh
command -v lintian >/dev/null 2>&1 || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq lintian >/dev/null; }

packaging/build-deb.sh
deb=$(ls -t target/debian/blogd_*.deb | head -1)
echo "package: $deb ($(du -h "$deb" | cut -f1))"
dpkg-deb --field "$deb" Depends

echo "-- lintian"
# lintian's exit code tells its verdict apart from its own failure: 0 clean, 2 a tag at the
# --fail-on level (an error) was found, 1 lintian itself failed (a crash, an unreadable
# package). Both 1 and 2 fail the gate, each with its own message; the E: lines are checked
# too, so an exit 0 with errors printed cannot pass either.
set +e
lintian --fail-on error --no-tag-display-limit "$deb" >target/lintian.txt 2>&1
lintian_code=$?
set -e
cat target/lintian.txt
case $lintian_code in
  0) ;;
  2) echo "FAIL: lintian found errors (exit 2)"; exit 1 ;;
  *) echo "FAIL: lintian itself failed (exit $lintian_code), so the package was not checked"; exit 1 ;;
esac
if grep -q '^E:' target/lintian.txt; then echo "FAIL: lintian printed errors but exited 0"; exit 1; fi
echo "lintian: no errors (exit 0)"

echo "-- systemd unit"
security=$(systemd-analyze security --offline=yes systemd/blogd.service 2>&1) \
  || { echo "FAIL: systemd-analyze security failed:"; echo "$security"; exit 1; }
score=$(sed -n 's/.*Overall exposure level for blogd.service: \([0-9.]*\).*/\1/p' <<<"$security")
[ -n "$score" ] || { echo "FAIL: no exposure level in systemd-analyze's output:"; echo "$security" | tail -5; exit 1; }
echo "exposure: $score"
python3 -c "import sys; sys.exit(0 if float('$score') <= 2.0 else 1)" || { echo "FAIL: exposure $score > 2.0"; exit 1; }

run=$(mktemp -d)
cleanup() {
  stop_blogd
  dpkg --purge blogd >/dev/null 2>&1 || true
  rm -rf "$run"
}
trap cleanup EXIT

echo "-- install"
dpkg -i "$deb"
# Each generated asset is installed, not empty, and is what it claims to be. (An `[ -f a ] &&
# [ -f b ]` list does not stop a set -e script when it is false: each check says FAIL itself.)
for path in /usr/share/man/man1/blogd.1.gz /usr/share/bash-completion/completions/blogd \
            /usr/share/zsh/vendor-completions/_blogd /usr/share/fish/vendor_completions.d/blogd.fish; do
  [ -s "$path" ] || { echo "FAIL: $path is not installed (or is empty)"; exit 1; }
done
zcat /usr/share/man/man1/blogd.1.gz | grep -q '^\.TH ' \
  || { echo "FAIL: /usr/share/man/man1/blogd.1.gz is not a man page (no .TH)"; exit 1; }
grep -q 'complete' /usr/share/bash-completion/completions/blogd \
  || { echo "FAIL: the bash completion script registers no completion"; exit 1; }
echo "man page and completions (bash, zsh, fish) installed"
systemd-analyze verify /lib/systemd/system/blogd.service
version=$(dpkg-deb --field "$deb" Version)
# (Not `tee /dev/stderr`: when the output goes to a file, that reopens and truncates it.)
installed_version=$(/usr/bin/blogd --version)
echo "$installed_version"
grep -q "blogd ${version%%-*} " <<<"$installed_version" || { echo "FAIL: --version does not match $version"; exit 1; }
blogd config check /etc/blogd/blogd.toml
[ "$(stat -c '%a %U:%G' /etc/blogd/blogd.toml)" = "640 root:blogd" ] || { echo "FAIL: config mode"; stat /etc/blogd/blogd.toml; exit 1; }

echo "-- run as blogd"
# Port 0: a free port picked by the kernel, read back from what blogd prints.
start_blogd "$run/serve.out" runuser -u blogd -- /usr/bin/blogd serve --config /etc/blogd/blogd.toml --listen 127.0.0.1:0
health=$(curl -fsSk "$BLOGD_URL/healthz") || { echo "FAIL: no /healthz at $BLOGD_URL"; cat "$run/serve.out"; exit 1; }
grep -q '"ok"' <<<"$health" || { echo "FAIL: /healthz is not ok: $health"; exit 1; }
[ "$(stat -c '%U' /var/lib/blogd/blogd.db)" = blogd ] || { echo "FAIL: database not owned by blogd"; exit 1; }
[ -S /run/blogd/admin.sock ] || { echo "FAIL: no admin socket in /run/blogd"; exit 1; }
runuser -u blogd -- /usr/bin/blogd backup list >/dev/null
stop_blogd
[ -s /var/log/blogd/app.log ] || { echo "FAIL: nothing in /var/log/blogd/app.log"; exit 1; }
grep -q -e "first admin" -e "password:" "$run/serve.out" \
  || { echo "FAIL: the first run did not tell the first admin's password"; cat "$run/serve.out"; exit 1; }
echo "served /healthz as blogd; data in /var/lib/blogd, logs in /var/log/blogd, socket in /run/blogd"

echo "-- purge"
dpkg --purge blogd
for path in /usr/bin/blogd /etc/blogd /var/lib/blogd /var/log/blogd; do
  [ ! -e "$path" ] || { echo "FAIL: $path left behind"; exit 1; }
done
! getent passwd blogd >/dev/null || { echo "FAIL: the blogd user is left"; exit 1; }
echo "ok: package installed, ran, and purged cleanly"
