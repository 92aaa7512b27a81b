#!/usr/bin/env bash
# The Debian package on a fresh Debian 12 (issue 17): a minimal bookworm made by debootstrap (cached in
# /var/cache/wgbpf-deb; WGBPF_DEB_CACHE), bookworm-backports added as the README says, then
# `apt-get install ./wgbpf_*.deb`: apt must pull every runtime library; `wgbpf --version` and `man wgbpf` work;
# and the installed wgbpf, run inside that root (proc, sys and /run/netns from the host), watches the lab's
# client while it pings and shows the seed's routing decision. The root is a copy: nothing is installed on the
# host. Usage: fresh_install.sh BUILD_DIR SOURCE_DIR. Exit 0 passed, 1 failed, 4 cannot run here (why said).
set -uo pipefail
build=$(cd "$1" && pwd) src=$(cd "$2" && pwd)
cache=${WGBPF_DEB_CACHE:-/var/cache/wgbpf-deb}
lab=wgbpfdeb wg=wgd0 # its own WireGuard interface: wireguard-go's socket is named after it, host-wide
skip() { echo "fresh_install.sh: SKIPPED: $*"; exit 4; }
[[ $(id -u) -eq 0 ]] || skip "needs root (debootstrap, chroot, the lab)"
command -v debootstrap >/dev/null || skip "no debootstrap (scripts/setup.sh installs it)"
command -v cpack >/dev/null || skip "no cpack"

passed=0 failures=0
ok() { passed=$((passed + 1)); }
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
scratch=$(mktemp -d /tmp/wgbpf-deb-XXXXXX) || exit 1
root=$scratch/root
# The root's mounts live in a mount namespace of their own (below): they end with its process, even one killed
# by CTest's timeout, so removing the scratch directory never reaches the host's /run/netns.
cleanup() {
  WGBPF_LAB=$lab WGBPF_LAB_WG=$wg bash "$src/scripts/lab.sh" down >/dev/null 2>&1
  rm -rf --one-file-system "$scratch"
}
trap cleanup EXIT

# The package, as installable.sh makes it.
(cd "$scratch" && cpack -G DEB --config "$build/CPackConfig.cmake" >cpack.log 2>&1) || {
  fail "cpack -G DEB failed: $(tail -3 "$scratch/cpack.log")"; exit 1; }
deb=$(ls "$scratch"/wgbpf_*.deb | head -1)

# A fresh bookworm, made once (one run at a time) and copied for each run (~200 MB, 1-2 minutes to make).
mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9
if [[ ! -x $cache/bookworm/bin/sh ]]; then
  rm -rf --one-file-system "$cache/bookworm.partial"
  timeout 900 debootstrap --variant=minbase bookworm "$cache/bookworm.partial" http://deb.debian.org/debian \
    >"$scratch/debootstrap.log" 2>&1 || skip "debootstrap failed (no network?): $(tail -2 "$scratch/debootstrap.log")"
  mv "$cache/bookworm.partial" "$cache/bookworm"
fi
flock -u 9
cp -a "$cache/bookworm" "$root"
cp -L /etc/resolv.conf "$root/etc/resolv.conf" # today's, not the one of the day the root was made
echo "deb http://deb.debian.org/debian bookworm-backports main" >"$root/etc/apt/sources.list.d/backports.list"
cp "$deb" "$root/tmp/"
offline='Failed to fetch|Temporary failure resolving|Could not resolve|Unable to connect'
timeout 300 chroot "$root" apt-get update -q --error-on=any >"$scratch/apt.log" 2>&1 ||
  skip "apt-get update failed (no network?): $(tail -2 "$scratch/apt.log")"
# man-db: a fresh system has man; minbase does not. No recommends: what the package needs, only.
if DEBIAN_FRONTEND=noninteractive timeout 600 chroot "$root" apt-get install -y -q --no-install-recommends \
  -t bookworm-backports "/tmp/$(basename "$deb")" man-db >>"$scratch/apt.log" 2>&1; then ok
elif grep -qE "$offline" "$scratch/apt.log"; then skip "apt could not download: $(grep -E "$offline" "$scratch/apt.log" | head -1)"
else fail "apt-get install ./$(basename "$deb"): $(tail -5 "$scratch/apt.log")"; exit 1; fi

want=$("$build/wgbpf" --version)
[[ $(chroot "$root" wgbpf --version 2>&1) == "$want" ]] && ok || fail "installed wgbpf --version: $(chroot "$root" wgbpf --version 2>&1)"
missing=$(chroot "$root" sh -c 'ldd "$(command -v wgbpf)"' 2>&1 | grep 'not found')
[[ -z $missing ]] && ok || fail "libraries apt did not bring: $missing"
page=$(chroot "$root" env MANPAGER=cat MANWIDTH=80 man wgbpf 2>&1)
[[ $page == *"NAME"*"wgbpf - "*"--pcapng"* ]] && ok || fail "man wgbpf: $(head -5 <<<"$page")"
[[ -f $root/usr/share/bash-completion/completions/wgbpf ]] && ok || fail "no bash completion installed"

# The installed wgbpf on the lab: the client's pings, the seed's decision (rule 32765, table 51820).
WGBPF_LAB=$lab WGBPF_LAB_WG=$wg bash "$src/scripts/lab.sh" up >"$scratch/lab.log" 2>&1 || { fail "lab up: $(tail -3 "$scratch/lab.log")"; exit 1; }
# proc and sys, the namespaces (nsfs mounts) and wireguard-go's sockets, in a mount namespace that ends with the
# watch (no mount outlives it, whatever kills it); a watch that never gets going is stopped after two minutes.
timeout 120 unshare --mount --propagation slave -- bash -c '
  root=$1
  mount -t proc proc "$root/proc" && mount -t sysfs sysfs "$root/sys" || { echo "cannot mount proc/sys" >&2; exit 90; }
  for m in run/netns run/wireguard; do
    if [[ -d /$m ]]; then mkdir -p "$root/$m" && mount --rbind "/$m" "$root/$m" || exit 90; fi
  done
  exec chroot "$root" wgbpf watch --netns "$2-client" --iface "$3" --json --duration 10' _ "$root" "$lab" "$wg" \
  >"$scratch/watch.json" 2>"$scratch/watch.err" &
watch=$!
for _ in $(seq 1 120); do grep -q 'ready:' "$scratch/watch.err" && break; sleep 0.5; done
grep -q 'ready:' "$scratch/watch.err" && ok || fail "the installed wgbpf never got ready: $(tail -5 "$scratch/watch.err")"
ip netns exec "$lab-client" ping -n -c 3 -i 0.3 198.51.100.9 >/dev/null 2>&1 && ok || fail "the lab's ping failed"
wait $watch && ok || fail "installed wgbpf watch exit $?: $(tail -5 "$scratch/watch.err")"
python3 - "$scratch/watch.json" <<'EOF' && ok || fail "no echo request routed by rule 32765 to table 51820 in the watch's output"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
def decided(t):
    return any(s.get("kind") == "route" and s.get("rule") == 32765 and s.get("table") == 51820 for s in t.get("steps", []))
sys.exit(0 if sum(1 for l in lines if l.get("kind") == "timeline" and l.get("proto") == "icmp" and decided(l)) >= 3 else 1)
EOF

echo "$passed passed, $failures failed"
[[ $failures -eq 0 ]]
