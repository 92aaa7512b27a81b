#include "top/path_signature.hpp"

#include <algorithm>

#include "timeline/packet_timeline.hpp"

namespace wgbpf {

namespace {

// The netfilter stepper and the timeline builder say an address rewrite in a note of these words.
void add_rewrites(const std::vector<std::string>& notes, std::vector<PathHop>& hops) {
    for (const std::string& note : notes) {
        if (note.starts_with("src rewritten")) hops.emplace_back(NatHop{true});
        else if (note.starts_with("dst rewritten")) hops.emplace_back(NatHop{false});
    }
}

struct HopOf {
    std::vector<PathHop>& hops;

    void operator()(const RouteDecision& d) const {
        hops.emplace_back(RouteHop{d.direction, d.reroute, d.rule, d.table, d.table_name, d.result, d.result_oif});
        add_rewrites(d.notes, hops);
    }
    void operator()(const NetfilterStep& s) const {
        std::string chain = s.family.empty() ? std::string("(not an nftables chain)")
                                             : s.family + " " + s.table + " " + s.chain;
        for (const std::string& other : s.shared_with) chain += " + " + other;
        hops.emplace_back(ChainHop{s.hook, std::move(chain), s.verdict,
                                   s.mark_changed() ? std::optional(s.mark_after) : std::nullopt,
                                   s.ct_mark_changed() ? std::optional(s.ct_mark_after) : std::nullopt});
        add_rewrites(s.notes, hops);
    }
    void operator()(const DropStep& d) const { hops.emplace_back(DropHop{d.reason, d.chain}); }
    void operator()(const RpFilterStep& r) const { hops.emplace_back(RpFilterHop{r.result}); }
    void operator()(const WireguardStep& w) const {
        hops.emplace_back(WireguardHop{w.action, w.direction, w.interface, w.peer, w.verdict, w.inferred});
    }
    void operator()(const DeviceStep& d) const { hops.emplace_back(DeviceHop{d.direction, d.dev}); }
};

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
    p.incomplete = !t.gaps.empty();
    for (const TimelineStep& s : t.steps) std::visit(HopOf{p.hops}, s);
    add_rewrites(t.notes, p.hops); // source NAT seen only as the packet left
    return p;
}

} // namespace wgbpf
