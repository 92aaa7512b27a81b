#include "wireguard/wg_sockets.hpp"

#include <fmt/format.h>

#include <charconv>

namespace wgbpf {

std::set<uint16_t> parse_proc_udp_ports(std::string_view table) {
    // "  sl  local_address rem_address   st ..." then "   0: 0100007F:0035 00000000:0000 07 ..."
    std::set<uint16_t> ports;
    bool header = true;
    while (!table.empty()) {
        size_t end = table.find('\n');
        std::string_view line = table.substr(0, end);
        table = end == std::string_view::npos ? std::string_view() : table.substr(end + 1);
        if (header) {
            header = false;
            continue;
        }
        size_t colon = line.find(':'); // after the slot number
        if (colon == std::string_view::npos) continue;
        size_t port_at = line.find(':', colon + 1); // address:PORT
        if (port_at == std::string_view::npos) continue;
        std::string_view rest = line.substr(port_at + 1);
        unsigned port = 0;
        auto [ptr, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), port, 16);
        if (ec != std::errc() || ptr == rest.data() || ptr - rest.data() != 4 || port > 0xffff) continue;
        ports.insert(static_cast<uint16_t>(port));
    }
    return ports;
}

std::vector<std::string> place_wireguard_sockets(std::vector<NamespaceWireguard>& namespaces,
                                                 const WireguardPorts& wireguard_ports) {
    std::vector<std::string> notes;
    const bool several = namespaces.size() > 1;
    bool all_read = true;
    for (const NamespaceWireguard& n : namespaces) all_read = all_read && n.ports_known;
    // A port a namespace's own WireGuard interface listens on is that interface's socket.
    auto own_listener = [](const NamespaceWireguard& n, uint16_t port) {
        for (const WgInterface& w : n.interfaces)
            if (w.listen_port == port) return true;
        return false;
    };
    for (NamespaceWireguard& here : namespaces) {
        for (WgInterface& wg : here.interfaces) {
            wg.netns = several ? here.netns : 0;
            wg.socket_netns = 0;
            if (!wg.listen_port || !here.ports_known || here.udp_ports.count(wg.listen_port)) continue;
            std::vector<uint32_t> candidates;
            for (const NamespaceWireguard& other : namespaces)
                if (&other != &here && other.udp_ports.count(wg.listen_port) && !own_listener(other, wg.listen_port))
                    candidates.push_back(other.netns);
            if (candidates.size() > 1 && wireguard_ports)
                std::erase_if(candidates,
                              [&](uint32_t netns) { return wireguard_ports(netns).count(wg.listen_port) > 0; });
            if (candidates.size() == 1) {
                wg.socket_netns = candidates.front();
            } else if (candidates.size() > 1) {
                notes.push_back(fmt::format("{}: its UDP port {} is not bound where it is, and is bound in {} watched "
                                            "namespaces: its outer packets are not linked to it",
                                            wg.name, wg.listen_port, candidates.size()));
                wg.socket_netns = kSocketAmbiguous;
            } else if (all_read) {
                notes.push_back(fmt::format("{}: no socket is bound to its UDP port {} in the watched namespaces: the "
                                            "interface is down, or it was moved here from the namespace it was created "
                                            "in, where its socket stays; its outer packets are not seen here (watch "
                                            "that namespace too: --netns repeated, or --netns all)",
                                            wg.name, wg.listen_port));
                wg.socket_netns = kSocketNotWatched;
            }
        }
    }
    return notes;
}

std::vector<WgInterface> wireguard_seen_from(const std::vector<NamespaceWireguard>& namespaces, uint32_t netns) {
    std::vector<WgInterface> out;
    for (const NamespaceWireguard& n : namespaces)
        for (const WgInterface& w : n.interfaces)
            if (n.netns == netns || (!socket_unplaced(w) && w.socket_netns == netns)) out.push_back(w);
    return out;
}

} // namespace wgbpf
