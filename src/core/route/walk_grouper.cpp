#include "route/walk_grouper.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <iterator>
#include <utility>

#include "route/rule_attribution.hpp"

namespace wgbpf {
namespace {

// fexit on fib_rules_lookup reports a verdict only when the kernel walks rules: not on IPv4's fast path,
// not for IPv6 with only its default rules (fib6_rule_lookup then looks up local and main directly).
bool kernel_reports_verdict(const RouteDecision& d, const NetnsConfig& cfg) {
    if (d.fast_path) return false;
    if (d.family == Family::ipv4) return true;
    for (const Rule* r : cfg.rules_for(Family::ipv6)) {
        bool is_default = r->action == RuleAction::to_table && !r->invert && !r->fwmark && r->iif.empty() &&
                          r->oif.empty() && !r->from && !r->to && r->suppress_prefixlen < 0 &&
                          ((r->pref == 0 && r->table == 255) || (r->pref == 32766 && r->table == 254));
        if (!is_default) return true;
    }
    return false;
}

} // namespace

// Would the lookup continue this walk? Yes if the ruleset explains it there, or if it would make no more
// sense as the first lookup of a new walk (a stale snapshot explains neither). The lookup is tried on the
// walk in place; what the walk with it leaves unexplained is kept for the next lookup.
bool WalkGrouper::continues(OpenWalk& walk, const RouteLookup& lookup, const NetnsConfig& cfg) {
    size_t before = walk.unexplained ? *walk.unexplained : unexplained_lookups(walk.lookups, cfg);
    walk.lookups.push_back(lookup);
    size_t after = unexplained_lookups(walk.lookups, cfg);
    walk.lookups.pop_back();
    walk.unexplained = after; // valid once the caller appends the lookup, which it does when this says yes
    if (after <= before) return true;
    return unexplained_lookups({lookup}, cfg) > 0;
}

WalkGrouper::WalkGrouper(ConfigLookup configs, Sink sink, uint64_t idle_ns)
    : configs_(std::move(configs)), sink_(std::move(sink)), idle_ns_(idle_ns) {}

const NetnsConfig& WalkGrouper::config_for(uint32_t netns, NetnsConfig& fallback) const {
    if (configs_)
        if (const NetnsConfig* cfg = configs_(netns)) return *cfg;
    fallback.netns_inode = netns;
    return fallback;
}

void WalkGrouper::add(const RouteLookup& lookup) {
    NetnsConfig fallback;
    const NetnsConfig& cfg = config_for(lookup.netns, fallback);
    std::vector<OpenWalk>& walks = open_[lookup.cpu];

    // The latest open walk of this flow on this CPU. Walks of other flows stay open: a softirq may
    // interrupt a process-context walk with lookups of its own.
    size_t index = walks.size();
    for (size_t i = walks.size(); i-- > 0;) {
        if (same_flow(walks[i].lookups.back(), lookup)) {
            index = i;
            break;
        }
    }
    if (index < walks.size() && !continues(walks[index], lookup, cfg)) {
        finish_at(lookup.cpu, index); // its end was lost: this lookup starts the next walk
        index = walks.size();
    }
    if (index == walks.size()) walks.push_back(OpenWalk{}); // its count of unexplained lookups comes later

    OpenWalk& walk = walks[index];
    walk.lookups.push_back(lookup);
    walk.last_ns = lookup.t_ns;
    if (ready(walk)) finish_at(lookup.cpu, index);
}

bool WalkGrouper::ready(OpenWalk& walk) const {
    NetnsConfig fallback;
    const NetnsConfig& cfg = config_for(walk.lookups.front().netns, fallback);
    walk.decision = attribute_walk(walk.lookups, cfg, walk.exact);
    walk.decided_with = &cfg == &fallback ? nullptr : &cfg; // the fallback dies with this call
    const RouteDecision& d = *walk.decision;
    if (!d.complete) return false;
    // With fexit the kernel names the deciding rule after the walk, and may still report the last hit as
    // suppressed: hold the walk for that verdict.
    walk.awaiting_verdict = kernel_verdicts_ && kernel_reports_verdict(d, cfg);
    return !walk.awaiting_verdict;
}

void WalkGrouper::add(const RuleResult& result) {
    kernel_verdicts_ = true;
    auto it = open_.find(result.cpu);
    if (it == open_.end()) return;
    std::vector<OpenWalk>& walks = it->second;

    // The latest walk of that namespace and family this result is about: a suppression follows a hit in the
    // rule's table; a verdict follows the walk's last lookup (no table: a rule action, e.g. unreachable).
    auto about = [&](const OpenWalk& w) {
        const RouteLookup& last = w.lookups.back();
        if (last.netns != result.netns || last.family != result.family) return false;
        if (result.what == RuleResult::What::suppressed) return last.table == result.table && last.err == 0;
        if (result.table != 0) return last.table == result.table;
        return w.awaiting_verdict;
    };
    for (size_t i = walks.size(); i-- > 0;) {
        if (!about(walks[i])) continue;
        walks[i].exact.push_back(result);
        walks[i].decision.reset();
        if (result.what == RuleResult::What::decided) finish_at(result.cpu, i);
        else walks[i].awaiting_verdict = false; // suppressed: more lookups follow
        return;
    }
}

void WalkGrouper::flush(uint64_t now_ns) {
    std::vector<OpenWalk> idle;
    for (auto& [cpu, walks] : open_) {
        for (size_t i = 0; i < walks.size();) {
            if (now_ns >= walks[i].last_ns && now_ns - walks[i].last_ns >= idle_ns_) {
                idle.push_back(std::move(walks[i]));
                walks.erase(walks.begin() + ptrdiff_t(i));
            } else {
                ++i;
            }
        }
    }
    std::erase_if(open_, [](const auto& entry) { return entry.second.empty(); });
    // Oldest first, so decisions come out in the order the kernel made them.
    std::stable_sort(idle.begin(), idle.end(), [](const OpenWalk& a, const OpenWalk& b) {
        return a.lookups.front().t_ns < b.lookups.front().t_ns;
    });
    for (OpenWalk& walk : idle) finish(walk);
}

void WalkGrouper::flush_all() { flush(UINT64_MAX); }

size_t WalkGrouper::open_walks() const {
    size_t n = 0;
    for (const auto& [cpu, walks] : open_) n += walks.size();
    return n;
}

void WalkGrouper::finish_at(uint32_t cpu, size_t index) {
    auto it = open_.find(cpu);
    OpenWalk walk = std::move(it->second[index]);
    it->second.erase(it->second.begin() + ptrdiff_t(index)); // the CPU's (maybe empty) list stays: callers hold it
    finish(walk);
}

void WalkGrouper::finish(OpenWalk& walk) {
    uint32_t netns = walk.lookups.front().netns;
    NetnsConfig fallback;
    const NetnsConfig& cfg = config_for(netns, fallback);
    bool decided = walk.decision && walk.decided_with == &cfg;
    RouteDecision d = decided ? std::move(*walk.decision) : attribute_walk(walk.lookups, cfg, walk.exact);
    if (&cfg == &fallback)
        d.notes.insert(d.notes.begin(), fmt::format("no configuration snapshot for netns {}", netns));
    if (sink_) sink_(std::move(d));
}

} // namespace wgbpf
