#!/usr/bin/env bash
# The seed topology (docs/design.md, "The lab") in three network namespaces joined by veth pairs.
#
#   client (LAB-client)            router (LAB-router)               server (LAB-server)
#   c0  192.168.178.48/24  <-veth->  r0 192.168.178.1/24
#                                    r1 203.0.113.1/24     <-veth->  s0  203.0.113.123/24
#   wg0 10.0.0.1/24 (wg-quick)                                       wgs0 10.0.0.254/24 (ip + wg)
#   seed `table inet filter`, rp_filter=1                            lo  198.51.100.9/32, forwarding
#
# The client's WireGuard interface is brought up by wg-quick from a generated config, so it gets
# exactly the seed's policy routing (fwmark 51820, table 51820, the two rules, src_valid_mark) and
# the nft table ip wg-quick-wg0. Without a WireGuard kernel module, wireguard-go is used.
# Nothing here touches the root namespace's links, routes, rules or firewall.
#
# Usage: scripts/lab.sh up|down|status|exec ROLE CMD...      (as root; ROLE: client|router|server|app|peers)
#
# Environment:
#   WGBPF_LAB            lab name, prefix of the namespaces (default wgbpf)
#   WGBPF_LAB_WG         client WireGuard interface (default wg0)
#   WGBPF_LAB_WG_SERVER  server WireGuard interface (default wgs0 for wg0, else ${WGBPF_LAB_WG}s).
#                        wireguard-go's control sockets (/var/run/wireguard/IF.sock) are shared by
#                        all namespaces: two labs up at once need different interface names.
#   WGBPF_LAB_IPV6=1     dual stack: fd00:178::48/64 (client) fd00:178::1/64 (router LAN),
#                        fd00:203::1/64 (router transit) fd00:203::123/64 (server),
#                        tunnel fd10::1/64 (client) fd10::254/64 (server), fd51::9/128 on the
#                        server's lo, AllowedIPs ::/0 (wg-quick then adds the ip -6 rules too).
#                        The LAN neighbours are static: the seed's input chain drops ICMPv6 ND
#                        (conntrack calls it invalid) and the ruleset stays exactly the seed's.
#   WGBPF_LAB_KERNEL_WG=0|1  force wireguard-go (0) or kernel WireGuard (1); default: probe.
#   WGBPF_LAB_CONTAINER=1  the client's WireGuard interface as wireguard.com/netns puts it in a container:
#                        created in the client namespace (where its UDP socket stays), then moved into
#                        a fourth namespace LAB-app, whose only route is the tunnel (no wg-quick, no
#                        policy routing). Inner packets in LAB-app, outer packets in LAB-client.
#   WGBPF_LAB_PEERS=N    the server as a road-warrior gateway for N more peers (1-250): a fifth namespace
#                        LAB-peers behind the router (p0 192.168.179.2/24, r2 192.168.179.1/24) holds N
#                        WireGuard interfaces WGp1..WGpN (10.7.0.i/32, one peer each: the server, at
#                        its endpoint), each chosen by its source address (rule `from 10.7.0.i lookup
#                        1000+i`). The server routes 10.7.0.0/24 into its interface, knows the N peers
#                        and masquerades what they send out of its uplink (table ip gateway), as
#                        angristan/wireguard-install's PostUp does. Their flows' far end: the router,
#                        203.0.113.1. Checked: each peer pings it through the tunnel.
set -euo pipefail

prog=lab.sh
LAB=${WGBPF_LAB:-wgbpf}
NS_C=$LAB-client
NS_R=$LAB-router
NS_S=$LAB-server
NS_A=$LAB-app
NS_P=$LAB-peers
PEERS=${WGBPF_LAB_PEERS:-0}
CONTAINER=${WGBPF_LAB_CONTAINER:-0}
WG=${WGBPF_LAB_WG:-wg0}
if [[ -n ${WGBPF_LAB_WG_SERVER:-} ]]; then
  WGS=$WGBPF_LAB_WG_SERVER
elif [[ $WG == wg0 ]]; then
  WGS=wgs0
else
  WGS=${WG}s
fi
IPV6=${WGBPF_LAB_IPV6:-0}
STATE=/run/wgbpf-lab/$LAB
WG_SOCK_DIR=/var/run/wireguard

