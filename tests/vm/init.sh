#!/bb/busybox sh
# shellcheck shell=bash disable=SC1091,SC2012
# /init of the stock-kernel VM (tests/vm/run-vm-tests.sh builds the initramfs around it).
#
# Starts under busybox's static sh (it runs even if a shared library were missing), mounts the
# pseudo file systems, then goes on under the host's bash, so that every command is the real tool
# (Debian's busybox sh prefers its own applets: `ip` would be busybox's). Loads the modules the lab
# needs, then runs, as root:
#   1. `wgbpf watch --duration 1 --json` in the VM's own namespace: the flavour of each module;
#   2. the end-to-end suite (build/tests/wgbpf_e2e_tests), console + JUnit reporters;
#   3. the lab probe: `scripts/lab.sh up`, `wgbpf watch` on the client's WireGuard interface, pings through
#      the tunnel once the watch is attached (its ready line), how many route decisions were exact, `lab.sh down`;
#   4. the unit tests, if asked (they do not depend on the kernel).
# Everything the runner parses goes to the second serial port (/dev/ttyS1), in lines starting with
# "WGBPF-VM-"; the start and end markers go to the console (ttyS0) too, so the runner can tell a
# kernel crash before the end marker from one after it. Then it powers the VM off.
# Settings come from /vm/config (written by the runner). Written for bash, parsable by busybox sh.

PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/bb
export PATH HOME=/root TERM=dumb LANG=C.UTF-8
umask 022

if [ -z "${WGBPF_VM_STAGE2:-}" ]; then
	/bb/mount -t proc proc /proc
	/bb/mount -t sysfs sysfs /sys
	/bb/mount -t devtmpfs devtmpfs /dev 2>/dev/null
	export WGBPF_VM_STAGE2=1
	if /usr/bin/bash -c true 2>/dev/null; then
		exec /usr/bin/bash /init "$@"
	fi
	echo "wgbpf-vm: cannot run /usr/bin/bash: $(/usr/bin/bash -c true 2>&1)" >/dev/console
	echo "WGBPF-VM-BOOTED error=no-bash" >/dev/ttyS1
	/bb/poweroff -f
fi

res=/dev/ttyS1
[ -c $res ] || res=/dev/console
exec 3>"$res"
# The console gets kernel messages (quiet: errors and worse) and this script's own trouble.
exec 1>/dev/console 2>&1

say() { echo "wgbpf-vm: $*"; }
out() { echo "WGBPF-VM-$*" >&3; }
halt() {
	sync
	/bb/poweroff -f
	sleep 5
	echo o >/proc/sysrq-trigger
}

. /vm/config
export WGBPF_BINARY WGBPF_SOURCE_DIR # the tests honour them (same paths as on the host anyway)

# /tmp stays on the root file system: the build directory may live under /tmp on the host and is
# mirrored at the same path here.
mkdir -p /dev/pts /dev/shm /dev/mqueue /run /tmp /sys/fs/bpf /sys/kernel/tracing /sys/kernel/debug /sys/fs/cgroup
chmod 1777 /tmp
mount -t devpts -o gid=5,mode=620 devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t tmpfs -o mode=755 tmpfs /run
mount -t bpf bpf /sys/fs/bpf
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null
ln -sf /proc/self/fd /dev/fd
ln -sf /proc/self/fd/0 /dev/stdin
ln -sf /proc/self/fd/1 /dev/stdout
ln -sf /proc/self/fd/2 /dev/stderr
mkdir -p /run/netns /run/lock /var/log
ln -sfn /run /var/run 2>/dev/null
ln -sf /proc/mounts /etc/mtab
hostname wgbpf-vm 2>/dev/null || echo wgbpf-vm >/proc/sys/kernel/hostname
ip link set lo up

# The serial line as a plain byte pipe (no CR added).
stty -F "$res" raw -echo 2>/dev/null

kernel=$(uname -r)
out "BOOTED kernel=$kernel"

# Modules: load them up front (the kernel also finds /sbin/modprobe for autoloading).
loaded="" failed=""
for m in $VM_MODULES; do
	if modprobe "$m" 2>/tmp/modprobe.err; then
		loaded="$loaded $m"
	else
		failed="$failed $m"
		say "modprobe $m: $(cat /tmp/modprobe.err)"
	fi
done
out "MODULES loaded=[${loaded# }] failed=[${failed# }]"
out "BTF $(ls /sys/kernel/btf | tr '\n' ' ')"

if [ "${VM_SHELL:-0}" = 1 ]; then
	say "shell (exit to power off)"
	setsid -c -w bash -i </dev/ttyS0 >/dev/ttyS0 2>&1
	halt
fi

# --run: one command instead of the tests (debugging), its output on the result channel.
if [ -n "${VM_RUN:-}" ]; then
	echo "WGBPF-VM-START kernel=$kernel"
	out "START kernel=$kernel uptime=$(cut -d' ' -f1 /proc/uptime)"
	bash -c "$VM_RUN" </dev/null 2>&1 | sed 's/^/WGBPF-VM-RUN /' >&3
	out "END run=${PIPESTATUS[0]}"
	echo "WGBPF-VM-END"
	halt
fi

# The start marker, on both lines: from here on, a crash is the tests' run, not the boot.
echo "WGBPF-VM-START kernel=$kernel"
out "START kernel=$kernel uptime=$(cut -d' ' -f1 /proc/uptime)"

