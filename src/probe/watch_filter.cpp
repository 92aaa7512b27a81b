#include "wgbpf/probe/watch_filter.hpp"

#include <fmt/format.h>

#include <cstring>

namespace wgbpf {

Result<wgbpf_filter> build_filter(const WatchScope& scope) {
    wgbpf_filter f{};
    f.netns = scope.netns;
    if (!scope.ifindex) return f; // everything in the namespace
    f.ifaces[f.n_ifaces++] = *scope.ifindex;
    if (!scope.wireguard) return f;
    const WgInterface& wg = *scope.wireguard;
    if (wg.fwmark) f.marks[f.n_marks++] = wg.fwmark;
    // The listen port catches every outer packet, of any number of peers, also those roaming in with no
    // endpoint known yet (a server's). Endpoints are only needed while the port is not known.
    f.listen_port = wg.listen_port;
    if (f.listen_port) return f;
    for (const WgPeer& peer : wg.peers) {
        if (!peer.endpoint) continue;
        if (f.n_addrs == WGBPF_FILTER_MAX_ADDRS)
            return Error{fmt::format("{} has more than {} peer endpoints; the in-kernel filter holds {}", wg.name,
                                     WGBPF_FILTER_MAX_ADDRS, WGBPF_FILTER_MAX_ADDRS)};
        const IpAddress& a = peer.endpoint->address;
        std::memcpy(f.addrs[f.n_addrs], a.bytes.data(), 16);
        f.addr_family[f.n_addrs] = a.family == Family::ipv4 ? WGBPF_FAMILY_IPV4 : WGBPF_FAMILY_IPV6;
        ++f.n_addrs;
    }
    return f;
}

} // namespace wgbpf
