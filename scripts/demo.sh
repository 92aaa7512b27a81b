#!/usr/bin/env bash
# The main job on the built-in lab: bring up the seed topology (scripts/lab.sh), watch the client's
# WireGuard interface with wgbpf while the client pings 198.51.100.9 through the tunnel, tear the
# lab down again (also on failure or Ctrl-C).
#
# Usage: scripts/demo.sh [BUILD_DIR] [WGBPF_WATCH_ARGS...]     (as root; BUILD_DIR default: build)
#   e.g. scripts/demo.sh build --json
#        scripts/demo.sh build-debug -v
# Arguments after the build dir are passed to `wgbpf watch` (after the demo's own ones).
# Environment: WGBPF_LAB, WGBPF_LAB_WG, ... as for scripts/lab.sh.
set -euo pipefail

prog=demo.sh
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(dirname "$here")
lab=$here/lab.sh

die() {
  echo "$prog: $*" >&2
  exit 1
}

build=build
if [[ $# -gt 0 && $1 != -* ]]; then
  build=$1
  shift
fi
case $build in
  /*) ;;
  *) [[ -d $build ]] || build=$src/$build ;;
esac
wgbpf=$build/wgbpf

[[ $EUID -eq 0 ]] || die "must run as root (network namespaces, BPF); try: sudo $0 $*"
[[ -x $wgbpf ]] || die "no wgbpf binary at $wgbpf (build first: cmake -S $src -B $build -G Ninja && cmake --build $build)"

LAB=${WGBPF_LAB:-wgbpf}
NS_C=$LAB-client
WG=${WGBPF_LAB_WG:-wg0}
TARGET=198.51.100.9
DURATION=12

watch_pid=""
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [[ -n $watch_pid ]] && kill -0 "$watch_pid" 2>/dev/null; then
    kill -INT "$watch_pid" 2>/dev/null || true
    for _ in $(seq 1 30); do
      kill -0 "$watch_pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$watch_pid" 2>/dev/null || true
    wait "$watch_pid" 2>/dev/null || true
  fi
  "$lab" down || true
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "$prog: bringing up the lab" >&2
"$lab" up

# The demo's options, unless the extra arguments give their own.
own=()
set_own() {
  local name=$1 value=$2 a
  for a in "${extra[@]}"; do
    [[ $a == "$name" || $a == "$name="* ]] && return 0
  done
  own+=("$name" "$value")
}
extra=("$@")
set_own --netns "$NS_C"
set_own --iface "$WG"
set_own --duration "$DURATION"

echo "$prog: $wgbpf watch ${own[*]} $*" >&2
"$wgbpf" watch "${own[@]}" "$@" &
watch_pid=$!

sleep 2
kill -0 "$watch_pid" 2>/dev/null || {
  wait "$watch_pid" && rc=0 || rc=$?
  watch_pid=""
  die "wgbpf watch exited early (status $rc)"
}

echo "$prog: ping -c 3 $TARGET from $NS_C" >&2
ip netns exec "$NS_C" ping -c 3 -i 1 "$TARGET" >&2 || echo "$prog: ping failed" >&2

rc=0
wait "$watch_pid" || rc=$?
watch_pid=""
if ((rc != 0)); then
  die "wgbpf watch exited with status $rc"
fi
echo "$prog: done" >&2
