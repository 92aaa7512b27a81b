#include "route/rule_attribution.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <initializer_list>
#include <string>
#include <tuple>

// The kernel's policy routing walk (net/core/fib_rules.c fib_rules_lookup), replayed against the table
// lookups the tracepoints reported. The observed lookups are the ground truth; the ruleset snapshot
// explains them. Where the two disagree (stale snapshot, lost events) the walk is still attributed as
// far as it goes, and a note says what did not fit.

namespace wgbpf {
namespace {

constexpr int kEagain = -11;        // table miss (or a "throw" route): the walk goes on
constexpr int kEhostunreach = -113; // unreachable route (and, on IPv6, a table without a matching route)
constexpr int kEacces = -13;        // prohibit route
constexpr int kEinval = -22;        // blackhole route
constexpr int kLoopbackIfindex = 1; // flowi iif of locally generated and reverse-path lookups

constexpr uint32_t kTableDefault = 253;
constexpr uint32_t kTableMain = 254;
constexpr uint32_t kTableLocal = 255;

bool forwards(RouteType t) {
    switch (t) {
    case RouteType::blackhole:
    case RouteType::unreachable:
    case RouteType::prohibit:
    case RouteType::throw_: return false;
    default: return true;
    }
}

std::string proto_name(uint8_t p) {
    switch (p) {
    case 1: return "icmp";
    case 6: return "tcp";
    case 17: return "udp";
    case 58: return "ipv6-icmp";
    default: return std::to_string(p);
    }
}

std::string range_text(const PortRange& r) {
    return r.start == r.end ? std::to_string(r.start) : fmt::format("{}-{}", r.start, r.end);
}

bool in_range(const PortRange& r, uint16_t port) { return r.start <= port && port <= r.end; }

bool is_all(const std::optional<IpPrefix>& p) { return !p || p->length == 0; }

// How `ip rule` shows the flow's iif, with why it is what it is.
std::string iif_text(const RouteLookup& f, const NetnsConfig& cfg) {
    if (f.iif == 0) return "no iif";
    if (f.iif == kLoopbackIfindex) {
        switch (f.direction) {
        case RouteDirection::output: return "iif lo (locally generated)";
        case RouteDirection::reverse: return "iif lo (reverse-path check)";
        case RouteDirection::input: return "iif lo";
        }
    }
    return "iif " + cfg.link_name(f.iif);
}

std::string flow_iif_name(const RouteLookup& f, const NetnsConfig& cfg) {
    if (f.iif == kLoopbackIfindex) return "lo"; // always ifindex 1 in every namespace
    return cfg.link_name(f.iif);
}

// The rule's selectors in `ip rule` words, without "from all", e.g. "fwmark 0xca6c".
std::string selector_text(const Rule& r) {
    std::vector<std::string> parts;
    if (!is_all(r.from)) parts.push_back("from " + r.from->to_string());
    if (!is_all(r.to)) parts.push_back("to " + r.to->to_string());
    if (r.tos) parts.push_back(fmt::format("tos {:#x}", r.tos));
    if (r.fwmark) {
        parts.push_back(r.fwmask == 0xffffffff ? fmt::format("fwmark {:#x}", *r.fwmark)
                                               : fmt::format("fwmark {:#x}/{:#x}", *r.fwmark, r.fwmask));
    }
    if (!r.iif.empty()) parts.push_back("iif " + r.iif);
    if (!r.oif.empty()) parts.push_back("oif " + r.oif);
    if (r.ip_proto) parts.push_back("ipproto " + proto_name(r.ip_proto));
    if (r.sport) parts.push_back("sport " + range_text(*r.sport));
    if (r.dport) parts.push_back("dport " + range_text(*r.dport));
    if (r.uid_range) parts.push_back(fmt::format("uidrange {}-{}", r.uid_range->first, r.uid_range->second));
    if (r.l3mdev) parts.push_back("l3mdev");
    std::string s;
    for (const std::string& p : parts) s += (s.empty() ? "" : " ") + p;
    return s;
}

// fib_rule_match() and fib{4,6}_rule_match() without `not`: the first selector that fails, if any.
std::optional<std::string> failing_selector(const Rule& r, const RouteLookup& f, const NetnsConfig& cfg) {
    if (!r.iif.empty()) {
        const Link* link = cfg.link_by_name(r.iif);
        if (!link) return fmt::format("iif {} does not exist", r.iif); // the kernel keeps ifindex -1: no match
        if (link->ifindex != f.iif) return fmt::format("{} is not {}", iif_text(f, cfg), r.iif);
    }
    if (!r.oif.empty()) {
        const Link* link = cfg.link_by_name(r.oif);
        if (!link) return fmt::format("oif {} does not exist", r.oif);
        if (f.oif == 0) return fmt::format("the flow asks for no oif, the rule needs oif {}", r.oif);
        if (link->ifindex != f.oif) return fmt::format("oif {} is not {}", cfg.link_name(f.oif), r.oif);
    }
    if (r.fwmark && ((*r.fwmark ^ f.mark) & r.fwmask) != 0) {
        if (r.fwmask == 0xffffffff) return fmt::format("mark {:#x} is not fwmark {:#x}", f.mark, *r.fwmark);
        return fmt::format("mark {:#x} & {:#x} is not fwmark {:#x}/{:#x}", f.mark, r.fwmask, *r.fwmark, r.fwmask);
    }
    if (r.uid_range && (f.uid < r.uid_range->first || f.uid > r.uid_range->second))
        return fmt::format("uid {} is not in uidrange {}-{}", f.uid, r.uid_range->first, r.uid_range->second);
    if (r.l3mdev) return std::string("l3mdev (VRF) rules are not evaluated: device masters are not in the snapshot");
    if (!is_all(r.from)) {
        // IPv6 without a source address yet (RT6_LOOKUP_F_HAS_SADDR unset) never matches a "from" rule.
        if (f.family == Family::ipv6 && f.src.is_unspecified())
            return fmt::format("no source address chosen yet, so from {} cannot match", r.from->to_string());
        if (!r.from->contains(f.src))
            return fmt::format("from {} does not contain {}", r.from->to_string(), f.src.to_string());
    }
    if (!is_all(r.to) && !r.to->contains(f.dst))
        return fmt::format("to {} does not contain {}", r.to->to_string(), f.dst.to_string());
    if (r.tos && (r.tos >> 2) != f.dscp) return fmt::format("dscp {} is not tos {:#x}", f.dscp, r.tos);
    if (r.ip_proto && r.ip_proto != f.proto) {
        if (f.proto == 0)
            return fmt::format("the kernel did not dissect the packet (no protocol), the rule needs ipproto {}",
                               proto_name(r.ip_proto));
        return fmt::format("ipproto {} is not {}", proto_name(f.proto), proto_name(r.ip_proto));
    }
    if (r.sport && !in_range(*r.sport, f.sport))
        return fmt::format("sport {} is not {}", f.sport, range_text(*r.sport));
    if (r.dport && !in_range(*r.dport, f.dport))
        return fmt::format("dport {} is not {}", f.dport, range_text(*r.dport));
    return std::nullopt;
}

struct RuleMatch {
    bool matches = false;
    std::string why; // when it does not match
};

RuleMatch match_rule(const Rule& r, const RouteLookup& f, const NetnsConfig& cfg) {
    auto failing = failing_selector(r, f, cfg);
    if (!r.invert) return {!failing, failing.value_or("")};
    if (failing) return {true, ""};
    std::string sel = selector_text(r);
    if (sel.empty()) return {false, "every flow is 'from all', and the rule says 'not from all'"};
    return {false, fmt::format("{} matches, and the rule says 'not {}'", sel, sel)};
}

std::vector<Rule> default_rules(Family f) {
    auto rule = [f](uint32_t pref, uint32_t table) {
        Rule r;
        r.family = f;
        r.pref = pref;
        r.table = table;
        return r;
    };
    if (f == Family::ipv6) return {rule(0, kTableLocal), rule(32766, kTableMain)};
    return {rule(0, kTableLocal), rule(32766, kTableMain), rule(32767, kTableDefault)};
}

} // namespace

bool is_default_rule(const Rule& r) {
    bool plain = !r.invert && selector_text(r).empty() && r.action == RuleAction::to_table &&
                 r.suppress_prefixlen < 0 && r.suppress_ifgroup < 0;
    return plain && ((r.pref == 0 && r.table == kTableLocal) || (r.pref == 32766 && r.table == kTableMain) ||
                     (r.pref == 32767 && r.table == kTableDefault));
}

namespace {

// What one observed lookup says on its own (suppression is the rule's business, decided elsewhere).
struct LookupOutcome {
    LookupResult result = LookupResult::none;
    bool final = false; // ends the walk (a hit, unless suppressed, or a reject route)
    std::string why;
};

class WalkExplainer {
public:
    WalkExplainer(const std::vector<RouteLookup>& walk, const NetnsConfig& cfg, const std::vector<RuleResult>& exact)
        : obs_(walk), cfg_(cfg), exact_(exact) {}

