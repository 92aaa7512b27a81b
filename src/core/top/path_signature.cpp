#include "top/path_signature.hpp"

#include <algorithm>

#include "timeline/packet_timeline.hpp"

namespace wgbpf {

namespace {

// The timeline builder's words for a packet sent with no route lookup seen (timeline_builder.cpp, complete()).
constexpr std::string_view kRouteNotSeen = "no route lookup seen for it";
// ... and for source NAT seen only as the packet left (note_source_nat): no later step shows the new address.
constexpr std::string_view kSourceNatLeaving = "src rewritten after routing";

class PathWalk {
public:
    PathWalk(PathSignature& p, const PacketTimeline& t)
        : p_(p), t_(t), src_(t.pkt.src), dst_(t.pkt.dst), known_(t.pkt.is_ip) {}

    void operator()(const RouteDecision& d) {
        // The input decision routes the packet as prerouting's NAT left it; the reverse lookup swaps addresses and
        // an output lookup may not have its source yet: neither says what the packet carries.
        if (d.direction == RouteDirection::input) seen(d.src, d.dst);
        p_.hops.emplace_back(RouteHop{d.direction, d.reroute, d.rule, d.table, d.table_name, d.result, d.route_type,
                                      d.gateway, d.result_oif, d.complete});
    }
    void operator()(const NetfilterStep& s) {
        if (s.pkt.is_ip) seen(s.pkt.src, s.pkt.dst);
        std::string chain = !s.family.empty() ? s.family + " " + s.table + " " + s.chain
                            : s.conntrack_nat ? std::string("conntrack NAT")
                                              : std::string("(not an nftables chain)");
        for (const std::string& other : s.shared_with) chain += " + " + other;
        if (s.conntrack_nat && !s.family.empty()) chain += " + conntrack NAT";
        p_.hops.emplace_back(ChainHop{s.hook, std::move(chain), s.verdict,
                                      s.mark_changed() ? std::optional(s.mark_after) : std::nullopt,
                                      s.ct_mark_changed() ? std::optional(s.ct_mark_after) : std::nullopt});
        // what the chains (or conntrack's NAT) rewrote, as the next hook saw the packet
        if (s.pkt_after.is_ip) seen(s.pkt_after.src, s.pkt_after.dst);
    }
    void operator()(const DropStep& d) {
        if (d.pkt.is_ip) seen(d.pkt.src, d.pkt.dst);
        p_.hops.emplace_back(DropHop{d.reason, d.chain});
    }
    void operator()(const RpFilterStep& r) { p_.hops.emplace_back(RpFilterHop{r.result}); }
    void operator()(const WireguardStep& w) {
        p_.hops.emplace_back(WireguardHop{w.action, w.direction, w.interface, w.peer, w.verdict, w.inferred,
                                          dropped_before_decryption(w, t_)});
    }
    void operator()(const DeviceStep& d) { p_.hops.emplace_back(DeviceHop{d.direction, d.dev}); }

private:
    // A step that shows the packet's addresses: one that differs from the last seen was rewritten before it.
    void seen(const IpAddress& src, const IpAddress& dst) {
        if (known_) {
            if (!src.is_unspecified() && src != src_) p_.hops.emplace_back(NatHop{true});
            if (!dst.is_unspecified() && dst != dst_) p_.hops.emplace_back(NatHop{false});
        }
        if (!src.is_unspecified()) src_ = src;
        if (!dst.is_unspecified()) dst_ = dst;
        known_ = true;
    }
    PathSignature& p_;
    const PacketTimeline& t_;
    IpAddress src_, dst_;
    bool known_;
};

bool starts_with_any(const std::vector<std::string>& texts, std::string_view prefix) {
    return std::any_of(texts.begin(), texts.end(), [&](const std::string& t) { return t.starts_with(prefix); });
}

size_t hop_bytes(const PathHop& h) {
    return sizeof(PathHop) + std::visit(
                                 [](const auto& x) -> size_t {
                                     using T = std::decay_t<decltype(x)>;
                                     if constexpr (std::is_same_v<T, RouteHop>)
                                         return x.table_name.size() + x.oif.size();
                                     else if constexpr (std::is_same_v<T, ChainHop>) return x.chain.size();
                                     else if constexpr (std::is_same_v<T, WireguardHop>)
                                         return x.interface.size() + x.peer.size() + x.verdict.size();
                                     else if constexpr (std::is_same_v<T, DeviceHop>) return x.dev.size();
                                     else if constexpr (std::is_same_v<T, DropHop>)
                                         return x.reason.size() + x.chain.size();
                                     else return 0;
                                 },
                                 h);
}

} // namespace

bool PathSignature::rp_filter_failed() const {
    return std::any_of(hops.begin(), hops.end(), [](const PathHop& h) {
        const RpFilterHop* r = std::get_if<RpFilterHop>(&h);
        return r && r->result == RpFilterResult::fail;
    });
}

PathSignature path_of(const PacketTimeline& t) {
    PathSignature p;
    p.netns = t.netns;
    p.outcome = t.outcome;
    p.outcome_inferred = t.outcome_inferred;
    // A route not seen is a hop (where the route decision would be), every other gap makes the path incomplete.
    for (const std::string& gap : t.gaps) {
        if (gap.starts_with(kRouteNotSeen)) p.hops.emplace_back(RouteNotSeenHop{});
        else p.incomplete = true;
    }
    PathWalk walk(p, t);
    for (const TimelineStep& s : t.steps) std::visit(walk, s);
    if (starts_with_any(t.notes, kSourceNatLeaving)) p.hops.emplace_back(NatHop{true});
    return p;
}

size_t approx_bytes(const PathSignature& p) {
    size_t n = sizeof(PathSignature);
    for (const PathHop& h : p.hops) n += hop_bytes(h);
    return n;
}

} // namespace wgbpf
