#!/usr/bin/env bash
# Bad input gets a clear message and a documented exit code, never a crash (README "Exit codes").
# Usage: bad_input.sh PATH_TO_WGBPF
set -uo pipefail
wgbpf=$1
failures=0 passed=0

# expect CODE PATTERN -- ARGS...: exit code CODE and stderr matching PATTERN.
expect() {
  local code=$1 pattern=$2; shift 3
  local err rc
  err=$("$@" 2>&1 >/dev/null); rc=$?
  if [[ $rc -eq $code && $err =~ $pattern ]]; then
    passed=$((passed + 1))
  else
    echo "FAIL: $* -> exit $rc (want $code), stderr: $err (want /$pattern/)"
    failures=$((failures + 1))
  fi
}

expect 2 'subcommand is required' -- "$wgbpf"
expect 2 'not expected: --bogus' -- "$wgbpf" watch --bogus
expect 2 'positive number' -- "$wgbpf" watch --duration -1
expect 2 'positive number' -- "$wgbpf" watch --count zero
expect 2 'power of two' -- "$wgbpf" watch --ringbuf-kib 100
"$wgbpf" watch --help | grep -q -- '--iface' && passed=$((passed + 1)) || { echo 'FAIL: watch --help'; failures=$((failures + 1)); }

if [[ $(id -u) -eq 0 ]]; then
  expect 4 "network namespace 'wgbpf-no-such-ns' not found" -- "$wgbpf" watch --netns wgbpf-no-such-ns --duration 1
  expect 4 "not a network namespace" -- "$wgbpf" watch --netns /etc/passwd --duration 1
  expect 4 "no interface 'wgbpf-none0'" -- "$wgbpf" watch --iface wgbpf-none0 --duration 1
  expect 3 'needs root or the capabilities.*missing: .*CAP_BPF' -- \
    setpriv --reuid=nobody --regid=nogroup --clear-groups "$wgbpf" watch --duration 1
else
  expect 3 'needs root or the capabilities.*missing: .*CAP_BPF' -- "$wgbpf" watch --duration 1
fi

echo "$passed passed, $failures failed"
[[ $failures -eq 0 ]]