    RouteDecision explain() {
        if (obs_.empty()) {
            d_.complete = false;
            d_.notes.push_back("no lookups");
            return d_;
        }
        describe_flow();
        pick_rules();
        d_.exact = !exact_.empty();
        if (is_fast_path()) fast_path();
        else rule_walk();
        while (more()) record_unexplained(); // lookups after the walk ended: nothing in the snapshot explains them
        apply_kernel_decision();
        return d_;
    }

    size_t unexplained() const { return unexplained_; }

private:
    enum class Next { next_rule, same_rule, decided, cut_short };

    const RouteLookup& flow() const { return obs_.front(); }
    Family family() const { return flow().family; }
    bool more() const { return next_ < obs_.size(); }

    void note(std::string text) {
        if (std::find(d_.notes.begin(), d_.notes.end(), text) == d_.notes.end()) d_.notes.push_back(std::move(text));
    }
    void skip(uint32_t pref, std::string why) { d_.skipped.push_back({pref, std::move(why)}); }

    void describe_flow() {
        const RouteLookup& f = flow();
        d_.direction = f.direction;
        d_.family = f.family;
        d_.src = f.src;
        d_.dst = f.dst;
        d_.sport = f.sport;
        d_.dport = f.dport;
        d_.proto = f.proto;
        d_.mark = f.mark;
        d_.iif = f.iif ? flow_iif_name(f, cfg_) : "";
        d_.oif = cfg_.link_name(f.oif);
        d_.netns = f.netns;
        d_.t_ns = f.t_ns;
        d_.cpu = f.cpu;
        d_.rx_packet = f.rx_packet;
        d_.reroute = f.reroute;
        d_.tgid = f.tgid;
    }

