#!/usr/bin/env bash
# Runs one libFuzzer target for a bounded time, from a copy of its seed inputs (the source tree is never
# written). Skips (exit 4) when the target was not built: `scripts/dev.sh test` builds the fuzz targets with
# clang; a plain cmake build does not.
# Usage: tests/fuzz/run-fuzz.sh FUZZER SECONDS SEED_DIR
set -euo pipefail
bin=$1 seconds=$2 seeds=$3
if [[ ! -x $bin ]]; then
  echo "skipped: $bin was not built (scripts/dev.sh test builds the fuzz targets with clang)"
  exit 4
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/corpus"
cp "$seeds"/* "$work/corpus/"
status=0
"$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=1024 -artifact_prefix="$work/" -print_final_stats=1 \
  "$work/corpus" >"$work/log" 2>&1 || status=$?
tail -n 25 "$work/log"
if ((status != 0)); then
  for f in "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-*; do
    [[ -e $f ]] || continue
    echo "reproducer ${f##*/} (base64):"
    base64 -w0 "$f"
    echo
  done
fi
exit "$status"
