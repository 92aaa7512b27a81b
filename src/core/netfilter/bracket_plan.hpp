#pragma once
// Where wgbpf puts its own netfilter hooks (BPF netfilter links) so that each nftables base chain is
// bracketed: one hook just before each chain's priority, one after the last. Just before, so that what
// the kernel runs between two chains (conntrack at -200, defrag at -400) falls into the earlier chain's
// span, and a chain after conntrack sees the connection as its entering bracket saw it. Never at a
// chain's own priority (equal priorities run in an order the ruleset does not tell), never at
// INT_MIN/INT_MAX (refused), and never where the kernel refused one (a priority already taken by
// another hook: EBUSY): the hook moves to the next free priority between the same chains. Chains with
// no free priority between them share a span: steps then name them all.
#include <compare>
#include <cstdint>
#include <optional>
#include <set>
#include <vector>

#include "config/nft_ruleset.hpp"

namespace wgbpf {

constexpr uint32_t kMaxBrackets = 32; // programs in bpf/netfilter.bpf.c

struct Bracket {
    uint8_t pf = kNfprotoIpv4; // hook family: kNfprotoIpv4 | kNfprotoIpv6
    NfHook hook = NfHook::prerouting;
    int32_t priority = 0;
    auto operator<=>(const Bracket&) const = default;
};

// Priorities where the kernel refused a wgbpf hook (taken by conntrack, defrag, another program's link).
using TakenPriorities = std::set<Bracket>;

// What runs between two consecutive brackets of one (pf, hook).
struct BracketSpan {
    uint32_t before = 0; // bracket index
    uint32_t after = 0;
    struct Member {
        std::string family; // table family; "iptables" | "ip6tables" for legacy tables
        std::string table;
        std::string chain;                     // legacy: the built-in chain ("PREROUTING", ...)
        int32_t priority = 0;                  // where it runs: NAT chains run inside the NAT hook (-100 / 100)
        bool legacy = false;                   // an iptables-legacy table at its fixed priority
        bool nat = false;                      // a `type nat` chain: runs only for a connection's first packet
        std::optional<int32_t> chain_priority; // the chain's own priority as nft prints it, when not `priority`
        int32_t shown_priority() const { return chain_priority.value_or(priority); }
    };
    std::vector<Member> members; // in priority order; empty: nothing of the ruleset runs there
};

struct BracketPlan {
    uint32_t generation = 0;
    std::vector<Bracket> brackets; // index = bracket id in events
    std::vector<BracketSpan> spans;
    std::vector<std::string> notes; // e.g. hooks left out because kMaxBrackets was reached

    const BracketSpan* span_after(uint32_t bracket) const; // the span that starts at this bracket
    // Any NAT chain: the conntrack NAT core's hooks are then registered at every hook point of the namespace.
    bool has_nat_chains() const;
};

// NAT chains do not get hooks of their own: the conntrack NAT core registers once per hook at fixed
// priorities (dstnat -100 before routing, srcnat 100 after) and runs the NAT chains inside, ordered by
// their own priority. Brackets therefore go around the NAT core.
int32_t nat_core_priority(NfHook hook);

// Pure. Brackets are placed only for hook points that have base chains (or legacy tables), never at a
// priority in `taken`.
BracketPlan plan_brackets(const NftRuleset& ruleset, uint32_t generation, const TakenPriorities& taken = {});

} // namespace wgbpf
