#include "netfilter/bracket_plan.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <climits>

namespace wgbpf {
namespace {

constexpr NfHook kHooks[] = {NfHook::prerouting, NfHook::input, NfHook::forward, NfHook::output, NfHook::postrouting};
constexpr uint8_t kFamilies[] = {kNfprotoIpv4, kNfprotoIpv6};

// When kMaxBrackets does not cover every hook point, they are kept in this order while they fit: the
// locally generated and received packets of a WireGuard endpoint first (its outer UDP is usually IPv4),
// forwarding last (only routers need it).
struct HookPointId {
    uint8_t pf;
    NfHook hook;
};
constexpr HookPointId kKeepOrder[] = {
    {kNfprotoIpv4, NfHook::output},     {kNfprotoIpv4, NfHook::postrouting}, {kNfprotoIpv4, NfHook::prerouting},
    {kNfprotoIpv4, NfHook::input},      {kNfprotoIpv6, NfHook::output},      {kNfprotoIpv6, NfHook::postrouting},
    {kNfprotoIpv6, NfHook::prerouting}, {kNfprotoIpv6, NfHook::input},       {kNfprotoIpv4, NfHook::forward},
    {kNfprotoIpv6, NfHook::forward},
};

std::string pf_name(uint8_t pf) { return pf == kNfprotoIpv6 ? "ipv6" : "ipv4"; }

// iptables-legacy tables and the hooks they register (ipt_*/ip6t_* use the same priorities).
struct LegacyHooks {
    const char* table;
    int32_t priority;
    std::vector<NfHook> hooks;
};
const std::vector<LegacyHooks>& legacy_hooks() {
    static const std::vector<LegacyHooks> all = {
        {"raw", -300, {NfHook::prerouting, NfHook::output}},
        {"mangle", -150, {NfHook::prerouting, NfHook::input, NfHook::forward, NfHook::output, NfHook::postrouting}},
        {"nat", -100, {NfHook::prerouting, NfHook::output}},
        {"nat", 100, {NfHook::input, NfHook::postrouting}},
        {"filter", 0, {NfHook::input, NfHook::forward, NfHook::output}},
        {"security", 50, {NfHook::input, NfHook::forward, NfHook::output}},
    };
    return all;
}

std::string legacy_chain_name(NfHook hook) {
    std::string s(hook_name(hook));
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    return s;
}

std::string member_text(const BracketSpan::Member& m) { return m.family + " " + m.table + " " + m.chain; }

struct HookPoint {
    uint8_t pf;
    NfHook hook;
    std::vector<BracketSpan::Member> members; // priority order
    std::vector<int32_t> positions;           // bracket priorities, ascending
};

std::vector<BracketSpan::Member> members_at(const NftRuleset& ruleset, uint8_t pf, NfHook hook,
                                            std::vector<std::string>& notes) {
    std::vector<BracketSpan::Member> members;
    for (const NftChain* c : ruleset.base_chains(pf, hook)) { // in the order they run; dormant tables left out
        int32_t priority = c->priority;
        if (c->type == "nat") {
            priority = nat_core_priority(hook);
            if (priority != c->priority)
                notes.push_back(fmt::format("{} {}: {} is a NAT chain: it runs inside the NAT hook at priority {}, "
                                            "not at its own priority {}",
                                            pf_name(pf), hook_name(hook), c->qualified(), priority, c->priority));
        }
        members.push_back({c->family, c->table, c->name, priority, false, c->type == "nat",
                           priority != c->priority ? std::optional(c->priority) : std::nullopt});
    }
    for (const LegacyTable& t : ruleset.legacy) {
        if (t.pf != pf) continue;
        for (const LegacyHooks& l : legacy_hooks()) {
            if (l.table != t.name || std::find(l.hooks.begin(), l.hooks.end(), hook) == l.hooks.end()) continue;
            members.push_back({pf == kNfprotoIpv6 ? "ip6tables" : "iptables", t.name, legacy_chain_name(hook),
                               l.priority, true, l.table == std::string("nat")});
        }
    }
    std::stable_sort(members.begin(), members.end(),
                     [](const auto& a, const auto& b) { return a.priority < b.priority; });
    return members;
}

// One bracket just below each distinct priority (above the one before it), one just above the last;
// none at INT_MIN/INT_MAX (the kernel refuses them) or where the kernel refused one before (`taken`):
// then the next free priority between the same neighbours, downwards (upwards after the last). Where
// none is free, the neighbours share a span (or, at either end, stay unobserved).
constexpr int kMaxMoves = 64; // how far a hook moves away from a taken priority

std::vector<int32_t> bracket_positions(const HookPoint& hp, const TakenPriorities& taken,
                                       std::vector<std::string>& notes) {
    std::vector<int64_t> q;
    for (const auto& m : hp.members)
        if (q.empty() || q.back() != m.priority) q.push_back(m.priority);
    auto is_taken = [&](int64_t p) { return taken.contains(Bracket{hp.pf, hp.hook, static_cast<int32_t>(p)}); };
    auto note_moved = [&](int64_t wanted, int64_t got) {
        notes.push_back(fmt::format("{} {}: priority {} is taken by another hook (conntrack, defrag or another "
                                    "program's link): wgbpf's hook placed at {} instead",
                                    pf_name(hp.pf), hook_name(hp.hook), wanted, got));
    };
    std::vector<int32_t> positions;
    for (size_t i = 0; i < q.size(); ++i) {
        int64_t low = i ? q[i - 1] : int64_t{INT_MIN}; // exclusive
        int64_t p = q[i] - 1;
        for (int moves = 0; p > low && is_taken(p) && moves < kMaxMoves; ++moves) --p;
        if (p > low && !is_taken(p)) {
            if (p != q[i] - 1) note_moved(q[i] - 1, p);
            positions.push_back(static_cast<int32_t>(p));
        } else if (i > 0 && q[i] - 1 > low) {
            notes.push_back(fmt::format("{} {}: no free priority between {} and {} for a wgbpf hook: the chains at "
                                        "both are reported together",
                                        pf_name(hp.pf), hook_name(hp.hook), q[i - 1], q[i]));
        }
    }
    int64_t p = q.back() + 1;
    for (int moves = 0; p < INT_MAX && is_taken(p) && moves < kMaxMoves; ++moves) ++p;
    if (p < INT_MAX && !is_taken(p)) {
        if (p != q.back() + 1) note_moved(q.back() + 1, p);
        positions.push_back(static_cast<int32_t>(p));
    }
    return positions;
}

void note_unbracketed(const HookPoint& hp, std::vector<std::string>& notes) {
    for (const auto& m : hp.members) {
        bool inside = hp.positions.size() >= 2 && m.priority > hp.positions.front() && m.priority < hp.positions.back();
        if (!inside)
            notes.push_back(fmt::format("{} {}: {} (priority {}) has no free priority on one side for a wgbpf hook: "
                                        "not observed",
                                        pf_name(hp.pf), hook_name(hp.hook), member_text(m), m.priority));
    }
}

} // namespace

int32_t nat_core_priority(NfHook hook) { return hook == NfHook::prerouting || hook == NfHook::output ? -100 : 100; }

bool BracketPlan::has_nat_chains() const {
    for (const BracketSpan& s : spans)
        for (const BracketSpan::Member& m : s.members)
            if (m.nat) return true;
    return false;
}

const BracketSpan* BracketPlan::span_after(uint32_t bracket) const {
    for (const BracketSpan& s : spans)
        if (s.before == bracket) return &s;
    return nullptr;
}

BracketPlan plan_brackets(const NftRuleset& ruleset, uint32_t generation, const TakenPriorities& taken) {
    BracketPlan plan;
    plan.generation = generation;

    std::vector<HookPoint> points;
    for (uint8_t pf : kFamilies) {
        for (NfHook hook : kHooks) {
            HookPoint hp{pf, hook, members_at(ruleset, pf, hook, plan.notes), {}};
            if (hp.members.empty()) continue;
            hp.positions = bracket_positions(hp, taken, plan.notes);
            note_unbracketed(hp, plan.notes);
            if (hp.positions.size() >= 2) points.push_back(std::move(hp)); // one bracket alone brackets nothing
        }
    }

    // Choose the hook points that fit in kMaxBrackets, in kKeepOrder.
    auto find = [&](HookPointId id) {
        return std::find_if(points.begin(), points.end(),
                            [&](const HookPoint& hp) { return hp.pf == id.pf && hp.hook == id.hook; });
    };
    std::vector<bool> keep(points.size(), false);
    std::vector<std::string> left_out;
    size_t used = 0;
    for (HookPointId id : kKeepOrder) {
        auto it = find(id);
        if (it == points.end()) continue;
        if (used + it->positions.size() <= kMaxBrackets) {
            used += it->positions.size();
            keep[it - points.begin()] = true;
        } else {
            left_out.push_back(pf_name(id.pf) + " " + std::string(hook_name(id.hook)));
        }
    }
    if (!left_out.empty()) {
        std::string list;
        for (const std::string& s : left_out) list += (list.empty() ? "" : ", ") + s;
        plan.notes.push_back(
            fmt::format("not observed, more than {} netfilter hooks would be needed: {}", kMaxBrackets, list));
    }

    for (size_t i = 0; i < points.size(); ++i) {
        if (!keep[i]) continue;
        const HookPoint& hp = points[i];
        uint32_t first = static_cast<uint32_t>(plan.brackets.size());
        for (int32_t p : hp.positions) plan.brackets.push_back({hp.pf, hp.hook, p});
        for (size_t b = 0; b + 1 < hp.positions.size(); ++b) {
            BracketSpan span;
            span.before = first + static_cast<uint32_t>(b);
            span.after = span.before + 1;
            for (const auto& m : hp.members)
                if (m.priority > hp.positions[b] && m.priority < hp.positions[b + 1]) span.members.push_back(m);
            plan.spans.push_back(std::move(span));
        }
    }
    return plan;
}

} // namespace wgbpf