    void pick_rules() {
        rules_ = cfg_.rules_for(family());
        if (rules_.empty()) {
            // A namespace always starts with the default rules; assume them rather than explain nothing.
            assumed_rules_ = default_rules(family());
            for (const Rule& r : assumed_rules_) rules_.push_back(&r);
            note(
                fmt::format("the snapshot has no {} rules: assumed the kernel's default rules", family_name(family())));
        }
        routes_known_ = cfg_.route_index().has_family(family());
    }

    // Without routes in the snapshot every table may exist; with them, only tables holding routes do.
    bool table_may_exist(uint32_t table) const { return !routes_known_ || cfg_.has_table(family(), table); }

    // The snapshot route that produced this result: longest prefix containing dst among the routes whose
    // type fits the result, preferring the one on the observed device and gateway.
    const Route* route_of(const RouteLookup& l, std::initializer_list<uint32_t> tables) const {
        auto fits = [&](const Route& r) {
            if (l.err == 0) return forwards(r.type);
            if (l.err == kEagain) return r.type == RouteType::throw_;
            if (l.err == kEhostunreach) return r.type == RouteType::unreachable;
            if (l.err == kEacces) return r.type == RouteType::prohibit;
            if (l.err == kEinval) return r.type == RouteType::blackhole;
            return false;
        };
        auto agrees = [&](const Route& r) { // 2: same device (and gateway), 1: cannot tell, 0: contradicts
            if (l.err != 0) return 1;
            bool observed_gw = l.gateway && !l.gateway->is_unspecified();
            if (observed_gw && r.gateway && *r.gateway != *l.gateway) return 0;
            if (l.nh_ifindex == 0 || r.oif == 0) return 1;
            return r.oif == l.nh_ifindex ? 2 : 0;
        };
        const Route* best = nullptr;
        std::tuple<int, int, int64_t> best_rank{-1, -1, 0};
        // In the snapshot's order within each table, as a scan of all routes would meet them.
        for (uint32_t table : tables) {
            std::vector<size_t> candidates = cfg_.route_index().containing(table, l.dst);
            std::sort(candidates.begin(), candidates.end());
            for (size_t i : candidates) {
                const Route& r = cfg_.routes[i];
                if (!fits(r)) continue;
                std::tuple<int, int, int64_t> rank{agrees(r), r.dst.length, -int64_t(r.metric)};
                if (!best || rank > best_rank || (rank == best_rank && &r < best)) {
                    best = &r;
                    best_rank = rank;
                }
            }
        }
        return best;
    }

