#pragma once
// A routing decision: one walk of the ip rules for one flow, as the kernel made it, explained.
// This is the `"kind": "route"` object of the JSON contract (docs/json-schema.md).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/ip_address.hpp"
#include "common/enum_names.hpp"
#include "config/netns_config.hpp"
#include "event/route_lookup.hpp"

namespace wgbpf {

// What a table lookup, and then the whole walk, came to.
enum class LookupResult : uint8_t {
    none,       // a decision not seen (JSON "unknown")
    hit,        // a route ("local"/"broadcast" hits too)
    miss,       // the walk goes on
    suppressed, // a hit the rule's suppress_prefixlength / suppress_ifgroup refused: the walk goes on
    unreachable,
    prohibit,
    blackhole,
    throw_, // a throw route: back to the rules
    error,
    no_route, // the walk ended without a route
};
std::string_view name_of(LookupResult r); // "" for none, "throw", "no route"

// One table consulted by one rule.
struct RouteLookupStep {
    uint32_t rule = 0; // pref of the rule that caused the lookup (0 with the no-rules fast path)
    uint32_t table = 0;
    LookupResult result = LookupResult::none;
    std::optional<IpPrefix> prefix; // hit/suppressed: the matching route's prefix, when known
    std::optional<IpAddress> gateway;
    std::string oif; // hit/suppressed: the result's device name
    std::string why; // e.g. "prefix length 0 <= suppress_prefixlength 0"
};

struct SkippedRule {
    uint32_t rule = 0;
    std::string why; // e.g. "fwmark 0xca6c matches, rule says 'not fwmark 0xca6c'"
};

struct RouteDecision {
    RouteDirection direction = RouteDirection::output;
    Family family = Family::ipv4;
    IpAddress src;
    IpAddress dst;
    uint16_t sport = 0; // 0 = unknown
    uint16_t dport = 0;
    uint8_t proto = 0; // 0 = unknown
    uint32_t mark = 0;
    std::string iif; // interface names ("" = none)
    std::string oif; // the flow's requested oif
    uint32_t netns = 0;
    uint64_t t_ns = 0; // time of the first lookup
    uint32_t cpu = 0;
    uint32_t tgid = 0;      // the task that made the lookup (output lookups: the sender)
    uint64_t rx_packet = 0; // input/reverse lookups: id of the packet being received; re-routes: of that packet
    bool reroute = false;   // an output decision for a packet a chain of the output hook changed

    std::vector<RouteLookupStep> lookups; // in order
    std::vector<SkippedRule> skipped;     // rules passed over before the decision

    // The decision.
    std::optional<uint32_t> rule; // deciding pref (absent: no rule decided, e.g. fast path or unknown)
    std::optional<uint32_t> table;
    std::string table_name;
    LookupResult result = LookupResult::none;
    std::string result_oif; // device name of the decision
    std::optional<IpAddress> gateway;
    std::optional<IpPrefix> prefix;
    std::optional<RouteType> route_type; // when known from the snapshot

    bool fast_path = false;         // no custom rules: the kernel looked in main (merged with local) directly
    bool complete = true;           // false when the observed lookups did not end the rule walk (e.g. lost events)
    bool exact = false;             // rule outcomes came from the kernel (fexit), not inferred from the ruleset
    std::vector<std::string> notes; // anything inferred that a reader should know
};

} // namespace wgbpf
