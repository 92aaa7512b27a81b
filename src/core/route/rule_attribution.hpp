#pragma once
// Turns the table lookups the kernel performed for one flow into the rule walk that caused them.
// Where fexit on the rule functions is allowed, the kernel's own answers (RuleResult) are used;
// otherwise the rules from netlink are evaluated against the flow, exactly as fib_rules_lookup() does.
#include <cstddef>
#include <vector>

#include "config/netns_config.hpp"
#include "event/route_lookup.hpp"
#include "route/route_decision.hpp"

namespace wgbpf {

// `walk`: consecutive lookups for one flow on one CPU, in order (non-empty).
// `exact`: RuleResult events of the same walk (may be empty).
RouteDecision attribute_walk(const std::vector<RouteLookup>& walk, const NetnsConfig& cfg,
                             const std::vector<RuleResult>& exact = {});

// True when, given the lookups seen so far, the kernel's rule walk must have ended
// (a final result, or no further rule could cause another lookup).
bool walk_is_complete(const std::vector<RouteLookup>& walk, const NetnsConfig& cfg);

// How many of the walk's lookups the ruleset snapshot cannot attribute to any rule (0: all explained).
// The grouper uses it to tell a walk's continuation from the start of a new walk after a lost event.
size_t unexplained_lookups(const std::vector<RouteLookup>& walk, const NetnsConfig& cfg);

// Whether rule `r` (its `not` included) selects flow `f`, as fib_rule_match() decides.
bool rule_matches(const Rule& r, const RouteLookup& f, const NetnsConfig& cfg);

// The rules a namespace starts with, for a snapshot that has none of a family.
std::vector<Rule> kernel_default_rules(Family f);

// One of those rules, unchanged (no selector, no suppression): the kernel's fast path needs only these.
bool is_default_rule(const Rule& r);

// The same flow? (addresses, ports, proto, mark, iif, oif, family, direction, netns)
bool same_flow(const RouteLookup& a, const RouteLookup& b);

} // namespace wgbpf
