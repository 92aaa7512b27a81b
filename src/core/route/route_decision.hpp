#pragma once
// A routing decision: one walk of the ip rules for one flow, as the kernel made it, explained.
// This is the `"kind": "route"` object of the JSON contract (docs/json-schema.md).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/ip_address.hpp"
#include "event/route_lookup.hpp"

namespace wgbpf {

// One table consulted by one rule.
struct RouteLookupStep {
    uint32_t rule = 0;        // pref of the rule that caused the lookup (0 with the no-rules fast path)
    uint32_t table = 0;
    std::string result;       // "miss" | "hit" | "suppressed" | "unreachable" | "prohibit" | "blackhole" | "throw" | "error"
    std::optional<IpPrefix> prefix;      // hit/suppressed: the matching route's prefix, when known
    std::optional<IpAddress> gateway;
    std::string oif;                     // hit/suppressed: the result's device name
    std::string why;                     // e.g. "prefix length 0 <= suppress_prefixlength 0"
};

struct SkippedRule {
    uint32_t rule = 0;
    std::string why;          // e.g. "fwmark 0xca6c matches, rule says 'not fwmark 0xca6c'"
};

struct RouteDecision {
    RouteDirection direction = RouteDirection::output;
    Family family = Family::ipv4;
    IpAddress src;
    IpAddress dst;
    uint16_t sport = 0;       // 0 = unknown
    uint16_t dport = 0;
    uint8_t proto = 0;        // 0 = unknown
    uint32_t mark = 0;
    std::string iif;          // interface names ("" = none)
    std::string oif;          // the flow's requested oif
    uint32_t netns = 0;
    uint64_t t_ns = 0;        // time of the first lookup
    uint32_t cpu = 0;
    uint32_t tgid = 0;        // the task that made the lookup (output lookups: the sender)
    uint64_t rx_packet = 0;   // input/reverse lookups: id of the packet being received; re-routes: of that packet
    bool reroute = false;     // an output decision for a packet a chain of the output hook changed

    std::vector<RouteLookupStep> lookups; // in order
    std::vector<SkippedRule> skipped;     // rules passed over before the decision

    // The decision.
    std::optional<uint32_t> rule;         // deciding pref (absent: no rule decided, e.g. fast path or unknown)
    std::optional<uint32_t> table;
    std::string table_name;
    std::string result;                   // "hit" ("local"/"broadcast" hits too) | "unreachable" | ... | "no route"
    std::string result_oif;               // device name of the decision
    std::optional<IpAddress> gateway;
    std::optional<IpPrefix> prefix;
    std::string route_type;               // "unicast" | "local" | "broadcast" | ... when known from the snapshot

    bool fast_path = false;   // no custom rules: the kernel looked in main (merged with local) directly
    bool complete = true;     // false when the observed lookups did not end the rule walk (e.g. lost events)
    bool exact = false;       // rule outcomes came from the kernel (fexit), not inferred from the ruleset
    std::vector<std::string> notes; // anything inferred that a reader should know
};

} // namespace wgbpf