    LookupOutcome outcome_of(const RouteLookup& l, const Route* route, bool followed) const {
        if (l.err == 0) return {LookupResult::hit, true, ""};
        if (l.err == kEagain) {
            if (route && route->type == RouteType::throw_)
                return {LookupResult::throw_, false,
                        fmt::format("throw route {}: back to the rules", route->dst.to_string())};
            return {LookupResult::miss, false, ""};
        }
        if (l.err == kEhostunreach && l.family == Family::ipv6) {
            // fib6_table_lookup reports a table without a matching route as unreachable (fib6_null_entry):
            // only a real unreachable route that ends the walk is a reject.
            bool real = route && route->type == RouteType::unreachable && !followed;
            if (!real) return {LookupResult::miss, false, "no matching route (IPv6 reports this as unreachable)"};
        }
        switch (l.err) {
        case kEhostunreach: return {LookupResult::unreachable, true, ""};
        case kEacces: return {LookupResult::prohibit, true, ""};
        case kEinval: return {LookupResult::blackhole, true, ""};
        default: return {LookupResult::error, true, fmt::format("error {}", l.err)};
        }
    }

    RouteLookupStep step_for(uint32_t pref, const RouteLookup& l, const Route* route, const LookupOutcome& out) const {
        RouteLookupStep s;
        s.rule = pref;
        s.table = l.table;
        s.result = out.result;
        s.why = out.why;
        if (route && out.result != LookupResult::miss) s.prefix = route->dst; // a miss has no route to show
        if (l.gateway && !l.gateway->is_unspecified()) s.gateway = l.gateway;
        s.oif = cfg_.link_name(l.nh_ifindex);
        return s;
    }

    void decide(std::optional<uint32_t> pref, const RouteLookup& l, const Route* route, LookupResult result) {
        decided_ = true;
        d_.rule = pref;
        d_.table = l.table;
        d_.table_name = cfg_.table_name(l.table);
        d_.result = result;
        d_.result_oif = cfg_.link_name(l.nh_ifindex);
        d_.gateway = l.gateway && !l.gateway->is_unspecified() ? l.gateway : std::nullopt;
        d_.prefix = route ? std::optional(route->dst) : std::nullopt;
        d_.route_type = route ? std::optional(route->type) : std::nullopt;
    }

    void decide_no_route() {
        decided_ = true;
        d_.rule.reset();
        d_.table.reset();
        d_.table_name.clear();
        d_.result = LookupResult::no_route;
    }

    // ---- fast path: no custom rules, main (merged with local) then default, no rule walk

    // fib_lookup() without custom rules: main (local merged into it) first, no rule walk. Once custom rules
    // were added the kernel walks rules for good (fib_has_custom_rules stays set), so with custom rules in
    // the snapshot a first lookup in main means the local lookup's event was lost, not the fast path.
    bool is_fast_path() const {
        if (family() != Family::ipv4 || flow().table != kTableMain) return false;
        if (!std::all_of(rules_.begin(), rules_.end(), [](const Rule* r) { return is_default_rule(*r); })) return false;
        // A walk of the default rules would start in local (255), unless rule 0 was deleted.
        return rules_.front()->table != kTableMain;
    }

