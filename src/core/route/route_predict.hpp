#pragma once
// What the kernel would decide for a flow from the configuration alone: fib_rules_lookup()'s rule walk
// (selectors, goto, nop, reject actions, suppress_prefixlength/ifgroup) and each table's longest-prefix
// match, as the table lookups the kernel would make, explained by attribute_walk like observed ones.
// For `diagnose`: its static checks (where would an endpoint's packets go?) and its expected-against-actual
// comparison. A prediction is never shown as an observation.
#include <vector>

#include "config/netns_config.hpp"
#include "event/route_lookup.hpp"
#include "route/route_decision.hpp"

namespace wgbpf {

// The lookups, in order (at least one: a walk that matched no rule ends with an empty-table miss).
std::vector<RouteLookup> predicted_lookups(const RouteLookup& flow, const NetnsConfig& cfg);

// The decision those lookups make; `flow` supplies direction, addresses, ports, mark, iif and oif.
RouteDecision predict_route(const RouteLookup& flow, const NetnsConfig& cfg);

// An output flow from this host (iif lo, as the kernel sets it for locally generated packets).
RouteLookup output_flow(const IpAddress& dst, uint32_t mark, uint8_t proto = 0, uint16_t sport = 0, uint16_t dport = 0);

} // namespace wgbpf
