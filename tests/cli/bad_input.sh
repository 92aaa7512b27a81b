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
expect 2 'whole number from 1' -- "$wgbpf" watch --count zero
expect 2 'whole number from 1' -- "$wgbpf" watch --count 1e23
expect 2 'whole number from 1' -- "$wgbpf" watch --count 2.5
expect 2 'must be at most' -- "$wgbpf" watch --duration 1e20
expect 2 'must be at most' -- "$wgbpf" watch --duration inf
expect 2 'positive number' -- "$wgbpf" watch --duration nan
expect 2 'must be at most' -- "$wgbpf" compare --nftrace - --duration 1e20
expect 2 'needs a file name' -- "$wgbpf" watch -w '' --duration 1
expect 2 'power of two' -- "$wgbpf" watch --ringbuf-kib 100
expect 2 'bad filter expression: syntax error' -- "$wgbpf" watch --duration 1 icmp and hots 10.0.0.1
expect 2 'bad filter expression: ethernet addresses supported only' -- "$wgbpf" watch --duration 1 'ether host 1:2:3:4:5:6'
expect 2 'wgbpf sees the first 128 bytes' -- "$wgbpf" watch --duration 1 'ip[200] = 1'
expect 2 'sample: Value 0 not in range 1 to 65535' -- "$wgbpf" watch --sample 0
expect 2 'sample: Value 70000 not in range 1 to 65535' -- "$wgbpf" watch --sample 70000
# top: the watch's options and its own
expect 2 'not expected: --bogus' -- "$wgbpf" top --bogus
expect 2 'positive number' -- "$wgbpf" top --interval 0
expect 2 'must be at most' -- "$wgbpf" top --interval 7200
expect 2 'whole number from 1' -- "$wgbpf" top --rows 0
expect 2 'bad filter expression: syntax error' -- "$wgbpf" top --duration 1 icmp and hots 10.0.0.1
expect 2 'sample: Value 0 not in range 1 to 65535' -- "$wgbpf" top --sample 0
# --log-format json: every stderr line one JSON object, errors with their exit codes
expect 2 'log-format: .*not in \{text,json\}|log-format.*json' -- "$wgbpf" --log-format yaml watch
expect 2 '^\{"level":"error","message":"The following argument was not expected: --bogus","program":"wgbpf","time":"[0-9T:.-]+Z"\}$' -- "$wgbpf" --log-format json watch --bogus
expect 2 '"level":"error","message":"bad filter expression: syntax error' -- "$wgbpf" --log-format=json watch --duration 1 icmp and hots 1.2.3.4
expect 2 'metrics: want ADDR:PORT' -- "$wgbpf" watch --metrics nope
expect 2 'metrics: the port must be a number from 1 to 65535' -- "$wgbpf" top --metrics 127.0.0.1:70000
expect 2 'pcapng: needs a file name' -- "$wgbpf" watch --pcapng '' --duration 1
expect 2 'snaplen: Value 0 not in range 1 to 256' -- "$wgbpf" watch --snaplen 0
expect 2 'snaplen: Value 300 not in range 1 to 256' -- "$wgbpf" watch --snaplen 300 --pcapng /tmp/x
"$wgbpf" watch --help | grep -q -- '--iface' && passed=$((passed + 1)) || { echo 'FAIL: watch --help'; failures=$((failures + 1)); }

