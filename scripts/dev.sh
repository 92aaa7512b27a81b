#!/usr/bin/env bash
# The two quick-start commands (README): `dev.sh demo` and `dev.sh test`. Each sets up the machine
# (scripts/setup.sh, idempotent), builds, then runs the demo on the built-in lab or the whole test suite.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${WGBPF_BUILD_DIR:-$top/build}

usage() { echo "usage: $0 demo|test|build [ctest args...]" >&2; exit 2; }
[[ $# -ge 1 ]] || usage
what=$1; shift

if [[ $(id -u) -ne 0 ]]; then
  echo "dev.sh: run as root (setup installs packages; the demo and end-to-end tests load BPF programs)" >&2
  exit 1
fi

"$top/scripts/setup.sh"
cmake -S "$top" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build "$build" -j "$(nproc)"
if [[ $what == test ]]; then
  # The fuzz targets, with clang and sanitizers, for CTest's bounded fuzz runs (tests/fuzz/run-fuzz.sh).
  cmake -S "$top" -B "$build-fuzz" -G Ninja -DWGBPF_FUZZ=ON -DWGBPF_BUILD_BENCH=OFF -DCMAKE_BUILD_TYPE=None \
    -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_CXX_FLAGS="-O1 -gline-tables-only" >/dev/null
  cmake --build "$build-fuzz" -j "$(nproc)" --target fuzz_recording_reader fuzz_nftrace_parser
fi

case $what in
  build) ;;
  demo) "$top/scripts/demo.sh" "$build" "$@" ;;
  # One job more than cores: the two stock-kernel VMs (one emulated CPU each) and the lab's end-to-end areas
  # (which mostly wait for packets) run side by side; the hardening area runs alone at the end.
  test) ctest --test-dir "$build" --output-on-failure --timeout 900 -j "$(( $(nproc) + 1 ))" "$@" ;;
  *) usage ;;
esac