    void fast_path() {
        d_.fast_path = true;
        const RouteLookup& main = obs_[next_++];
        const Route* route = route_of(main, {kTableMain, kTableLocal}); // local routes live in main here
        LookupOutcome out = outcome_of(main, route, more());
        d_.lookups.push_back(step_for(0, main, route, out));
        if (out.result == LookupResult::hit) {
            decide(std::nullopt, main, route, LookupResult::hit);
            return;
        }
        // fib_lookup() tries the default table (253) after any failure in main, when that table exists.
        if (more() && obs_[next_].table == kTableDefault) {
            const RouteLookup& dflt = obs_[next_++];
            const Route* droute = route_of(dflt, {kTableDefault});
            LookupOutcome dout = outcome_of(dflt, droute, more());
            d_.lookups.push_back(step_for(0, dflt, droute, dout));
            if (dout.final) decide(std::nullopt, dflt, droute, dout.result);
            else decide_no_route();
            return;
        }
        if (!more() && table_may_exist(kTableDefault)) {
            d_.complete = false;
            note("the kernel looks up table 253 (default) next, but no such lookup was seen");
            return;
        }
        if (out.final) decide(std::nullopt, main, route, out.result);
        else decide_no_route();
    }

    // ---- the rule walk

    void rule_walk() {
        size_t i = 0;
        while (i < rules_.size()) {
            const Rule& r = *rules_[i];
            RuleMatch m = match_rule(r, flow(), cfg_);
            if (!m.matches) {
                if (!explains_next_lookup_anyway(i)) {
                    skip(r.pref, m.why);
                    ++i;
                    continue;
                }
                note(fmt::format("rule {} does not match this flow per the snapshot ({}), yet only it explains the "
                                 "lookup of table {}",
                                 r.pref, m.why, obs_[next_].table));
            }
            switch (r.action) {
            case RuleAction::go_to: i = jump(i); continue;
            case RuleAction::nop:
                skip(r.pref, "nop");
                ++i;
                continue;
            case RuleAction::unreachable:
            case RuleAction::prohibit:
            case RuleAction::blackhole: decide_by_action(r); return;
            case RuleAction::to_table: break;
            }
            switch (look_up(i)) {
            case Next::next_rule: ++i; break;
            case Next::same_rule: break;
            case Next::decided: return;
            case Next::cut_short: d_.complete = false; return;
            }
        }
        if (!more()) decide_no_route(); // fib_rules_lookup: -ESRCH, "network unreachable"
    }

    // A rule the snapshot says does not match, though it is the only one that would look up the next table:
    // the snapshot is wrong about it (or about the flow), and the kernel is right.
    bool explains_next_lookup_anyway(size_t i) const {
        const Rule& r = *rules_[i];
        if (!more() || r.action != RuleAction::to_table) return false;
        uint32_t table = obs_[next_].table;
        if (r.l3mdev) { // a VRF rule looks up the VRF's table: fits any table no later rule names
            if (later_rule_looks_up(i, table)) return false;
        } else if (r.table != table) {
            return false;
        }
        for (size_t j = i + 1; j < rules_.size(); ++j) {
            const Rule& later = *rules_[j];
            if (later.action == RuleAction::to_table && later.table == table && match_rule(later, flow(), cfg_).matches)
                return false;
        }
        return true;
    }

    bool later_rule_looks_up(size_t i, uint32_t table) const {
        for (size_t j = i + 1; j < rules_.size(); ++j)
            if (rules_[j]->action == RuleAction::to_table && rules_[j]->table == table) return true;
        return false;
    }

    // FR_ACT_GOTO: continue at the first rule with the target pref (it must match too); unresolved: ignored.
    size_t jump(size_t i) {
        const Rule& r = *rules_[i];
        size_t target = rules_.size();
        if (r.goto_target) {
            for (size_t j = 0; j < rules_.size(); ++j) {
                if (rules_[j]->pref == *r.goto_target) {
                    target = j;
                    break;
                }
            }
        }
        if (!r.goto_target || target == rules_.size() || target <= i) { // the kernel refuses backward gotos
            skip(r.pref, fmt::format("goto {}: no rule with that pref, so the rule does nothing",
                                     r.goto_target ? std::to_string(*r.goto_target) : "?"));
            return i + 1;
        }
        skip(r.pref, fmt::format("goto {}: jumped", *r.goto_target));
        for (size_t j = i + 1; j < target; ++j)
            skip(rules_[j]->pref, fmt::format("jumped over by rule {} (goto {})", r.pref, *r.goto_target));
        return target;
    }

