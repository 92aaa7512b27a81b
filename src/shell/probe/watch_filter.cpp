#include "probe/watch_filter.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

namespace wgbpf {
namespace {

// `value` into one of the filter's fixed-size sets (`n` used of `N`), once.
template <typename T, size_t N>
Result<void> add_once(T (&set)[N], __u32& n, T value, const char* what) {
    if (std::find(set, set + n, value) != set + n) return {};
    if (n == N) return Error{fmt::format("more than {} {} to watch", N, what)};
    set[n++] = value;
    return {};
}

Result<void> add_wireguard(wgbpf_filter& f, const WgInterface& wg) {
    if (wg.fwmark)
        if (auto r = add_once(f.marks, f.n_marks, wg.fwmark, "WireGuard fwmarks"); !r) return r;
    // The listen port catches every outer packet, of any number of peers, also those roaming in with no
    // endpoint known yet (a server's). Endpoints are only needed while the port is not known.
    if (wg.listen_port) return add_once(f.listen_ports, f.n_ports, wg.listen_port, "WireGuard listen ports");
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
    return {};
}

// A user-space WireGuard's interface and port: with an expression, BPF follows its inner and outer packets by
// port and length (bpf/tunnel_follow.bpf.h). Kernel WireGuard needs none of it: one buffer is both.
Result<void> add_tunnel(wgbpf_filter& f, uint32_t netns, int ifindex, const WgInterface& wg) {
    if (wg.implementation != WgImplementation::uapi || !wg.listen_port) return {};
    if (f.n_tunnels == WGBPF_FILTER_MAX_TUNNELS)
        return Error{fmt::format("more than {} user-space WireGuard interfaces to watch", WGBPF_FILTER_MAX_TUNNELS)};
    f.tunnel_ifaces[f.n_tunnels] = ifindex;
    f.tunnel_netns[f.n_tunnels] = netns;
    f.tunnel_ports[f.n_tunnels++] = wg.listen_port;
    return {};
}

} // namespace

Result<wgbpf_filter> build_filter(const std::vector<WatchScope>& scopes) {
    wgbpf_filter f{};
    f.armed = 1;
    bool any_netns = scopes.empty();
    size_t every = 0;
    for (const WatchScope& s : scopes) {
        if (!s.netns) any_netns = true;
        if (!s.ifindex && !s.named_interface) ++every;
    }
    if (!any_netns) {
        if (scopes.size() > WGBPF_FILTER_MAX_NETNS)
            return Error{fmt::format("{} namespaces to watch; the in-kernel filter holds {}: name fewer with --netns",
                                     scopes.size(), WGBPF_FILTER_MAX_NETNS)};
        for (const WatchScope& s : scopes) f.netns[f.n_netns++] = s.netns;
    }
    if (every == scopes.size()) return f; // every interface of the namespaces
    if (every) return Error{"an interface is named for some namespaces and not for others"};
    for (const WatchScope& s : scopes) {
        if (!s.ifindex) continue;
        if (f.n_ifaces == WGBPF_FILTER_MAX_IFACES)
            return Error{fmt::format("more than {} interfaces to watch", WGBPF_FILTER_MAX_IFACES)};
        f.ifaces[f.n_ifaces] = *s.ifindex;
        f.iface_netns[f.n_ifaces++] = s.netns;
    }
    if (!f.n_ifaces) f.ifaces[f.n_ifaces++] = -1; // the interface is nowhere now: no interface has index -1
    for (const WatchScope& s : scopes)
        if (s.wireguard)
            if (auto r = add_wireguard(f, *s.wireguard); !r) return r;
    for (const WatchScope& s : scopes)
        if (s.wireguard && s.ifindex)
            if (auto r = add_tunnel(f, s.netns, *s.ifindex, *s.wireguard); !r) return r;
    return f;
}

} // namespace wgbpf
