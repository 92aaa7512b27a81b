#!/usr/bin/env bash
# Installs everything wgbpf needs on a fresh Debian 12 (bookworm) machine: build, tests, lab, demo,
# benchmarks and the stock-kernel VM tests. Idempotent: safe to run again.
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
  echo "setup.sh: must run as root (it installs Debian packages); try: sudo $0" >&2
  exit 1
fi
if ! grep -q 'VERSION_CODENAME=bookworm' /etc/os-release; then
  echo "setup.sh: expected Debian 12 (bookworm); found: $(. /etc/os-release; echo "$PRETTY_NAME")" >&2
  exit 1
fi

# libbpf 1.4 (SEC("netfilter"), bpf_program__attach_netfilter), bpftool 7.5, Catch2 3 and a current
# wireguard-go come from bookworm-backports; the base suite's versions are too old.
backports=/etc/apt/sources.list.d/bookworm-backports.sources
if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
  cat >"$backports" <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
fi

export DEBIAN_FRONTEND=noninteractive
# tshark's package asks whether non-root users may capture: no (wgbpf's tests only read files)
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
apt-get update -q

base_packages=(
  # build
  build-essential cmake ninja-build pkg-config git clang llvm libelf-dev zlib1g-dev
  libcli11-dev libspdlog-dev libfmt-dev nlohmann-json3-dev rapidjson-dev libmnl-dev libnftnl-dev libnftables-dev libbenchmark-dev
  libpcap-dev prometheus-cpp-dev
  # lab, demo and end-to-end tests
  iproute2 nftables conntrack wireguard-tools iputils-ping iperf3 tcpdump procps kmod
  # stock-kernel VM tests
  qemu-system-x86 busybox-static cpio xz-utils zstd
  # tests and checks (libclang-rt: libFuzzer and sanitizer runtimes for the fuzz targets; clang only recommends it)
  valgrind python3 libclang-rt-14-dev
  # the man page (built from man/wgbpf.8.scd), the Debian package, and the checks of the zsh and fish completions
  scdoc dpkg-dev file man-db zsh fish
  # the end-to-end tests read wgbpf's pcapng files with Wireshark's dissectors
  tshark
  # the package's test installs it with apt into a fresh, debootstrapped Debian 12
  debootstrap
)
backports_packages=(libbpf-dev bpftool catch2 wireguard-go)

apt-get install -y -q --no-install-recommends "${base_packages[@]}"
apt-get install -y -q --no-install-recommends -t bookworm-backports "${backports_packages[@]}"

# Classic tracepoints and bpf statistics want these mounted; harmless if they already are.
mountpoint -q /sys/kernel/tracing || mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null || true
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf 2>/dev/null || true

echo "setup.sh: done (libbpf $(pkg-config --modversion libbpf), $(bpftool version | head -1))"
