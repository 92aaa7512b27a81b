#pragma once
// Groups the stream of table lookups into rule walks (one per flow and CPU) and hands each finished
// walk out as a RouteDecision. Pure: time comes from the events and from flush(now).
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <vector>

#include "config/netns_config.hpp"
#include "event/route_lookup.hpp"
#include "route/route_decision.hpp"

namespace wgbpf {

class WalkGrouper {
public:
    using ConfigLookup = std::function<const NetnsConfig*(uint32_t netns)>;
    using Sink = std::function<void(RouteDecision&&)>;

    // A walk with no new lookup for `idle_ns` is finished by flush().
    WalkGrouper(ConfigLookup configs, Sink sink, uint64_t idle_ns = 20'000'000);

    void add(const RouteLookup& lookup);
    void add(const RuleResult& result);
    void flush(uint64_t now_ns); // finish walks idle since now - idle_ns
    void flush_all();            // finish everything (exit)
    size_t open_walks() const;

private:
    struct OpenWalk {
        std::vector<RouteLookup> lookups;
        std::vector<RuleResult> exact;
        uint64_t last_ns = 0;
        bool awaiting_verdict = false; // complete per the snapshot, held for the kernel's RuleResult
        // ready()'s attribution, reused by finish() while neither the walk nor its snapshot changed:
        // attribution is most of grouping's cost.
        std::optional<RouteDecision> decision;
        const NetnsConfig* decided_with = nullptr;
        // How many of `lookups` the snapshot cannot explain, from the last continues(): each new lookup
        // compares the walk with and without it, and the walk "without" is the last one "with".
        std::optional<size_t> unexplained;
    };
    void finish(OpenWalk& walk);
    void finish_at(uint32_t cpu, size_t index);
    bool ready(OpenWalk& walk) const;
    static bool continues(OpenWalk& walk, const RouteLookup& lookup, const NetnsConfig& cfg);
    const NetnsConfig& config_for(uint32_t netns, NetnsConfig& fallback) const;

    ConfigLookup configs_;
    Sink sink_;
    uint64_t idle_ns_;
    // By CPU, then flow: a walk runs on one CPU, but a softirq may interrupt a process-context walk
    // with lookups of another flow, so several walks can be open on one CPU at once.
    std::map<uint32_t, std::vector<OpenWalk>> open_;
    bool kernel_verdicts_ = false; // RuleResults seen: the kernel (fexit) names each walk's deciding rule
};

} // namespace wgbpf