PORT=51820
CLIENT_LAN=192.168.178.48
ROUTER_LAN=192.168.178.1
ROUTER_WAN=203.0.113.1
ROUTER_PEERS=192.168.179.1
PEERS_LAN=192.168.179.2
SERVER_WAN=203.0.113.123
TARGET=198.51.100.9
CLIENT_LAN6=fd00:178::48
ROUTER_LAN6=fd00:178::1
ROUTER_WAN6=fd00:203::1
SERVER_WAN6=fd00:203::123
TARGET6=fd51::9

die() {
  echo "$prog: $*" >&2
  exit 1
}
say() { echo "$prog: $*" >&2; }

usage() {
  cat >&2 <<EOF
usage: $prog up|down|status|exec ROLE CMD...   (as root)
  up       build the lab (tears an existing one down first), check ping $TARGET through the tunnel
  down     remove everything, even a half-built lab
  status   whether the lab is up, the client's rules and routes (exit 0 up, 3 down, 1 partial)
  exec     run CMD in the namespace of ROLE (client|router|server|app|peers)
lab: $LAB (namespaces $NS_C $NS_R $NS_S), WireGuard: client $WG, server $WGS
EOF
  exit 2
}

ns_exists() { [[ -e /run/netns/$1 ]]; }
in_ns() {
  local ns=$1
  shift
  ip netns exec "$ns" "$@"
}

check_names() {
  local n
  [[ $LAB =~ ^[A-Za-z0-9_.-]+$ ]] || die "bad lab name '$LAB'"
  for n in "$WG" "$WGS"; do
    [[ $n =~ ^[A-Za-z0-9_=+.-]{1,15}$ ]] || die "bad interface name '$n' (1-15 characters)"
  done
  [[ $WG != "$WGS" ]] || die "client and server WireGuard interfaces must differ ($WG)"
}