if [[ $(id -u) -eq 0 ]]; then
  expect 4 "network namespace 'wgbpf-no-such-ns' not found" -- "$wgbpf" watch --netns wgbpf-no-such-ns --duration 1
  expect 4 "not a network namespace" -- "$wgbpf" watch --netns /etc/passwd --duration 1
  expect 4 "network namespace 'wgbpf-no-such-ns' not found" -- "$wgbpf" watch --netns /proc/self/ns/net --netns wgbpf-no-such-ns --duration 1
  expect 2 "--netns all watches every namespace: give no other --netns" -- "$wgbpf" watch --netns all --netns /proc/self/ns/net --duration 1
  expect 4 "no interface 'wgbpf-no-if0' in network namespace" -- "$wgbpf" watch --netns /proc/self/ns/net --iface wgbpf-no-if0 --duration 1
  expect 4 "no interface 'wgbpf-none0'" -- "$wgbpf" watch --iface wgbpf-none0 --duration 1
  expect 4 "network namespace 'wgbpf-no-such-ns' not found" -- "$wgbpf" top --netns wgbpf-no-such-ns --duration 1
  expect 3 'needs root or the capabilities.*missing: .*CAP_BPF' -- \
    setpriv --reuid=nobody --regid=nogroup --clear-groups "$wgbpf" top --duration 1
  expect 3 'needs root or the capabilities.*missing: .*CAP_BPF' -- \
    setpriv --reuid=nobody --regid=nogroup --clear-groups "$wgbpf" watch --duration 1
  expect 1 'cannot create recording /nonexistent-wgbpf-dir/x: No such file' -- \
    "$wgbpf" watch -w /nonexistent-wgbpf-dir/x --duration 1
  expect 1 'cannot write /nonexistent-wgbpf-dir/x.pcapng' -- \
    "$wgbpf" watch --pcapng /nonexistent-wgbpf-dir/x.pcapng --duration 1
  # ... said before any probe is loaded (that takes seconds)
  if "$wgbpf" watch -w /nonexistent-wgbpf-dir/x --duration 1 2>&1 | grep -q 'module:'; then
    echo 'FAIL: watch -w into a missing directory loaded probes before saying so'; failures=$((failures + 1))
  else
    passed=$((passed + 1))
  fi
else
  expect 3 'needs root or the capabilities.*missing: .*CAP_BPF' -- "$wgbpf" watch --duration 1
fi

# replay: no privileges needed; missing file 4, anything not a whole recording 1 with the reader's words
# (a cut or corrupted recording is rendered up to the problem first).
recording=$(dirname "$0")/../data/recordings/seed_v1.wgbpf
scratch=$(mktemp -d)
ns=
trap 'rm -rf "$scratch"; if [[ -n $ns ]]; then ip netns del "$ns" 2>/dev/null; fi' EXIT
: > "$scratch/empty"
head -c 700 "$recording" > "$scratch/cut.wgbpf"
cp "$recording" "$scratch/flipped.wgbpf"
printf '\x00' | dd of="$scratch/flipped.wgbpf" bs=1 seek=300 conv=notrunc status=none
expect 2 'file is required' -- "$wgbpf" replay
expect 2 'not expected: --bogus' -- "$wgbpf" replay "$recording" --bogus
expect 4 "recording $scratch/none.wgbpf not found" -- "$wgbpf" replay "$scratch/none.wgbpf"
expect 1 'not a wgbpf recording \(bad magic\)' -- "$wgbpf" replay /etc/passwd
expect 1 'not a wgbpf recording \(bad magic\)' -- "$wgbpf" replay "$wgbpf"
expect 1 'empty file, not a wgbpf recording' -- "$wgbpf" replay "$scratch/empty"
expect 1 'is a directory, not a wgbpf recording' -- "$wgbpf" replay "$scratch"
expect 1 'truncated: frame at byte [0-9]+ says [0-9]+ bytes, [0-9]+ left' -- "$wgbpf" replay "$scratch/cut.wgbpf"
expect 1 'corrupted: frame at byte [0-9]+ fails its checksum' -- "$wgbpf" replay "$scratch/flipped.wgbpf"
expect 0 'replaying' -- "$wgbpf" replay "$recording" --json
# --pcapng wants the bytes only recordings made with --snaplen or --pcapng carry; a file it cannot write is said.
expect 1 'no packet bytes in this recording: it was made without --snaplen or --pcapng' -- \
  "$wgbpf" replay "$recording" --pcapng "$scratch/out.pcapng"
