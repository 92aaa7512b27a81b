#!/usr/bin/env bash
# Stock-kernel VM tests: boots Debian's stock cloud kernels under qemu (TCG) and runs wgbpf's
# end-to-end suite inside, so the flavours this machine's kernel refuses (fentry/fexit, kprobes) and
# kernel WireGuard run for real. See README.md, "Stock-kernel VM tests".
#
# Usage: tests/vm/run-vm-tests.sh [options] KERNEL...
#   KERNEL   6.1 | 6.12 | X.Y (the newest linux-image-X.Y*-cloud-amd64 apt knows) | a package name
#            (linux-image-6.12.117+deb12-cloud-amd64)
# Options:
#   -b, --build DIR        wgbpf build directory (default: build/ of this checkout)
#   --cache DIR            kernel cache (default: $WGBPF_VM_CACHE or /var/cache/wgbpf-vm)
#   --offline              do not ask apt: use the newest cached kernel of that series
#   --tries N              boots per kernel when a boot crashes (default 3)
#   --timeout S            time limit per kernel, all boots included (default 2050)
#   --boot-timeout S       a boot that has not reached the start marker by then is retried (default 120)
#   --e2e-timeout S        time limit of the end-to-end suite inside the VM (default 1900)
#   --tests SPEC           Catch2 test spec for the end-to-end binary (default: all but [host] tests)
#   --expect-route TEXT    fail unless the route module's flavour contains TEXT
#   --expect-wg IMPL       fail unless the lab ran this WireGuard implementation (kernel|wireguard-go)
#   --no-lab-probe         skip the lab probe (lab.sh up + wgbpf watch on wg0 + ping)
#   --unit                 also run the unit tests inside (they do not depend on the kernel)
#   --shell                boot KERNEL with the modules loaded and give a shell on the console
#   --run CMD              run CMD (bash) in the VM instead of the tests and print its output
#   --append ARGS          more kernel command line (e.g. nokaslr)
#   -v, --verbose          print the VM's whole test output, not only on failure
# Exit: 0 all passed, 1 a failure (tests, expectations, a hung VM, or every boot crashed),
#       4 cannot run here (no qemu, no kernel package, no build), with the reason.
set -euo pipefail

prog=run-vm-tests.sh
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)

build=$top/build
cache=${WGBPF_VM_CACHE:-/var/cache/wgbpf-vm}
offline=0
tries=3
kernel_timeout=2050
e2e_timeout=1900
boot_timeout=120
tests_spec="~[host]" # [host]: bounds measured on this machine only (tests/e2e/test_hardening_e2e.cpp), and faults whose kernel side the VM adds nothing to (a chain, a sysctl, a predicted route, NAT)
expect_route=""
expect_wg=""
lab_probe=1
unit=0
shell=0
run_cmd=""
append=""
verbose=0
kernels=()

# Shipped in the initramfs (plus their dependencies from modules.dep) and loaded at boot.
BOOT_MODULES="veth wireguard nf_tables nf_conntrack nft_ct nft_fib_ipv4 nft_fib_ipv6 nft_fib_inet tun"
# Shipped too, loaded on demand (the kernel runs /sbin/modprobe): whole trees and single modules.
SHIP_DIRS="kernel/net/netfilter kernel/net/ipv4/netfilter kernel/net/ipv6/netfilter kernel/net/sched
 kernel/net/bridge kernel/drivers/net/wireguard"
SHIP_MODULES="veth dummy tun ifb macvlan ipvlan vrf vxlan"
CACHE_FORMAT=1 # bump when the cached modules archive changes shape

die() {
  echo "$prog: $*" >&2
  exit 1
}
say() { echo "$prog: $*" >&2; }
# Cannot run here at all: CTest's SKIP_RETURN_CODE.
skip() {
  echo "$prog: SKIPPED: $*" >&2
  exit 4
}

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
  exit 2
}