    void decide_by_action(const Rule& r) {
        decided_ = true;
        d_.rule = r.pref;
        d_.table.reset();
        d_.table_name.clear();
        switch (r.action) {
        case RuleAction::unreachable: d_.result = LookupResult::unreachable; break; // -ENETUNREACH
        case RuleAction::prohibit: d_.result = LookupResult::prohibit; break;       // -EACCES
        default: d_.result = LookupResult::blackhole; break;                        // -EINVAL
        }
    }

    // A matching FR_ACT_TO_TBL rule: find its lookup among the observed ones.
    Next look_up(size_t i) {
        const Rule& r = *rules_[i];
        uint32_t table = r.l3mdev && more() ? obs_[next_].table : r.table;
        auto no_lookup = [&] {
            if (routes_known_ && table_may_exist(table))
                return fmt::format("no lookup of table {} was seen (the kernel's walk went on: this rule did not "
                                   "decide)",
                                   table);
            return fmt::format("table {} does not exist (no lookup)", table);
        };
        if (!more()) {
            if (table_may_exist(table)) {
                note(fmt::format("rule {} looks up table {} next, but no such lookup was seen", r.pref, table));
                return Next::cut_short;
            }
            skip(r.pref, no_lookup());
            return Next::next_rule;
        }
        const RouteLookup& l = obs_[next_];
        if (l.table != table) {
            if (!table_may_exist(table) || later_rule_looks_up(i, l.table)) {
                skip(r.pref, no_lookup());
                if (routes_known_ && table_may_exist(table))
                    note(fmt::format("the snapshot has routes in table {}, but no lookup of it was seen for rule {}: "
                                     "wgbpf cannot tell whether the event was lost, the routes changed or the "
                                     "kernel did not trace it",
                                     table, r.pref));
                return Next::next_rule;
            }
            return record_unexplained() ? Next::decided : Next::same_rule;
        }
        return record_lookup(r) ? Next::decided : Next::next_rule;
    }

    // The observed lookup `next_` was made for rule `r`. True when it decided the walk.
    bool record_lookup(const Rule& r) {
        const RouteLookup& l = obs_[next_++];
        bool followed = more();
        const Route* route = route_of(l, {l.table});
        LookupOutcome out = outcome_of(l, route, followed);
        RouteLookupStep s = step_for(r.pref, l, route, out);
        if (out.result == LookupResult::hit) {
            if (auto why = suppression(r, l, route, followed)) {
                s.result = LookupResult::suppressed;
                s.why = *why;
                d_.lookups.push_back(s);
                return false;
            }
            d_.lookups.push_back(s);
            decide(r.pref, l, route, LookupResult::hit);
            return true;
        }
        d_.lookups.push_back(s);
        if (!out.final) return false;
        decide(r.pref, l, route, out.result);
        return true;
    }

    // fib{4,6}_rule_suppress(): why this hit was passed over, or nothing when it stands.
    std::optional<std::string> suppression(const Rule& r, const RouteLookup& l, const Route* route, bool followed) {
        for (const RuleResult& rr : exact_) {
            if (rr.what != RuleResult::What::suppressed || rr.pref != r.pref) continue;
            if (rr.prefixlen >= 0 && rr.suppress_prefixlen >= 0)
                return fmt::format("prefix /{} <= suppress_prefixlength {}", rr.prefixlen, rr.suppress_prefixlen);
            return std::string("suppressed (reported by the kernel)");
        }
        for (const RuleResult& rr : exact_)
            if (rr.what == RuleResult::What::decided && rr.pref == r.pref) return std::nullopt;

        if (route && r.suppress_prefixlen >= 0 && route->dst.length <= r.suppress_prefixlen)
            return fmt::format("prefix /{} <= suppress_prefixlength {}", route->dst.length, r.suppress_prefixlen);
        if (r.suppress_ifgroup >= 0) {
            const Link* dev = cfg_.link_by_index(l.nh_ifindex);
            if (dev && dev->group == uint32_t(r.suppress_ifgroup))
                return fmt::format("device {} is in group {} (suppress_ifgroup {})", dev->name, dev->group,
                                   r.suppress_ifgroup);
        }
        if (followed) {
            note(fmt::format("rule {}: another lookup followed its hit in table {}, so the kernel suppressed it; "
                             "the snapshot does not say why",
                             r.pref, l.table));
            return std::string("another lookup followed, so the kernel suppressed this result");
        }
        if (!route && r.suppress_prefixlen >= 0)
            note(
                fmt::format("cannot check rule {}'s suppress_prefixlength: the snapshot has no route to {} in table {}",
                            r.pref, l.dst.to_string(), l.table));
        return std::nullopt;
    }