expect 2 'steps excludes --pcapng|pcapng excludes --steps' -- "$wgbpf" replay "$recording" --steps --pcapng "$scratch/o.pcapng"
expect 2 'steps excludes --pcapng|pcapng excludes --steps' -- "$wgbpf" watch --steps --pcapng "$scratch/o.pcapng"
if [[ $(id -u) -eq 0 ]]; then
  chmod 0 "$scratch/empty"
  chmod 755 "$scratch"
  expect 1 'cannot open: Permission denied' -- \
    setpriv --reuid=nobody --regid=nogroup --clear-groups "$wgbpf" replay "$scratch/empty"
  cp "$recording" "$scratch/seed.wgbpf" && chmod 644 "$scratch/seed.wgbpf"
  expect 0 'replaying' -- setpriv --reuid=nobody --regid=nogroup --clear-groups "$wgbpf" replay "$scratch/seed.wgbpf"
fi

# compare: a missing file 4; a trace with nothing readable 1, naming the line; a cut recording 1 after comparing.
trace=$(dirname "$0")/../data/nftrace/recording_seed_v1.txt
printf 'Some text\ntrace id zz inet filter output policy accept\n' > "$scratch/garbage.txt"
expect 2 'nftrace is required' -- "$wgbpf" compare "$recording"
expect 2 'without a RECORDING the trace is read live from stdin' -- "$wgbpf" compare --nftrace "$trace"
# Live comparison watches: the same namespace and privilege checks as watch.
if [[ $(id -u) -eq 0 ]]; then
  expect 4 "network namespace 'wgbpf-no-such-ns' not found" -- "$wgbpf" compare --nftrace - --netns wgbpf-no-such-ns </dev/null
  expect 3 'needs root or the capabilities' -- \
    setpriv --reuid=nobody --regid=nogroup --clear-groups "$wgbpf" compare --nftrace - </dev/null
else
  expect 3 'needs root or the capabilities' -- "$wgbpf" compare --nftrace - </dev/null
fi
expect 4 "nftrace file $scratch/none.txt not found" -- "$wgbpf" compare --nftrace "$scratch/none.txt" "$recording"
expect 4 "recording $scratch/none.wgbpf not found" -- "$wgbpf" compare --nftrace "$trace" "$scratch/none.wgbpf"
expect 1 "no .trace id. lines in $scratch/empty" -- "$wgbpf" compare --nftrace "$scratch/empty" "$recording"
expect 1 "line 2: trace id 'zz' is not 1 to 8 hexadecimal digits" -- \
  "$wgbpf" compare --nftrace "$scratch/garbage.txt" "$recording"
expect 1 'is a directory' -- "$wgbpf" compare --nftrace "$scratch" "$recording"
expect 1 'truncated: frame at byte [0-9]+ says [0-9]+ bytes, [0-9]+ left' -- \
  "$wgbpf" compare --nftrace "$trace" "$scratch/cut.wgbpf"
expect 0 '2 traces from 20 lines' -- "$wgbpf" compare --nftrace "$trace" "$recording" --json

# diagnose: usage 2, a recording as replay reads it (missing 4, not one or cut short 1), findings 5, live as watch.
expect 2 'diagnose needs the WireGuard interface to look at: --iface IF' -- "$wgbpf" diagnose
expect 2 'positive number' -- "$wgbpf" diagnose --iface wg0 --duration -1
expect 4 "recording $scratch/none.wgbpf not found" -- "$wgbpf" diagnose -r "$scratch/none.wgbpf"
expect 1 'not a wgbpf recording \(bad magic\)' -- "$wgbpf" diagnose -r /etc/passwd
expect 1 'truncated: frame at byte' -- "$wgbpf" diagnose -r "$scratch/cut.wgbpf"
expect 0 '' -- "$wgbpf" diagnose -r "$recording" --json
if [[ $(id -u) -eq 0 ]]; then
  expect 4 "network namespace 'wgbpf-no-such-ns' not found" -- "$wgbpf" diagnose --netns wgbpf-no-such-ns --iface wg0 --duration 1
  expect 2 "diagnose takes one namespace, not all" -- "$wgbpf" diagnose --netns all --iface wg0 --duration 1
  expect 2 "compare takes one namespace, not all" -- "$wgbpf" compare --nftrace - --netns all </dev/null
  expect 3 'needs root or the capabilities' -- \
    setpriv --reuid=nobody --regid=nogroup --clear-groups "$wgbpf" diagnose --iface wg0 --duration 1
