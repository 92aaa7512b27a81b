#include "timeline/rp_filter.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace wgbpf {
namespace {

const Ipv4Conf* conf(const NetnsConfig* config, const std::string& name) {
    if (!config || name.empty()) return nullptr;
    auto it = config->ipv4_conf.find(name);
    return it == config->ipv4_conf.end() ? nullptr : &it->second;
}

// How the mark entered (or did not enter) the reverse lookup: the seed article's whole point.
std::string mark_text(uint32_t lookup_mark, uint32_t packet_mark, bool src_valid_mark, bool failed) {
    if (lookup_mark != 0) return fmt::format(" (mark {:#x} used: src_valid_mark=1)", lookup_mark);
    if (packet_mark != 0 && !src_valid_mark) {
        return failed ? fmt::format(": mark {:#x} was not used (src_valid_mark=0)", packet_mark)
                      : fmt::format(" (mark {:#x} not used: src_valid_mark=0)", packet_mark);
    }
    return {};
}

} // namespace

RpFilterStep explain_rp_filter(const RouteDecision& reverse, const RpFilterPacket& packet, const NetnsConfig* config) {
    RpFilterStep s;
    s.t_ns = reverse.t_ns;
    s.iif = packet.iif;
    s.reverse_oif = reverse.result_oif;
    s.mark = reverse.mark;
    s.reverse = reverse;

    const Ipv4Conf* all = conf(config, "all");
    const Ipv4Conf* dev = conf(config, packet.iif);
    // The kernel put the packet's mark into the lookup only with src_valid_mark: what it did wins over a
    // snapshot that may be older.
    s.src_valid_mark = reverse.mark != 0 || (all && all->src_valid_mark) || (dev && dev->src_valid_mark);

    // The reverse flow runs from the packet's destination back to its source.
    std::string source = reverse.dst.to_string();
    std::string via = reverse.result_oif.empty() ? std::string("?") : reverse.result_oif;
    std::string iif = packet.iif.empty() ? std::string("?") : packet.iif;
    bool route = reverse.result == LookupResult::hit;
    bool local = route && reverse.route_type == RouteType::local;

    if (!all && !dev) {
        s.mode = RpFilterMode::unknown;
        s.result = RpFilterResult::unknown;
        s.explanation = fmt::format("no sysctl snapshot: reverse route to {} via {}, packet came in on {}{}", source,
                                    via, iif, mark_text(reverse.mark, packet.mark, s.src_valid_mark, false));
        return s;
    }
    int mode = std::max(all ? all->rp_filter : 0, dev ? dev->rp_filter : 0);
    s.mode = mode == 0 ? RpFilterMode::off : mode == 1 ? RpFilterMode::strict : RpFilterMode::loose;

    if (mode == 0) {
        s.result = RpFilterResult::pass;
        s.explanation =
            fmt::format("reverse route to {} via {} is looked up (custom ip rules) but not enforced", source,
                        route                                  ? via
                        : reverse.result == LookupResult::none ? std::string("nowhere")
                                                               : std::string(name_of(reverse.result)));
        return s;
    }
    if (!route) {
        s.result = RpFilterResult::fail;
        s.explanation = fmt::format("no route back to {} ({}){}", source,
                                    reverse.result == LookupResult::none ? std::string("no decision seen")
                                                                         : std::string(name_of(reverse.result)),
                                    mark_text(reverse.mark, packet.mark, s.src_valid_mark, true));
        return s;
    }
    if (local) {
        s.result = RpFilterResult::fail;
        s.explanation =
            fmt::format("{} is a local address: a packet from it must not come in on {} (accept_local=0)", source, iif);
        return s;
    }
    if (mode == 2) {
        s.result = RpFilterResult::pass;
        s.explanation = fmt::format("a route back to {} exists (via {}): loose mode asks no more{}", source, via,
                                    mark_text(reverse.mark, packet.mark, s.src_valid_mark, false));
        return s;
    }
    if (packet.iif.empty()) {
        s.result = RpFilterResult::unknown;
        s.explanation = fmt::format("reverse route to {} via {}; where the packet came in was not seen", source, via);
        return s;
    }
    if (reverse.result_oif == packet.iif) {
        s.result = RpFilterResult::pass;
        s.explanation = fmt::format("reverse route to {} via {} = iif {}{}", source, via, iif,
                                    mark_text(reverse.mark, packet.mark, s.src_valid_mark, false));
        return s;
    }
    s.result = RpFilterResult::fail;
    std::string mark = mark_text(reverse.mark, packet.mark, s.src_valid_mark, true);
    s.explanation =
        fmt::format("reverse route to {} goes via {}, not {} where the packet came in{}", source, via, iif, mark);
    if (!mark.starts_with(":")) s.explanation += "; loose mode (rp_filter=2) would accept it";
    return s;
}

} // namespace wgbpf
