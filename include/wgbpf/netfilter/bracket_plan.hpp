#pragma once
// Where wgbpf puts its own netfilter hooks (BPF netfilter links) so that each nftables base chain is
// bracketed: one hook before the first chain of a hook point, one between each pair of neighbouring
// priorities, one after the last. Never at a chain's own priority (equal priorities run in an order
// the ruleset does not tell), never at INT_MIN/INT_MAX (refused), and never two at one priority
// (EBUSY). Chains with no free priority between them share a span: steps then name them all.
#include <cstdint>
#include <optional>
#include <vector>

#include "wgbpf/config/nft_ruleset.hpp"

namespace wgbpf {

constexpr uint32_t kMaxBrackets = 32; // programs in bpf/netfilter.bpf.c

struct Bracket {
    uint8_t pf = kNfprotoIpv4;   // hook family: kNfprotoIpv4 | kNfprotoIpv6
    NfHook hook = NfHook::prerouting;
    int32_t priority = 0;
    bool operator==(const Bracket&) const = default;
};

// What runs between two consecutive brackets of one (pf, hook).
struct BracketSpan {
    uint32_t before = 0;          // bracket index
    uint32_t after = 0;
    struct Member {
        std::string family;       // table family; "iptables" | "ip6tables" for legacy tables
        std::string table;
        std::string chain;        // legacy: the built-in chain ("PREROUTING", ...)
        int32_t priority = 0;     // where it runs: NAT chains run inside the NAT hook (-100 / 100)
        bool legacy = false;      // an iptables-legacy table at its fixed priority
    };
    std::vector<Member> members;  // in priority order; empty: nothing of the ruleset runs there
};

struct BracketPlan {
    uint32_t generation = 0;
    std::vector<Bracket> brackets;   // index = bracket id in events
    std::vector<BracketSpan> spans;
    std::vector<std::string> notes;  // e.g. hooks left out because kMaxBrackets was reached

    const BracketSpan* span_after(uint32_t bracket) const; // the span that starts at this bracket
};

// Pure. Brackets are placed only for hook points that have base chains (or legacy tables).
BracketPlan plan_brackets(const NftRuleset& ruleset, uint32_t generation);

} // namespace wgbpf
