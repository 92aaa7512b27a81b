#pragma once
// Where a WireGuard interface's UDP socket is. WireGuard's documented namespace integration
// (wireguard.com/netns) moves an interface out of the namespace it was created in, and its socket stays
// there: the inner packets are in one namespace, the outer ones in another. Nothing in the interface's
// configuration says which; the socket bound to its listen port does.
#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "wireguard/wg_config.hpp"

namespace wgbpf {

// The local ports of the sockets in a /proc/net/udp or udp6 table (any state: UDP sockets are unconnected
// or connected, both receive on their port). Malformed lines are skipped.
std::set<uint16_t> parse_proc_udp_ports(std::string_view table);

struct NamespaceWireguard {
    uint32_t netns = 0;
    std::vector<WgInterface> interfaces; // the WireGuard interfaces that are in this namespace
    std::set<uint16_t> udp_ports;        // the UDP ports bound in it
    bool ports_known = false;            // false: its sockets could not be read
};

// Sets each interface's `netns` (where it is, only when `several` namespaces are watched) and
// `socket_netns`: 0 when its listen port is bound where it is; else the one other watched namespace
// where the port is bound and no WireGuard interface of that namespace listens on it; else
// kSocketNotWatched. Where it cannot tell (a port not known, sockets not read) it leaves 0; where several
// namespaces could hold the socket, kSocketAmbiguous; the returned notes say why.
// `wireguard_ports(netns)`: the listen ports of a namespace's other WireGuard interfaces (those not in
// `interfaces`), asked only to tell several candidates apart: a port one of them listens on is its own.
using WireguardPorts = std::function<std::set<uint16_t>(uint32_t netns)>;
std::vector<std::string> place_wireguard_sockets(std::vector<NamespaceWireguard>& namespaces,
                                                 const WireguardPorts& wireguard_ports = {});

// The interfaces namespace `netns`'s packets can meet: its own, and those of other namespaces whose
// socket is in it (their outer packets are there).
std::vector<WgInterface> wireguard_seen_from(const std::vector<NamespaceWireguard>& namespaces, uint32_t netns);

} // namespace wgbpf