cd /tmp || halt

# 1. Flavours, in the VM's own namespace.
timeout 120 "$WGBPF_BINARY" watch --duration 1 --json >/tmp/probe.json 2>/tmp/probe.err
probe_rc=$?
out "PROBE rc=$probe_rc"
out "PROBE-SUMMARY $(grep '"kind":"summary"' /tmp/probe.json | tail -n 1)"
sed 's/^/WGBPF-VM-PROBE-LOG /' /tmp/probe.err >&3

# 2. The end-to-end suite.
out "E2E-BEGIN uptime=$(cut -d' ' -f1 /proc/uptime)"
# VM_E2E_ARGS: one Catch2 test spec (names, wildcards, [tags]), as one argument.
set --
[ -n "$VM_E2E_ARGS" ] && set -- "$VM_E2E_ARGS"
timeout "$VM_E2E_TIMEOUT" "$WGBPF_E2E" --colour-mode none --reporter console --reporter JUnit::out=/tmp/junit.xml "$@" >&3 2>&3
e2e_rc=$?
out "E2E-END rc=$e2e_rc uptime=$(cut -d' ' -f1 /proc/uptime)"
out "JUNIT-BEGIN"
[ -r /tmp/junit.xml ] && cat /tmp/junit.xml >&3
echo >&3
out "JUNIT-END"

# 3. The lab probe: exact or inferred rules on real traffic, and which WireGuard ran.
lab_rc=skipped
if [ "${VM_LAB_PROBE:-1}" = 1 ]; then
	out "LAB-BEGIN uptime=$(cut -d' ' -f1 /proc/uptime)"
	if timeout 180 "$WGBPF_SOURCE_DIR/scripts/lab.sh" up >/tmp/lab-up.log 2>&1; then
		out "LAB-WG impl=$(cat /run/wgbpf-lab/wgbpf/impl 2>/dev/null || echo unknown)"
		# wgbpf takes seconds to load and attach under TCG: ping once it says it is attached (its ready
		# line; --duration counts from there), never before, and give up after 60 s.
		timeout 90 "$WGBPF_BINARY" watch --netns wgbpf-client --iface wg0 --json --duration 12 \
			>/tmp/lab.json 2>/tmp/lab.err &
		watch_pid=$!
		ready=no
		t_ready=$((SECONDS + 60))
		while [ "$SECONDS" -lt "$t_ready" ]; do
			if grep -q '"kind":"ready"' /tmp/lab.json; then ready=yes; break; fi
			kill -0 "$watch_pid" 2>/dev/null || break
			sleep 0.1
		done
		if [ "$ready" = no ] && grep -q '"kind":"ready"' /tmp/lab.json; then ready=yes; fi
		if [ "$ready" = yes ]; then
			ip netns exec wgbpf-client ping -n -q -c 16 -i 0.5 -W 2 198.51.100.9 >/tmp/lab-ping.log 2>&1
			ping_rc=$?
		else
			ping_rc=not-sent
			echo "wgbpf watch did not say it was attached (no ready line) within 60 s: no ping sent" >/tmp/lab-ping.log
			kill "$watch_pid" 2>/dev/null
		fi
		wait $watch_pid
		lab_rc=$?
		[ "$ready" = yes ] || lab_rc=not-ready
		routes=$(grep -c '"kind":"route"' /tmp/lab.json)
		exact=$(grep '"kind":"route"' /tmp/lab.json | grep -c '"exact":true')
		out "LAB-ROUTES total=$routes exact=$exact ping_rc=$ping_rc ready=$ready"
		out "LAB-SUMMARY $(grep '"kind":"summary"' /tmp/lab.json | tail -n 1)"
		sed 's/^/WGBPF-VM-LAB-LOG /' /tmp/lab.err >&3
		sed 's/^/WGBPF-VM-LAB-PING /' /tmp/lab-ping.log >&3
		grep '"kind":"route"' /tmp/lab.json | head -n 20 | sed 's/^/WGBPF-VM-LAB-ROUTE /' >&3
	else
		lab_rc=up-failed
		out "LAB-WG impl=none"
	fi
	sed 's/^/WGBPF-VM-LAB-UP /' /tmp/lab-up.log >&3
	timeout 120 "$WGBPF_SOURCE_DIR/scripts/lab.sh" down >/dev/null 2>&1
	out "LAB-END rc=$lab_rc uptime=$(cut -d' ' -f1 /proc/uptime)"
fi

# 4. Unit tests (optional: they do not depend on the kernel).
unit_rc=skipped
if [ "${VM_UNIT:-0}" = 1 ] && [ -x "$WGBPF_UNIT" ]; then
	timeout 300 "$WGBPF_UNIT" --reporter compact >/tmp/unit.log 2>&1
	unit_rc=$?
	tail -n 5 /tmp/unit.log | sed 's/^/WGBPF-VM-UNIT-LOG /' >&3
fi

# Kernel trouble during the run (warnings, oopses) is worth seeing even when nothing crashed.
dmesg 2>/dev/null | grep -E 'WARNING:|Oops|BUG:|Call Trace|general protection|double fault' | head -n 40 |
	sed 's/^/WGBPF-VM-DMESG /' >&3

out "END e2e=$e2e_rc probe=$probe_rc lab=$lab_rc unit=$unit_rc uptime=$(cut -d' ' -f1 /proc/uptime)"
echo "WGBPF-VM-END"
halt
