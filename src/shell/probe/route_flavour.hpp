#pragma once
// Chooses how the routing module runs on this kernel: table lookups from tracepoints (required),
// exact rule outcomes from fexit on the rule functions (where allowed), IPv6 where its tracepoint exists.
#include <optional>
#include <string>
#include <vector>

#include "loader/kernel_features.hpp"
#include "probe/can_run.hpp"

namespace wgbpf {

struct RouteFlavour {
    CanRun can_run;
    bool ipv6 = false;
    bool exact_rules = false;   // fexit fib4/6_rule_suppress + fib_rules_lookup
    int suppress_arg_count = 3; // fib{4,6}_rule_suppress arguments (2 before 5.16)
    bool ipv6_suppress = false;
    std::vector<std::string> notes;

    std::string describe() const; // for the summary
};

RouteFlavour choose_route_flavour(const KernelFeatures& kernel);

} // namespace wgbpf