while [[ $# -gt 0 ]]; do
  case $1 in
    -b | --build) build=$2; shift 2 ;;
    --cache) cache=$2; shift 2 ;;
    --offline) offline=1; shift ;;
    --tries) tries=$2; shift 2 ;;
    --timeout) kernel_timeout=$2; shift 2 ;;
    --e2e-timeout) e2e_timeout=$2; shift 2 ;;
    --boot-timeout) boot_timeout=$2; shift 2 ;;
    --tests) tests_spec=$2; shift 2 ;;
    --expect-route) expect_route=$2; shift 2 ;;
    --expect-wg) expect_wg=$2; shift 2 ;;
    --no-lab-probe) lab_probe=0; shift ;;
    --unit) unit=1; shift ;;
    --shell) shell=1; shift ;;
    --run) run_cmd=$2; shift 2 ;;
    --append) append=$2; shift 2 ;;
    -v | --verbose) verbose=1; shift ;;
    -h | --help) usage ;;
    -*) echo "$prog: unknown option $1" >&2; usage ;;
    *) kernels+=("$1"); shift ;;
  esac
done
((${#kernels[@]} > 0)) || usage
[[ $tries =~ ^[1-9][0-9]*$ ]] || die "--tries wants a positive number"
[[ $kernel_timeout =~ ^[1-9][0-9]*$ ]] || die "--timeout wants seconds"
[[ $e2e_timeout =~ ^[1-9][0-9]*$ ]] || die "--e2e-timeout wants seconds"
[[ $boot_timeout =~ ^[1-9][0-9]*$ ]] || die "--boot-timeout wants seconds"
((shell == 0 || ${#kernels[@]} == 1)) || die "--shell boots one kernel"
# /vm/config is sourced by busybox sh (printf %q quoting): one line per setting.
[[ $tests_spec != *[[:cntrl:]]* ]] || die "--tests: no control characters"
[[ $run_cmd != *[[:cntrl:]]* ]] || die "--run: one line"

# ---- what this machine must have ----

check_host() {
  local t missing=()
  for t in qemu-system-x86_64 cpio dpkg-deb depmod xz zstd python3 ldd objcopy flock setpriv gzip; do
    command -v "$t" >/dev/null || missing+=("$t")
  done
  ((${#missing[@]} == 0)) || skip "missing on this machine: ${missing[*]} (run scripts/setup.sh)"
  busybox=""
  for t in /bin/busybox /usr/bin/busybox; do
    if [[ -x $t ]] && ! ldd "$t" >/dev/null 2>&1; then busybox=$t; break; fi
  done
  [[ -n $busybox ]] || skip "no static busybox (package busybox-static; run scripts/setup.sh)"
  local abs
  abs=$(cd "$build" 2>/dev/null && pwd) || skip "no build directory '$build' (build first: cmake -S $top -B build -G Ninja && cmake --build build)"
  build=$abs
  wgbpf_bin=$build/wgbpf
  e2e_bin=$build/tests/wgbpf_e2e_tests
  unit_bin=$build/tests/wgbpf_unit_tests
  [[ -x $wgbpf_bin ]] || skip "no $wgbpf_bin (build first)"
  [[ -x $e2e_bin ]] || skip "no $e2e_bin (build first)"
  # The test binary has the wgbpf binary's path and the source directory compiled in: both get the
  # same absolute paths inside the VM.
  src=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$build/CMakeCache.txt" 2>/dev/null || true)
  [[ -n $src && -x $src/scripts/lab.sh ]] || src=$top
  local p
  for p in "$build" "$src"; do
    case $p/ in
      /proc/* | /sys/* | /dev/* | /run/* | /vm/* | /bb/*) skip "cannot mirror $p inside the VM (a mount point there)" ;;
    esac
  done
  if [[ ! -d $cache ]] && ! mkdir -p "$cache" 2>/dev/null; then
    cache=${XDG_CACHE_HOME:-$HOME/.cache}/wgbpf-vm
    mkdir -p "$cache" || skip "cannot create a kernel cache directory"
  fi
  [[ -w $cache ]] || skip "kernel cache $cache is not writable"
}

# ---- kernels: which package, fetched once into the cache ----

# The package-name pattern for a series: 6.1 -> linux-image-6.1.0-N-cloud-amd64,
# 6.12 -> linux-image-6.12.N+deb12-cloud-amd64 (or +bpo-...). No -dbg, no -unsigned.
series_regex() {
  local s=${1//./\\.}
  echo "^linux-image-${s}(\\.0-[0-9]+|\\.[0-9]+\\+[A-Za-z0-9.~]+)-cloud-amd64\$"
}

# Sets pkg and release (= `uname -r` of that kernel) for a KERNEL argument.
resolve_kernel() {
  local want=$1 re cands="" cached=""
  series_re=""
  if [[ $want == linux-image-* ]]; then
    pkg=$want
    release=${pkg#linux-image-}
    return 0
  fi
  [[ $want =~ ^[0-9]+\.[0-9]+$ ]] || die "kernel '$want': want a series (6.1, 6.12) or a linux-image-* package name"
  re=$(series_regex "$want")
  series_re=$re
  if ((offline == 0)); then
    cands=$(apt-cache search --names-only "$re" 2>/dev/null | awk '{print $1}' | grep -E "$re" | sort -V || true)
  fi
  cached=$(find "$cache" -mindepth 2 -maxdepth 2 -name complete 2>/dev/null | awk -F/ '{print "linux-image-" $(NF-1)}' |
    grep -E "$re" | sort -V || true)
  pkg=$(tail -n 1 <<<"$cands")
  if [[ -z $pkg ]]; then
    pkg=$(tail -n 1 <<<"$cached")
    [[ -n $pkg ]] || skip "no linux-image-$want cloud kernel known to apt and none cached in $cache (run scripts/setup.sh, which runs apt-get update)"
    ((offline)) || say "apt knows no linux-image-$want cloud kernel; using the cached $pkg"
  fi
  release=${pkg#linux-image-}
}

modules_key() {
  printf '%s\n' "$CACHE_FORMAT" "$BOOT_MODULES" "$SHIP_DIRS" "$SHIP_MODULES" | sha256sum | cut -c1-16
}

# Builds $kdir/modules.cpio: the shipped modules, decompressed, with a fresh depmod.
build_modules_cpio() {
  local kdir=$1 tmp=$1/tmp
  rm -rf "$tmp"
  mkdir -p "$tmp/root" "$tmp/stage/usr/lib/modules/$release"
  dpkg-deb -x "$kdir/pkg.deb" "$tmp/root"
  local mroot=$tmp/root/lib/modules/$release
  [[ -d $mroot ]] || mroot=$tmp/root/usr/lib/modules/$release
  [[ -d $mroot ]] || die "$pkg has no /lib/modules/$release"
  local vmlinuz=$tmp/root/boot/vmlinuz-$release
  [[ -r $vmlinuz ]] || die "$pkg has no /boot/vmlinuz-$release"
  # depmod wants ROOT/lib/modules; the package may use either layout.
  if [[ ! -d $tmp/root/lib/modules/$release ]]; then
    mkdir -p "$tmp/root/lib"
    ln -s "$mroot" "$tmp/root/lib/modules"
  fi
  depmod -b "$tmp/root" "$release"

  # Selection: modules named, modules under the shipped trees, then everything they depend on
  # (modules.dep lists the whole closure).
  local names=" $BOOT_MODULES $SHIP_MODULES " d
  local dirs=""
  for d in $SHIP_DIRS; do dirs+="$d "; done
  awk -v names="$names" -v dirs="$dirs" '
    BEGIN { n = split(dirs, D, " ") }
    {
      key = $1; sub(/:$/, "", key)
      base = key; sub(/.*\//, "", base); sub(/\.ko(\.xz|\.zst|\.gz)?$/, "", base)
      want = index(names, " " base " ") > 0
      for (i = 1; i <= n && !want; i++) if (index(key, D[i] "/") == 1) want = 1
      if (!want) next
      print key
      for (i = 2; i <= NF; i++) print $i
    }' "$mroot/modules.dep" | sort -u >"$tmp/selected"
  local f out
  while read -r f; do
    out=$tmp/stage/usr/lib/modules/$release/${f%.ko*}.ko
    mkdir -p "${out%/*}"
    case $f in
      *.ko.xz) xz -dc "$mroot/$f" >"$out" ;;
      *.ko.zst) zstd -qdc "$mroot/$f" >"$out" ;;
      *.ko.gz) gzip -dc "$mroot/$f" >"$out" ;;
      *) cp "$mroot/$f" "$out" ;;
    esac
  done <"$tmp/selected"
  for f in modules.builtin modules.builtin.modinfo modules.order; do
    if [[ -r $mroot/$f ]]; then cp "$mroot/$f" "$tmp/stage/usr/lib/modules/$release/"; fi
  done
  mkdir -p "$tmp/stage/lib"
  ln -s ../usr/lib/modules "$tmp/stage/lib/modules"
  depmod -b "$tmp/stage" "$release"
  (cd "$tmp/stage" && find usr -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet -R 0:0) >"$kdir/modules.cpio.new"
  mv "$kdir/modules.cpio.new" "$kdir/modules.cpio"
  cp "$vmlinuz" "$kdir/vmlinuz"
  cp "$tmp/root/boot/config-$release" "$kdir/config" 2>/dev/null || true
  say "$release: $(wc -l <"$tmp/selected") modules shipped ($(du -h "$kdir/modules.cpio" | cut -f1) uncompressed)"
  rm -rf "$tmp"
}

# Sets kdir: the cache directory of $release with vmlinuz and modules.cpio, fetching if needed.
fetch_kernel() {
  kdir=$cache/$release
  mkdir -p "$kdir"
  exec {lockfd}>"$kdir/lock"
  flock "$lockfd"
  local key
  key=$(modules_key)
  if [[ -f $kdir/complete && -r $kdir/vmlinuz && -r $kdir/modules.cpio && $(cat "$kdir/modules.key" 2>/dev/null) == "$key" ]]; then
    exec {lockfd}>&-
    return 0
  fi
  rm -f "$kdir/complete"
  if [[ ! -s $kdir/pkg.deb ]]; then
    ((offline == 0)) || { exec {lockfd}>&-; skip "--offline and $release is not cached in $cache"; }
    say "fetching $pkg (apt-get download)"
    rm -rf "$kdir/dl"
    mkdir -p "$kdir/dl"
    if ! (cd "$kdir/dl" && apt-get download -q -o APT::Sandbox::User=root "$pkg" >"$kdir/dl/log" 2>&1); then
      local why
      why=$(tail -n 3 "$kdir/dl/log" | tr '\n' ' ')
      rm -rf "$kdir/dl"
      exec {lockfd}>&-
      rmdir "$kdir" 2>/dev/null || true
      skip "cannot download $pkg: $why"
    fi
    mv "$kdir"/dl/*.deb "$kdir/pkg.deb"
    rm -rf "$kdir/dl"
  fi
  say "unpacking $pkg into $kdir"
  build_modules_cpio "$kdir"
  echo "$key" >"$kdir/modules.key"
  echo "$pkg" >"$kdir/package"
  touch "$kdir/complete"
  exec {lockfd}>&-
  prune_cache
}

# A newer kernel of the same series replaces the cached ones (not those in use by another run).
prune_cache() {
  [[ -n ${series_re:-} ]] || return 0
  local d name fd
  for d in "$cache"/*/; do
    d=${d%/}
    name=linux-image-${d##*/}
    [[ $d != "$kdir" && $name =~ $series_re && -f $d/complete ]] || continue
    exec {fd}>"$d/lock"
    if flock -n "$fd"; then
      say "removing the older cached kernel ${d##*/}"
      rm -rf "$d"
    fi
    exec {fd}>&-
  done
}

# ---- the initramfs ----

# copy_path PATH: the host's PATH at the same place under $root; a symlink stays a symlink and its
# target comes along. $root has the host's top-level links (bin -> usr/bin, ...), so paths through
# them land where they do on the host.
copy_path() {
  local p=$1
  [[ -e $root$p || -L $root$p ]] && return 0
  local dir=${p%/*}
  mkdir -p "$root$dir"
  if [[ -L $p ]]; then
    local t
    t=$(readlink "$p")
    ln -s "$t" "$root$p"
    case $t in
      /*) copy_path "$t" ;;
      *) copy_path "$dir/$t" ;;
    esac
  elif [[ -e $p ]]; then
    cp -p "$p" "$root$p"
  fi
}

# An ELF file and its shared libraries.
copy_elf() {
  local p=$1 lib
  copy_path "$p"
  while read -r lib; do
    copy_path "$lib"
  done < <(ldd "$p" 2>/dev/null | awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^\//) print $i }')
}

# A tool from PATH (its path on the host; dynamic libraries too if it is an ELF file).
copy_tool() {
  local t=$1 p
  p=$(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin type -P "$t") || return 1
  copy_elf "$p"
}

# Our own binaries: debug info stripped (the VM's RAM and the cpio stay small).
copy_built() {
  local p=$1
  mkdir -p "$root${p%/*}"
  objcopy --strip-debug "$p" "$root$p"
  local lib
  while read -r lib; do copy_path "$lib"; done < <(ldd "$p" 2>/dev/null | awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^\//) print $i }')
}

REQUIRED_TOOLS="bash sh env cat rm mkdir rmdir seq sort uniq head tail tr cut sleep printf ls chmod ln
 touch wc date uname dirname basename cp mv true false id stat readlink mktemp timeout tee sed grep
 awk ip nft wg wg-quick ping sysctl kmod modprobe insmod rmmod lsmod depmod modinfo setsid stty
 mount umount dmesg"
OPTIONAL_TOOLS="wireguard-go bpftool conntrack iperf3 tc ss setpriv nsenter unshare findmnt xargs find less od hexdump
 ethtool bridge tcpdump nproc"

build_initramfs() {
  local work=$1
  root=$work/root
  rm -rf "$root"
  mkdir -p "$root"/{usr/bin,usr/sbin,usr/lib,usr/lib64,etc,root,proc,sys,dev,tmp,run,var,vm,bb}
  local l
  for l in bin sbin lib lib64; do
    if [[ -L /$l ]]; then ln -s "$(readlink /$l)" "$root/$l"; else mkdir -p "$root/$l"; fi
  done
  chmod 1777 "$root/tmp"

  cp "$busybox" "$root/bb/busybox"
  local a
  for a in $("$busybox" --list); do
    [[ $a == busybox ]] || ln -s busybox "$root/bb/$a"
  done
  local t missing=()
  for t in $REQUIRED_TOOLS; do copy_tool "$t" || missing+=("$t"); done
  ((${#missing[@]} == 0)) || skip "missing tools for the VM: ${missing[*]} (run scripts/setup.sh)"
  for t in $OPTIONAL_TOOLS; do copy_tool "$t" || true; done

  copy_built "$wgbpf_bin"
  copy_built "$e2e_bin"
  if ((unit)) && [[ -x $unit_bin ]]; then copy_built "$unit_bin"; fi
  mkdir -p "$root$src/scripts" "$root$src/tests"
  cp -p "$src"/scripts/*.sh "$root$src/scripts/"
  if [[ -d $src/tests/data ]]; then cp -a "$src/tests/data" "$root$src/tests/"; fi
  if [[ -d /etc/iproute2 ]]; then cp -a /etc/iproute2 "$root/etc/"; fi
  if [[ -d /usr/share/iproute2 ]]; then mkdir -p "$root/usr/share" && cp -a /usr/share/iproute2 "$root/usr/share/"; fi

  cat >"$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
EOF
  cat >"$root/etc/group" <<'EOF'
root:x:0:
tty:x:5:
nogroup:x:65534:
EOF
  printf '127.0.0.1 localhost wgbpf-vm\n::1 localhost\n' >"$root/etc/hosts"
  printf 'passwd: files\ngroup: files\nhosts: files\n' >"$root/etc/nsswitch.conf"
  : >"$root/etc/fstab"

  cp "$here/init.sh" "$root/init"
  chmod 755 "$root/init"
  {
    printf 'VM_MODULES=%q\n' "$BOOT_MODULES"
    printf 'WGBPF_BINARY=%q\n' "$wgbpf_bin"
    printf 'WGBPF_E2E=%q\n' "$e2e_bin"
    printf 'WGBPF_UNIT=%q\n' "$unit_bin"
    printf 'WGBPF_SOURCE_DIR=%q\n' "$src"
    printf 'VM_E2E_TIMEOUT=%q\n' "$e2e_timeout"
    printf 'VM_E2E_ARGS=%q\n' "$tests_spec"
    printf 'VM_LAB_PROBE=%q\n' "$lab_probe"
    printf 'VM_UNIT=%q\n' "$unit"
    printf 'VM_SHELL=%q\n' "$shell"
    printf 'VM_RUN=%q\n' "$run_cmd"
  } >"$root/vm/config"

  (cd "$root" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet -R 0:0) >"$work/base.cpio"
  cat "$work/base.cpio" "$kdir/modules.cpio" | gzip -1 >"$work/initrd"
  rm -rf "$work/base.cpio" "$root"
}

# ---- booting ----

CRASH_RE='Kernel panic|Oops|BUG: |general protection fault|double fault|Call Trace:|invalid opcode:|stack segment:|Attempted to kill init'

# One boot. Sets outcome: done | boot-crash | boot-timeout | run-crash | hung | stopped | aborted.
boot_once() {
  local work=$1 limit=$2 boot_limit=$3
  local console=$work/console.log results=$work/results.log
  : >"$console"
  : >"$results"
  local qemu=(qemu-system-x86_64 -nodefaults -no-user-config -accel tcg -cpu Nehalem -m 2048 -smp 1
    -display none -no-reboot -nic none -monitor none
    -serial "file:$console" -serial "file:$results"
    -kernel "$kdir/vmlinuz" -initrd "$work/initrd"
    -append "console=ttyS0 quiet panic=-1 oops=panic $append")
  # qemu dies with this shell, even if it is killed hard (CTest's timeout).
  setpriv --pdeathsig KILL -- "${qemu[@]}" </dev/null >"$work/qemu.log" 2>&1 &
  qpid=$!
  local t0=$SECONDS started=0
  outcome=""
  while kill -0 "$qpid" 2>/dev/null; do
    sleep 1
    if ! kill -0 "$main_pid" 2>/dev/null; then
      outcome=aborted # the runner was killed: stop, whatever the VM was doing
      break
    fi
    if ((started == 0)) && grep -q '^WGBPF-VM-START' "$results"; then
      started=1
      say "  reached the start marker after $((SECONDS - t0)) s"
    fi
    if ((started == 0 && SECONDS - t0 >= boot_limit)); then
      outcome=boot-timeout
      break
    fi
    if ((SECONDS - t0 >= limit)); then
      outcome=hung
      break
    fi
  done
  if [[ -n $outcome ]]; then
    kill -TERM "$qpid" 2>/dev/null || true
    sleep 1
    kill -KILL "$qpid" 2>/dev/null || true
  fi
  wait "$qpid" 2>/dev/null || true
  qpid=""
  boot_seconds=$((SECONDS - t0))
  # A crash signature on the console before the end marker: the boot (or the VM under the tests)
  # died, whatever the tests did. Never a pass or a fail of the tests.
  [[ $outcome != aborted ]] || return 0
  local crashed=0
  if awk '/WGBPF-VM-END/ { exit } { print }' "$console" | grep -Eq "$CRASH_RE"; then crashed=1; fi
  if grep -q '^WGBPF-VM-END' "$results" && ((crashed == 0)); then
    outcome="done"
  elif ((started == 0)); then
    [[ $outcome == boot-timeout ]] || outcome=boot-crash
  elif ((crashed)); then
    outcome=run-crash
  elif [[ -z $outcome ]]; then
    outcome=stopped
  fi
}

crash_excerpt() {
  local console=$1
  grep -Ea -m 1 -A 12 "$CRASH_RE" "$console" | sed 's/^/    | /' | cut -c1-160 >&2 || true
}

qpid=""
# shellcheck disable=SC2317 # called from the trap
stop_qemu() {
  if [[ -n $qpid ]]; then kill -KILL "$qpid" 2>/dev/null || true; fi
}

run_kernel() {
  local want=$1
  trap 'stop_qemu; exit 143' TERM INT HUP
  local t_kernel=$SECONDS
  resolve_kernel "$want"
  fetch_kernel
  local work=$build/vm/$release
  mkdir -p "$work"
  build_initramfs "$work"
  say "linux $release: initramfs $(du -h "$work/initrd" | cut -f1), $((SECONDS - t_kernel)) s to prepare"

  if ((shell)); then
    say "booting $release with a shell on this terminal (exit the shell to power off)"
    exec qemu-system-x86_64 -nodefaults -no-user-config -accel tcg -cpu Nehalem -m 2048 -smp 1 \
      -display none -no-reboot -nic none -serial mon:stdio -serial "file:$work/results.log" \
      -kernel "$kdir/vmlinuz" -initrd "$work/initrd" -append "console=ttyS0 quiet panic=-1 $append"
  fi

  local try outcome="" boot_seconds=0 again
  for ((try = 1; try <= tries; try++)); do
    local left=$((kernel_timeout - (SECONDS - t_kernel)))
    if ((left < 60)); then
      say "  boot $try: not started, the time limit (${kernel_timeout} s) is used up"
      break
    fi
    say "linux $release: boot $try/$tries (limit ${left} s)"
    boot_once "$work" "$left" "$boot_timeout"
    cp "$work/console.log" "$work/console.$try.log"
    cp "$work/results.log" "$work/results.$try.log"
    again="booting again"
    ((try < tries)) || again="no tries left"
    case $outcome in
      aborted) exit 143 ;;
      done)
        say "  boot $try: ran to the end marker in $boot_seconds s"
        break
        ;;
      boot-crash)
        say "  boot $try: the kernel crashed before the start marker ($boot_seconds s; TCG flake?): $again"
        crash_excerpt "$work/console.log"
        ;;
      boot-timeout)
        say "  boot $try: no start marker after $boot_seconds s: $again"
        ;;
      run-crash)
        say "  boot $try: the kernel crashed after the start marker, before the end marker ($boot_seconds s): $again"
        crash_excerpt "$work/console.log"
        ;;
      hung)
        say "  boot $try: the VM was still running after $boot_seconds s (time limit): tests hung"
        break
        ;;
      stopped)
        say "  boot $try: the VM stopped after the start marker without an end marker or a crash signature ($boot_seconds s)"
        break
        ;;
    esac
  done

  local report_args=(--kernel "$release" --package "$pkg" --outcome "$outcome" --seconds "$((SECONDS - t_kernel))"
    --console "$work/console.log")
  [[ -n $expect_route ]] && report_args+=(--expect-route "$expect_route")
  [[ -n $expect_wg ]] && report_args+=(--expect-wg "$expect_wg")
  ((verbose)) && report_args+=(--verbose)
  ((lab_probe)) || report_args+=(--no-lab-probe)
  [[ -z $run_cmd ]] || report_args+=(--run)
  local rc=0
  python3 "$here/report.py" "${report_args[@]}" "$work/results.log" || rc=$?
  return "$rc"
}

check_host
main_pid=$$
child=""
trap 'if [[ -n $child ]]; then kill -TERM "$child" 2>/dev/null; wait "$child"; fi; exit 143' TERM INT HUP
overall=""
for k in "${kernels[@]}"; do
  rc=0
  # Each kernel in a subshell: a skip (exit 4) of one does not stop the next.
  if ((shell)); then
    run_kernel "$k"
  fi
  (run_kernel "$k") &
  child=$!
  wait "$child" || rc=$?
  child=""
  case $rc in
    0) [[ -n $overall ]] || overall=0 ;;
    4) [[ -n $overall ]] || overall=4 ;;
    *) overall=1 ;;
  esac
  if [[ $rc == 0 && $overall == 4 ]]; then overall=0; fi
done
exit "${overall:-1}"
