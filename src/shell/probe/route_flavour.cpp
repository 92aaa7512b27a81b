#include "probe/route_flavour.hpp"

namespace wgbpf {

RouteFlavour choose_route_flavour(const KernelFeatures& kernel) {
    RouteFlavour f;
    if (!kernel.has_tracepoint("fib_table_lookup")) {
        f.can_run = CanRun::no("the kernel has no BTF tracepoint fib_table_lookup (needs BTF, Linux 5.5+)");
        return f;
    }
    f.ipv6 = kernel.has_tracepoint("fib6_table_lookup");
    if (!f.ipv6) f.notes.push_back("IPv6 lookups not observed: no fib6_table_lookup tracepoint");

    auto suppress_args = kernel.function_arg_count("fib4_rule_suppress");
    auto rules_lookup = kernel.function_arg_count("fib_rules_lookup");
    if (!suppress_args || !rules_lookup) {
        f.notes.push_back("rules inferred from the ruleset: fib4_rule_suppress/fib_rules_lookup not in kernel BTF");
        return f;
    }
    if (auto refused = kernel.fexit_refused()) {
        f.notes.push_back("rules inferred from the ruleset: " + *refused);
        return f;
    }
    f.exact_rules = true;
    f.suppress_arg_count = *suppress_args;
    f.ipv6_suppress = kernel.function_arg_count("fib6_rule_suppress") == suppress_args;
    return f;
}

std::string RouteFlavour::describe() const {
    if (!can_run) return "none";
    std::string s = ipv6 ? "tp_btf fib_table_lookup+fib6_table_lookup" : "tp_btf fib_table_lookup";
    s += exact_rules ? ", fexit rules (exact)" : ", rules inferred";
    return s;
}

} // namespace wgbpf
