#!/usr/bin/env bash
# Regenerates vmlinux/<arch>/vmlinux.h from a kernel's BTF and records where it came from.
# CO-RE relocates every field access at load time, so one header serves all kernels of an arch.
# Usage: vmlinux/update.sh [BTF_FILE]   (default: /sys/kernel/btf/vmlinux of the running kernel)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
btf=${1:-/sys/kernel/btf/vmlinux}
arch=$(uname -m)
mkdir -p "$here/$arch"
bpftool btf dump file "$btf" format c >"$here/$arch/vmlinux.h"
{
  echo "source: $btf"
  echo "kernel: $(uname -r) ($(uname -v))"
  echo "generated: $(date -u +%Y-%m-%dT%H:%M:%SZ) by $(bpftool version | head -1)"
} >"$here/$arch/SOURCE"
echo "wrote $here/$arch/vmlinux.h"