    // A lookup no rule in the snapshot accounts for. True when it ended the walk.
    bool record_unexplained() {
        const RouteLookup& l = obs_[next_++];
        bool followed = more();
        const Route* route = route_of(l, {l.table});
        LookupOutcome out = outcome_of(l, route, followed);
        RouteLookupStep s = step_for(0, l, route, out);
        if (out.result == LookupResult::hit && followed) s.result = LookupResult::suppressed; // the kernel went on
        s.why = "no rule in the snapshot explains this lookup";
        d_.lookups.push_back(s);
        ++unexplained_;
        note(fmt::format("ruleset snapshot does not explain lookup of table {}", l.table));
        if (!out.final || followed) return false;
        if (decided_) note("the kernel went on after the rule the snapshot says decided");
        decide(std::nullopt, l, route, out.result);
        d_.complete = true; // the kernel ended here, whatever the snapshot says
        return true;
    }

    // fexit on fib_rules_lookup names the deciding rule: it beats any inference.
    void apply_kernel_decision() {
        const RuleResult* decided = nullptr;
        for (const RuleResult& rr : exact_)
            if (rr.what == RuleResult::What::decided) decided = &rr;
        if (!decided) return;
        if (d_.rule != decided->pref)
            note(fmt::format("the kernel reports rule {} as deciding; the snapshot suggested {}", decided->pref,
                             d_.rule ? std::to_string(*d_.rule) : std::string("none")));
        d_.rule = decided->pref;
        if (decided->table && d_.table != decided->table) {
            d_.table = decided->table;
            d_.table_name = cfg_.table_name(decided->table);
        }
        d_.complete = true;
    }

    const std::vector<RouteLookup>& obs_;
    const NetnsConfig& cfg_;
    const std::vector<RuleResult>& exact_;
    std::vector<Rule> assumed_rules_;
    std::vector<const Rule*> rules_;
    bool routes_known_ = false;
    size_t next_ = 0; // the next observed lookup to attribute
    size_t unexplained_ = 0;
    bool decided_ = false;
    RouteDecision d_;
};

} // namespace

RouteDecision attribute_walk(const std::vector<RouteLookup>& walk, const NetnsConfig& cfg,
                             const std::vector<RuleResult>& exact) {
    return WalkExplainer(walk, cfg, exact).explain();
}

bool walk_is_complete(const std::vector<RouteLookup>& walk, const NetnsConfig& cfg) {
    return attribute_walk(walk, cfg).complete;
}

size_t unexplained_lookups(const std::vector<RouteLookup>& walk, const NetnsConfig& cfg) {
    static const std::vector<RuleResult> none;
    WalkExplainer explainer(walk, cfg, none);
    explainer.explain();
    return explainer.unexplained();
}

bool rule_matches(const Rule& r, const RouteLookup& f, const NetnsConfig& cfg) { return match_rule(r, f, cfg).matches; }

std::vector<Rule> kernel_default_rules(Family f) { return default_rules(f); }

bool same_flow(const RouteLookup& a, const RouteLookup& b) {
    return a.family == b.family && a.src == b.src && a.dst == b.dst && a.sport == b.sport && a.dport == b.dport &&
           a.proto == b.proto && a.mark == b.mark && a.iif == b.iif && a.oif == b.oif && a.direction == b.direction &&
           a.netns == b.netns;
}

} // namespace wgbpf