# WGBPF_LAB_PEERS, checked for `up` only (`down` must work whatever it says).
check_peers() {
  [[ $PEERS =~ ^[0-9]+$ ]] && ((PEERS <= 250)) || die "WGBPF_LAB_PEERS must be a number from 0 to 250, got '$PEERS'"
  ((PEERS == 0)) && return 0
  ((${#WG} + 1 + ${#PEERS} <= 15)) || die "peer interface names ${WG}p$PEERS would be longer than 15 characters"
  [[ $IPV6 == 0 && $CONTAINER == 0 ]] || die "WGBPF_LAB_PEERS is IPv4 only and not with WGBPF_LAB_CONTAINER"
}

need_tools() {
  local t missing=()
  for t in ip wg wg-quick nft ping sysctl; do
    command -v "$t" >/dev/null || missing+=("$t")
  done
  ((${#missing[@]} == 0)) || die "missing tools: ${missing[*]} (run scripts/setup.sh)"
}

# Processes living in the lab's namespaces (wireguard-go, stray pings), plus the PIDs recorded at
# `up` when they still are wireguard-go (the namespace may already be gone).
lab_pids() {
  local ns pid
  for ns in "$NS_C" "$NS_R" "$NS_S" "$NS_A" "$NS_P"; do
    if ns_exists "$ns"; then ip netns pids "$ns" 2>/dev/null || true; fi
  done
  if [[ -r $STATE/pids ]]; then
    while read -r pid; do
      [[ $pid =~ ^[0-9]+$ ]] || continue
      if [[ $(cat "/proc/$pid/comm" 2>/dev/null) == wireguard-go ]]; then echo "$pid"; fi
    done <"$STATE/pids"
  fi
  return 0
}

kill_lab_pids() {
  local pids
  pids=$(lab_pids | sort -un | grep -v "^$$\$" || true)
  [[ -n $pids ]] || return 0
  # shellcheck disable=SC2086
  kill -TERM $pids 2>/dev/null || true
  for _ in $(seq 1 30); do
    pids=$(for p in $pids; do if [[ -d /proc/$p ]]; then echo "$p"; fi; done)
    [[ -n $pids ]] || return 0
    sleep 0.1
  done
  # shellcheck disable=SC2086
  kill -KILL $pids 2>/dev/null || true
}

do_down() {
  # wg-quick down first (as a user would), then whatever is left goes with the namespaces.
  if ns_exists "$NS_C" && [[ -r $STATE/$WG.conf ]] && ip -n "$NS_C" link show dev "$WG" >/dev/null 2>&1; then
    in_ns "$NS_C" wg-quick down "$STATE/$WG.conf" >/dev/null 2>&1 || true
  fi
  if ns_exists "$NS_S"; then
    ip -n "$NS_S" link del dev "$WGS" >/dev/null 2>&1 || true
  fi
  kill_lab_pids
  local ns sock
  for ns in "$NS_P" "$NS_A" "$NS_C" "$NS_R" "$NS_S"; do
    if ns_exists "$ns"; then
      ip netns del "$ns" 2>/dev/null || ip netns del "$ns" || true
    fi
  done
  # wireguard-go removes its socket when it exits cleanly; remove leftovers of killed ones, but
  # only those of the wireguard-go instances this lab started (listed in the state dir): a
  # same-named socket may belong to another lab.
  if [[ -r $STATE/socks ]]; then
    while read -r sock; do
      if [[ $sock == "$WG_SOCK_DIR"/*.sock && -S $sock ]]; then rm -f "$sock"; fi
    done <"$STATE/socks"
  fi
  rm -rf "$STATE"
  rmdir /run/wgbpf-lab 2>/dev/null || true
  rmdir "$WG_SOCK_DIR" 2>/dev/null || true
  local left=()
  for ns in "$NS_C" "$NS_R" "$NS_S" "$NS_A" "$NS_P"; do if ns_exists "$ns"; then left+=("$ns"); fi; done
  ((${#left[@]} == 0)) || { say "could not delete namespaces: ${left[*]}"; return 1; }
  return 0
}

lab_present() {
  ns_exists "$NS_C" || ns_exists "$NS_R" || ns_exists "$NS_S" || ns_exists "$NS_A" || ns_exists "$NS_P" || [[ -d $STATE ]]
}

# A live wireguard-go of someone else already owns this interface name's control socket?
# (`wg show` in our fresh client namespace: it connects to the socket, removes a stale one, and
# falls back to the namespace's own kernel interfaces, of which there are none by that name.)
check_sock_free() {
  local ifname=$1
  if [[ -S $WG_SOCK_DIR/$ifname.sock ]] && in_ns "$NS_C" wg show "$ifname" listen-port >/dev/null 2>&1; then
    die "a userspace WireGuard interface '$ifname' is already running elsewhere ($WG_SOCK_DIR/$ifname.sock is live); choose other names with WGBPF_LAB_WG / WGBPF_LAB_WG_SERVER or another WGBPF_LAB"
  fi
}

# Kernel WireGuard available? Probe inside the (empty) client namespace, never in the root one.
kernel_wg() {
  case ${WGBPF_LAB_KERNEL_WG:-} in
    1) return 0 ;;
    0) return 1 ;;
  esac
  if ip -n "$NS_C" link add wgbpfprobe type wireguard >/dev/null 2>&1; then
    ip -n "$NS_C" link del wgbpfprobe >/dev/null 2>&1 || true
    return 0
  fi
  return 1
}

# The client's firewall: the seed article's `table inet filter`, verbatim.
seed_filter_ruleset() {
  cat <<'NFT'
table inet filter {
	chain global {
		ct state established,related accept comment "Accept traffic originated from us"
		ct state invalid drop comment "Drop invalid connections"
	}

	chain input {
		type filter hook input priority filter; policy drop;
		iif "lo" accept comment "Accept any localhost traffic"
		jump global
		icmp type {
			echo-reply, destination-unreachable, source-quench, echo-request,
			router-advertisement, router-solicitation, time-exceeded, parameter-problem,
			address-mask-request, address-mask-reply
		} accept
	}

	chain output {
		type filter hook output priority filter; policy accept;
	}

	chain forward {
		type filter hook forward priority filter; policy drop;
	}
}
NFT
}

# wireguard.com/netns, "ordinary containerization": the interface is created where the uplink is (its UDP
# socket stays there) and moved into the container, where it is the only route out.
container_client() {
  local impl=$1
  [[ $IPV6 == 0 ]] || die "WGBPF_LAB_CONTAINER=1 is IPv4 only"
  if [[ $impl == kernel ]]; then
    ip -n "$NS_C" link add "$WG" type wireguard
  else
    in_ns "$NS_C" wireguard-go "$WG" >"$STATE/wireguard-go-$WG.log" 2>&1 ||
      die "wireguard-go $WG failed: $(cat "$STATE/wireguard-go-$WG.log")"
    # Its daemon child reads the TUN's MTU by name in this namespace as it starts: moving the interface
    # before that makes it exit. It answers on its control socket once it has started.
    local i
    for i in $(seq 1 50); do
      if in_ns "$NS_C" wg show "$WG" listen-port >/dev/null 2>&1; then break; fi
      sleep 0.1
    done
    ((i < 50)) || die "wireguard-go $WG did not start: $(cat "$STATE/wireguard-go-$WG.log")"
  fi
  ip -n "$NS_C" link set "$WG" netns "$NS_A"
  in_ns "$NS_A" wg set "$WG" private-key "$STATE/client.key" listen-port "$PORT" \
    peer "$(cat "$STATE/server.pub")" allowed-ips 0.0.0.0/0 endpoint "$SERVER_WAN:$PORT"
  ip -n "$NS_A" addr add 10.0.0.1/24 dev "$WG"
  ip -n "$NS_A" link set "$WG" mtu 1420 up
  ip -n "$NS_A" route add default dev "$WG"
}

mac_of() { ip -n "$1" -o link show dev "$2" | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p'; }

up_ok=0
on_up_exit() {
  local rc=$?
  if ((up_ok == 0)); then
    say "up failed (status $rc); removing the half-built lab"
    do_down >/dev/null 2>&1 || true
    ((rc != 0)) || rc=1
  fi
  exit "$rc"
}

do_up() {
  local t0=$SECONDS
  if lab_present; then
    say "lab '$LAB' exists; tearing it down first"
    do_down
  fi
  trap on_up_exit EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM

  umask 077
  mkdir -p "$STATE"
  local ns spaces=("$NS_C" "$NS_R" "$NS_S")
  if [[ $CONTAINER == 1 ]]; then spaces+=("$NS_A"); fi
  if ((PEERS > 0)); then spaces+=("$NS_P"); fi
  for ns in "${spaces[@]}"; do
    ip netns add "$ns"
    ip -n "$ns" link set lo up
  done
  check_sock_free "$WG"
  check_sock_free "$WGS"
  local i
  for ((i = 1; i <= PEERS; i++)); do check_sock_free "${WG}p$i"; done

  # Links: created inside the namespaces, so no name ever appears in the root namespace.
  ip -n "$NS_C" link add c0 type veth peer name r0 netns "$NS_R"
  ip -n "$NS_R" link add r1 type veth peer name s0 netns "$NS_S"

  local dad=()
  if [[ $IPV6 == 1 ]]; then dad=(nodad); fi

  # router
  ip -n "$NS_R" addr add "$ROUTER_LAN/24" dev r0
  ip -n "$NS_R" addr add "$ROUTER_WAN/24" dev r1
  ip -n "$NS_R" link set r0 up
  ip -n "$NS_R" link set r1 up
  in_ns "$NS_R" sysctl -qw net.ipv4.ip_forward=1
  ip -n "$NS_R" route add 198.51.100.0/24 via "$SERVER_WAN"

  # server
  ip -n "$NS_S" addr add "$SERVER_WAN/24" dev s0
  ip -n "$NS_S" link set s0 up
  ip -n "$NS_S" route add default via "$ROUTER_WAN"
  ip -n "$NS_S" addr add "$TARGET/32" dev lo
  in_ns "$NS_S" sysctl -qw net.ipv4.ip_forward=1

  # client LAN
  ip -n "$NS_C" addr add "$CLIENT_LAN/24" dev c0
  ip -n "$NS_C" link set c0 up
  ip -n "$NS_C" route add default via "$ROUTER_LAN"
  in_ns "$NS_C" sysctl -qw net.ipv4.conf.all.rp_filter=1

  if [[ $IPV6 == 1 ]]; then
    for ns in "$NS_C" "$NS_R" "$NS_S"; do
      in_ns "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=0 net.ipv6.conf.default.disable_ipv6=0
    done
    ip -n "$NS_R" addr add "$ROUTER_LAN6/64" dev r0 "${dad[@]}"
    ip -n "$NS_R" addr add "$ROUTER_WAN6/64" dev r1 "${dad[@]}"
    in_ns "$NS_R" sysctl -qw net.ipv6.conf.all.forwarding=1
    ip -n "$NS_R" -6 route add fd51::/64 via "$SERVER_WAN6"
    ip -n "$NS_S" addr add "$SERVER_WAN6/64" dev s0 "${dad[@]}"
    ip -n "$NS_S" -6 route add default via "$ROUTER_WAN6"
    ip -n "$NS_S" addr add "$TARGET6/128" dev lo
    in_ns "$NS_S" sysctl -qw net.ipv6.conf.all.forwarding=1
    ip -n "$NS_C" addr add "$CLIENT_LAN6/64" dev c0 "${dad[@]}"
    ip -n "$NS_C" -6 route add default via "$ROUTER_LAN6"
    ip -n "$NS_C" -6 neigh replace "$ROUTER_LAN6" lladdr "$(mac_of "$NS_R" r0)" dev c0 nud permanent
    ip -n "$NS_R" -6 neigh replace "$CLIENT_LAN6" lladdr "$(mac_of "$NS_C" c0)" dev r0 nud permanent
  fi

  # keys
  wg genkey >"$STATE/client.key"
  wg pubkey <"$STATE/client.key" >"$STATE/client.pub"
  wg genkey >"$STATE/server.key"
  wg pubkey <"$STATE/server.key" >"$STATE/server.pub"

  local impl=kernel
  if ! kernel_wg; then
    impl=wireguard-go
    command -v wireguard-go >/dev/null || die "no WireGuard kernel module and no wireguard-go"
    [[ -c /dev/net/tun ]] || die "wireguard-go needs /dev/net/tun"
  fi
  echo "$impl" >"$STATE/impl"
  echo "$IPV6" >"$STATE/ipv6"
  say "WireGuard implementation: $impl"
  if [[ $impl == wireguard-go ]]; then
    printf '%s\n' "$WG_SOCK_DIR/$WGS.sock" "$WG_SOCK_DIR/$WG.sock" >"$STATE/socks"
    for ((i = 1; i <= PEERS; i++)); do echo "$WG_SOCK_DIR/${WG}p$i.sock" >>"$STATE/socks"; done
  fi

  # server WireGuard: plain ip + wg, no policy routing.
  if [[ $impl == kernel ]]; then
    ip -n "$NS_S" link add "$WGS" type wireguard
  else
    # wireguard-go daemonizes; its Linux banner ("not required because this kernel has first
    # class support") is wrong here and goes to the state dir.
    in_ns "$NS_S" wireguard-go "$WGS" >"$STATE/wireguard-go-$WGS.log" 2>&1 ||
      die "wireguard-go $WGS failed: $(cat "$STATE/wireguard-go-$WGS.log")"
  fi
  ip -n "$NS_S" addr add 10.0.0.254/24 dev "$WGS"
  if [[ $IPV6 == 1 ]]; then ip -n "$NS_S" addr add fd10::254/64 dev "$WGS" "${dad[@]}"; fi
  local server_allowed=10.0.0.1/32
  if [[ $IPV6 == 1 ]]; then server_allowed+=,fd10::1/128; fi
  in_ns "$NS_S" wg set "$WGS" private-key "$STATE/server.key" listen-port "$PORT" \
    peer "$(cat "$STATE/client.pub")" allowed-ips "$server_allowed"
  ip -n "$NS_S" link set "$WGS" mtu 1420 up

  # client firewall: the seed's table inet filter, loaded before wg-quick adds its own table.
  seed_filter_ruleset >"$STATE/filter.nft"
  in_ns "$NS_C" nft -f "$STATE/filter.nft"

  # client WireGuard: wg-quick, from a config like the seed's.
  local addr=10.0.0.1/24 allowed=0.0.0.0/0
  if [[ $IPV6 == 1 ]]; then
    addr+=", fd10::1/64"
    allowed+=", ::/0"
  fi
  cat >"$STATE/$WG.conf" <<EOF
[Interface]
Address = $addr
PrivateKey = $(cat "$STATE/client.key")
ListenPort = $PORT

[Peer]
# VPN Server ($NS_S)
PublicKey = $(cat "$STATE/server.pub")
AllowedIPs = $allowed
Endpoint = $SERVER_WAN:$PORT
EOF
  local pinger=$NS_C
  if [[ $CONTAINER == 1 ]]; then
    container_client "$impl"
    pinger=$NS_A
  else
    local env=()
    if [[ $impl == wireguard-go ]]; then env=(WG_QUICK_USERSPACE_IMPLEMENTATION=wireguard-go); fi
    # wg-quick prints its commands ([#] ...) on stderr; drop wireguard-go's misleading banner.
    in_ns "$NS_C" env "${env[@]}" wg-quick up "$STATE/$WG.conf" 2>&1 | sed -u '/^[┌│└]/d' >&2
  fi

  if ((PEERS > 0)); then gateway_peers "$impl"; fi

  # The ping through the tunnel: the first one also triggers the handshake.
  local ok=0
  for _ in 1 2 3 4 5; do
    if in_ns "$pinger" ping -n -q -c 1 -W 2 "$TARGET" >/dev/null 2>&1; then
      ok=1
      break
    fi
  done
  ((ok)) || die "connectivity check failed: ping $TARGET from $pinger through $WG got no reply ($(in_ns "$pinger" wg show "$WG" latest-handshakes 2>&1 | head -1))"
  if [[ $IPV6 == 1 ]]; then
    ok=0
    for _ in 1 2 3 4 5; do
      if in_ns "$NS_C" ping -6 -n -q -c 1 -W 2 "$TARGET6" >/dev/null 2>&1; then
        ok=1
        break
      fi
    done
    ((ok)) || die "connectivity check failed: ping -6 $TARGET6 from $NS_C through $WG got no reply"
  fi

  lab_pids | sort -un >"$STATE/pids"
  up_ok=1
  trap - EXIT INT TERM
  local also=""
  if [[ $IPV6 == 1 ]]; then also=" (and $TARGET6)"; fi
  say "lab '$LAB' up in $((SECONDS - t0)) s: ping $TARGET$also from $pinger through $WG ok"
}

do_status() {
  local ns up=1
  for ns in "$NS_C" "$NS_R" "$NS_S"; do
    ns_exists "$ns" || up=0
  done
  if ((up == 0)); then
    if lab_present; then
      echo "lab '$LAB': partial (run '$prog down')"
      for ns in "$NS_C" "$NS_R" "$NS_S"; do
        if ns_exists "$ns"; then echo "  namespace $ns exists"; fi
      done
      if [[ -d $STATE ]]; then echo "  state dir $STATE exists"; fi
      return 1
    fi
    echo "lab '$LAB': down"
    return 3
  fi
  if [[ $CONTAINER == 1 ]]; then
    echo "lab '$LAB': up (container: $WG in $NS_A, its socket in $NS_C)"
    ip -n "$NS_A" -br link
    in_ns "$NS_A" wg show "$WG" | sed '/private key/d'
    return 0
  fi
  if ! ip -n "$NS_C" link show dev "$WG" >/dev/null 2>&1; then
    echo "lab '$LAB': partial (no $WG in $NS_C; run '$prog up' or '$prog down')"
    return 1
  fi
  [[ -r $STATE/ipv6 ]] && IPV6=$(cat "$STATE/ipv6")
  echo "lab '$LAB': up (namespaces $NS_C $NS_R $NS_S; WireGuard $(cat "$STATE/impl" 2>/dev/null || echo '?'): $WG, $WGS)"
  echo "--- $NS_C: links"
  ip -n "$NS_C" -br link
  echo "--- $NS_C: ip rule"
  ip -n "$NS_C" rule
  if [[ $IPV6 == 1 ]]; then
    echo "--- $NS_C: ip -6 rule"
    ip -n "$NS_C" -6 rule
  fi
  echo "--- $NS_C: ip route show table all (without local/broadcast)"
  ip -n "$NS_C" route show table all | grep -Ev '^(local|broadcast) ' || true
  echo "--- $NS_C: nft tables"
  in_ns "$NS_C" nft list tables
  echo "--- $NS_C: wg show $WG"
  in_ns "$NS_C" wg show "$WG" | sed '/private key/d'
  return 0
}

# WGBPF_LAB_PEERS=N: N peers in LAB-peers, each its own WireGuard interface, and the server their gateway.
gateway_peers() {
  local impl=$1 i name conf=$STATE/gateway-peers.conf
  ip -n "$NS_P" link add p0 type veth peer name r2 netns "$NS_R"
  ip -n "$NS_R" addr add "$ROUTER_PEERS/24" dev r2
  ip -n "$NS_R" link set r2 up
  ip -n "$NS_P" addr add "$PEERS_LAN/24" dev p0
  ip -n "$NS_P" link set p0 up
  ip -n "$NS_P" route add default via "$ROUTER_PEERS"

  : >"$conf"
  for ((i = 1; i <= PEERS; i++)); do
    name=${WG}p$i
    wg genkey >"$STATE/$name.key"
    if [[ $impl == kernel ]]; then
      ip -n "$NS_P" link add "$name" type wireguard
    else
      in_ns "$NS_P" wireguard-go "$name" >"$STATE/wireguard-go-$name.log" 2>&1 ||
        die "wireguard-go $name failed: $(cat "$STATE/wireguard-go-$name.log")"
    fi
    in_ns "$NS_P" wg set "$name" private-key "$STATE/$name.key" \
      peer "$(cat "$STATE/server.pub")" allowed-ips 0.0.0.0/0 endpoint "$SERVER_WAN:$PORT"
    ip -n "$NS_P" addr add "10.7.0.$i/32" dev "$name"
    ip -n "$NS_P" link set "$name" mtu 1420 up
    ip -n "$NS_P" route add default dev "$name" table $((1000 + i))
    ip -n "$NS_P" rule add from "10.7.0.$i" lookup $((1000 + i)) priority $((1000 + i))
    printf '[Peer]\nPublicKey = %s\nAllowedIPs = 10.7.0.%d/32\n\n' "$(wg pubkey <"$STATE/$name.key")" "$i" >>"$conf"
  done
  in_ns "$NS_S" wg addconf "$WGS" "$conf"
  ip -n "$NS_S" route add 10.7.0.0/24 dev "$WGS"
  in_ns "$NS_S" nft -f - <<'NFT'
table ip gateway {
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "s0" ip saddr 10.7.0.0/24 masquerade
	}
}
NFT

  # Every peer through the tunnel (its handshake on the way), side by side.
  local pids=() failed=()
  for ((i = 1; i <= PEERS; i++)); do
    (for _ in 1 2 3 4 5; do in_ns "$NS_P" ping -n -q -c 1 -W 2 -I "10.7.0.$i" "$ROUTER_WAN" >/dev/null 2>&1 && exit 0; done
     exit 1) &
    pids+=($!)
  done
  for ((i = 1; i <= PEERS; i++)); do
    wait "${pids[i - 1]}" || failed+=("${WG}p$i")
  done
  ((${#failed[@]} == 0)) || die "gateway peers without a reply from $ROUTER_WAN through the server: ${failed[*]}"
  say "gateway: $PEERS peers in $NS_P reach $ROUTER_WAN through $WGS (masqueraded)"
}

[[ $# -ge 1 ]] || usage
cmd=$1
shift
case $cmd in
  -h | --help | help) usage ;;
esac
[[ $EUID -eq 0 ]] || die "must run as root (network namespaces, WireGuard, nftables); try: sudo $0 $cmd $*"
check_names

case $cmd in
  up)
    [[ $# -eq 0 ]] || usage
    need_tools
    check_peers
    do_up
    ;;
  down)
    [[ $# -eq 0 ]] || usage
    t0=$SECONDS
    if lab_present; then
      do_down
      say "lab '$LAB' down in $((SECONDS - t0)) s"
    else
      do_down
      say "lab '$LAB' is not up"
    fi
    ;;
  status)
    [[ $# -eq 0 ]] || usage
    do_status
    ;;
  exec)
    [[ $# -ge 2 ]] || usage
    role=$1
    shift
    case $role in
      client) ns=$NS_C ;;
      router) ns=$NS_R ;;
      server) ns=$NS_S ;;
      app) ns=$NS_A ;;
      peers) ns=$NS_P ;;
      *) die "unknown role '$role' (client|router|server|app|peers)" ;;
    esac
    ns_exists "$ns" || die "namespace $ns does not exist (run '$prog up')"
    exec ip netns exec "$ns" "$@"
    ;;
  *) usage ;;
esac
