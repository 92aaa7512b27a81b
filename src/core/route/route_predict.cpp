#include "route/route_predict.hpp"

#include <algorithm>

#include "route/rule_attribution.hpp"

namespace wgbpf {
namespace {

constexpr int kEagain = -11;
constexpr int kEhostunreach = -113;
constexpr int kEacces = -13;
constexpr int kEinval = -22;
constexpr int kEnetunreach = -101;
constexpr uint32_t kTableLocal = 255;
constexpr uint32_t kTableMain = 254;

// fib_table_lookup(): the longest prefix containing dst, then the lowest metric; a route with a tos
// only for that tos.
const Route* table_lookup(const NetnsConfig& cfg, const RouteLookup& f, std::initializer_list<uint32_t> tables) {
    const Route* best = nullptr;
    for (uint32_t table : tables)
        for (size_t i : cfg.route_index().containing(table, f.dst)) {
            const Route& r = cfg.routes[i];
            if (r.family != f.family || (r.tos && (r.tos >> 2) != f.dscp)) continue;
            if (!best || r.dst.length > best->dst.length ||
                (r.dst.length == best->dst.length && r.metric < best->metric))
                best = &r;
        }
    return best;
}

int route_error(const Route* r, Family family) {
    if (!r) return family == Family::ipv6 ? kEhostunreach : kEagain; // fib6 reports a miss as its null entry
    switch (r->type) {
    case RouteType::throw_: return kEagain;
    case RouteType::unreachable: return kEhostunreach;
    case RouteType::prohibit: return kEacces;
    case RouteType::blackhole: return kEinval;
    default: return 0;
    }
}

RouteLookup lookup_of(const RouteLookup& flow, uint32_t table, const Route* r) {
    RouteLookup l = flow;
    l.table = table;
    l.err = route_error(r, flow.family);
    l.nh_ifindex = r && l.err == 0 ? r->oif : 0;
    l.gateway = r && l.err == 0 ? r->gateway : std::nullopt;
    return l;
}

// fib4_rule_suppress / fib6_rule_suppress: a hit this rule does not accept.
bool suppressed(const Rule& rule, const Route* r, const NetnsConfig& cfg) {
    if (!r) return false;
    if (rule.suppress_prefixlen >= 0 && r->dst.length <= rule.suppress_prefixlen) return true;
    if (rule.suppress_ifgroup >= 0) {
        const Link* dev = cfg.link_by_index(r->oif);
        if (dev && dev->group == uint32_t(rule.suppress_ifgroup)) return true;
    }
    return false;
}

} // namespace

RouteLookup output_flow(const IpAddress& dst, uint32_t mark, uint8_t proto, uint16_t sport, uint16_t dport) {
    RouteLookup f;
    f.family = dst.family;
    f.direction = RouteDirection::output;
    f.dst = dst;
    f.src.family = dst.family; // no source chosen yet
    f.mark = mark;
    f.iif = 1; // LOOPBACK_IFINDEX
    f.proto = proto;
    f.sport = sport;
    f.dport = dport;
    return f;
}

namespace {

struct Walk {
    std::vector<RouteLookup> lookups;
    const Rule* rejected_by = nullptr; // a blackhole/unreachable/prohibit rule ended the walk
};

Walk walk_rules(const RouteLookup& flow, const NetnsConfig& cfg) {
    std::vector<const Rule*> rules = cfg.rules_for(flow.family);
    std::vector<Rule> defaults;
    if (rules.empty()) {
        defaults = kernel_default_rules(flow.family);
        for (const Rule& r : defaults) rules.push_back(&r);
    }
    Walk walk;
    std::vector<RouteLookup>& out = walk.lookups;
    bool custom = std::any_of(rules.begin(), rules.end(), [](const Rule* r) { return !is_default_rule(*r); });
    if (flow.family == Family::ipv4 && !custom && rules.front()->table == kTableLocal) {
        // No custom rules: the kernel looks in main, with local merged into it (fib_lookup's fast path).
        out.push_back(lookup_of(flow, kTableMain, table_lookup(cfg, flow, {kTableLocal, kTableMain})));
        if (out.back().err == kEagain) out.back().err = kEnetunreach;
        return walk;
    }
    for (size_t i = 0; i < rules.size(); ++i) {
        const Rule& r = *rules[i];
        if (!rule_matches(r, flow, cfg)) continue;
        switch (r.action) {
        case RuleAction::go_to:
            // The kernel resolves a goto to the rule with exactly that pref after this one; unresolved, the walk
            // goes on with the next rule.
            if (r.goto_target)
                for (size_t j = i + 1; j < rules.size(); ++j)
                    if (rules[j]->pref == *r.goto_target) {
                        i = j - 1;
                        break;
                    }
            continue;
        case RuleAction::nop: continue;
        case RuleAction::blackhole:
        case RuleAction::unreachable:
        case RuleAction::prohibit: walk.rejected_by = &r; return walk; // the rule itself rejects: no table lookup
        case RuleAction::to_table: break;
        }
        if (!cfg.has_table(flow.family, r.table) && !cfg.routes.empty()) continue; // no such table: -EAGAIN
        const Route* route = table_lookup(cfg, flow, {r.table});
        out.push_back(lookup_of(flow, r.table, route));
        int err = out.back().err;
        if (err == kEagain || (flow.family == Family::ipv6 && !route)) continue;
        if (err == 0 && suppressed(r, route, cfg)) continue;
        return walk;
    }
    return walk;
}

LookupResult reject_result(RuleAction a) {
    switch (a) {
    case RuleAction::blackhole: return LookupResult::blackhole;
    case RuleAction::unreachable: return LookupResult::unreachable;
    case RuleAction::prohibit: return LookupResult::prohibit;
    default: return LookupResult::no_route;
    }
}

} // namespace

std::vector<RouteLookup> predicted_lookups(const RouteLookup& flow, const NetnsConfig& cfg) {
    return walk_rules(flow, cfg).lookups;
}

RouteDecision predict_route(const RouteLookup& flow, const NetnsConfig& cfg) {
    Walk walk = walk_rules(flow, cfg);
    if (!walk.lookups.empty() && !walk.rejected_by) return attribute_walk(walk.lookups, cfg);
    RouteDecision d = walk.lookups.empty() ? RouteDecision{} : attribute_walk(walk.lookups, cfg);
    d.direction = flow.direction;
    d.family = flow.family;
    d.src = flow.src;
    d.dst = flow.dst;
    d.mark = flow.mark;
    d.complete = true;
    d.result = LookupResult::no_route;
    d.table.reset();
    d.result_oif.clear();
    if (walk.rejected_by) {
        d.rule = walk.rejected_by->pref;
        d.result = reject_result(walk.rejected_by->action);
    }
    return d;
}

} // namespace wgbpf