else
  expect 3 'needs root or the capabilities' -- "$wgbpf" diagnose --iface wg0 --duration 1
fi

# Output that cannot be written is an error (exit 1, with the reason); a reader that goes away is the end.
# expect_output CODE PATTERN REDIRECT -- ARGS...: like expect, with stdout sent to REDIRECT (a file, or - closed).
expect_output() {
  local code=$1 pattern=$2 to=$3; shift 4
  local err rc
  if [[ $to == - ]]; then err=$("$@" 2>&1 >&-); rc=$?; else err=$("$@" 2>&1 >"$to"); rc=$?; fi
  if [[ $rc -eq $code && $err =~ $pattern ]]; then
    passed=$((passed + 1))
  else
    echo "FAIL: $* >$to -> exit $rc (want $code), stderr: $err (want /$pattern/)"
    failures=$((failures + 1))
  fi
}
expect_output 1 'cannot write the output: No space left on device' /dev/full -- "$wgbpf" replay "$recording"
expect_output 1 'cannot write the output: Bad file descriptor' - -- "$wgbpf" replay "$recording" --json
expect_output 1 'cannot write the output: No space left on device' /dev/full -- \
  "$wgbpf" compare --nftrace "$trace" "$recording"
"$wgbpf" replay "$recording" 2>/dev/null | head -c 1 >/dev/null
rc=${PIPESTATUS[0]}
if [[ $rc -eq 0 ]]; then passed=$((passed + 1)); else echo "FAIL: replay | head -c 1 -> exit $rc (want 0)"; failures=$((failures + 1)); fi
if [[ $(id -u) -eq 0 ]]; then
  ns=wgbpf-cli-$$
  ip netns add "$ns"
  expect_output 1 'cannot write the output: No space left on device' /dev/full -- \
    "$wgbpf" watch --netns "$ns" --json --duration 3
  # `watch | head -1` ends when head has its line, not when the watch would have.
  start=$SECONDS
  timeout 60 "$wgbpf" watch --netns "$ns" --json --duration 30 2>/dev/null | head -1 >/dev/null
  rc=${PIPESTATUS[0]}
  if [[ $rc -eq 0 && $((SECONDS - start)) -lt 20 ]]; then passed=$((passed + 1))
  else echo "FAIL: watch | head -1 -> exit $rc after $((SECONDS - start)) s (want 0, well before --duration 30)"; failures=$((failures + 1)); fi
  # An interface named with an OSC 52 sequence (it would write the reader's clipboard): shown escaped.
  evil=$'\e]52;c;eA==\a'
  ip -n "$ns" link add "$evil" type veth peer name wgbpfp0 && ip -n "$ns" addr add 10.99.0.1/24 dev "$evil" &&
    ip -n "$ns" link set wgbpfp0 up && ip -n "$ns" link set "$evil" up
  out=$("$wgbpf" watch --netns "$ns" --steps --duration 4 2>&1 & sleep 2; ip netns exec "$ns" ping -c 1 -W 1 10.99.0.2 >/dev/null 2>&1; wait)
  if [[ $out == *'\x1b]52;c;eA==\x07'* && $out != *$'\e]52'* ]]; then passed=$((passed + 1))
  else echo "FAIL: a control sequence in an interface name reached the terminal (or the name was not shown): $(printf '%q' "$out")"; failures=$((failures + 1)); fi
  # Two namespaces, the interface in neither: said, with both named.
  expect 4 "no interface 'wgbpf-no-if0' in network namespaces" -- "$wgbpf" watch --netns /proc/self/ns/net --netns "$ns" --iface wgbpf-no-if0 --duration 1
  expect 2 "--nftrace traces one namespace: give one --netns" -- "$wgbpf" watch --nftrace --netns /proc/self/ns/net --netns "$ns" --duration 1
  # The same namespace twice is watched once.
  expect_output 0 'is a namespace already given: watched once' /dev/null -- "$wgbpf" watch --netns "$ns" --netns "/run/netns/$ns" --json --duration 1
  ip netns del "$ns" && ns=
fi

echo "$passed passed, $failures failed"
[[ $failures -eq 0 ]]
