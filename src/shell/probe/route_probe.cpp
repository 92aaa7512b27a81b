#include "probe/route_probe.hpp"

#include <bpf/bpf.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "route.skel.h"
#include "route_rules.skel.h"
#include "loader/libbpf_raii.hpp"
#include "probe/netfilter_probe.hpp"
#include "probe/shared_load.hpp"

namespace wgbpf {

using RouteSkel = SkeletonPtr<wgbpf_route_bpf, wgbpf_route_bpf__destroy>;
using RulesSkel = SkeletonPtr<wgbpf_route_rules_bpf, wgbpf_route_rules_bpf__destroy>;

struct RouteProbe::Impl {
    RouteFlavour flavour;
    RouteSkel route;
    RulesSkel rules;
    std::vector<std::string> notes;
};

namespace {

// The exact-rules object shares the route object's ring buffer and loss counters. Its failure only
// degrades the module (rules are then inferred), never stops it.
Result<RulesSkel> start_exact_rules(const RouteFlavour& flavour, SharedMaps& maps, uint32_t ringbuf_bytes,
                                    const wgbpf_filter& filter) {
    const bool three = flavour.suppress_arg_count == 3, ipv6 = flavour.ipv6_suppress;
    return start_object<wgbpf_route_rules_bpf, wgbpf_route_rules_bpf__destroy>(
        wgbpf_route_rules_bpf__open, wgbpf_route_rules_bpf__load, wgbpf_route_rules_bpf__attach, maps, ringbuf_bytes,
        {"cannot open the exact-rules BPF object", "exact-rules", "attach refused"}, &filter,
        [three, ipv6](wgbpf_route_rules_bpf& s) {
            bpf_program__set_autoload(s.progs.rules_fib4_suppress3, three);
            bpf_program__set_autoload(s.progs.rules_fib4_suppress2, !three);
            bpf_program__set_autoload(s.progs.rules_fib6_suppress3, ipv6 && three);
            bpf_program__set_autoload(s.progs.rules_fib6_suppress2, ipv6 && !three);
        });
}

} // namespace

Result<std::unique_ptr<RouteProbe>> RouteProbe::start(const KernelFeatures& kernel, const wgbpf_filter& filter,
                                                      SharedMaps& maps, uint32_t ringbuf_bytes) {
    auto impl = std::make_unique<Impl>();
    impl->flavour = choose_route_flavour(kernel);
    if (!impl->flavour.can_run) return Error{impl->flavour.can_run.why_not};
    impl->notes = impl->flavour.notes;

    const bool ipv6 = impl->flavour.ipv6;
    auto route = start_object<wgbpf_route_bpf, wgbpf_route_bpf__destroy>(
        wgbpf_route_bpf__open, wgbpf_route_bpf__load, wgbpf_route_bpf__attach, maps, ringbuf_bytes,
        {"cannot open the routing BPF object", "routing", "cannot attach the routing tracepoints"}, &filter,
        [ipv6](wgbpf_route_bpf& s) { bpf_program__set_autoload(s.progs.route_fib6_lookup, ipv6); });
    if (!route) return route;
    impl->route = std::move(route.value());

    if (impl->flavour.exact_rules) {
        auto rules = start_exact_rules(impl->flavour, maps, ringbuf_bytes, filter);
        if (rules) {
            impl->rules = std::move(rules.value());
        } else {
            impl->flavour.exact_rules = false;
            impl->notes.push_back("rules inferred from the ruleset: fexit on the rule functions: " + rules.error());
        }
    }
    return std::unique_ptr<RouteProbe>(new RouteProbe(std::move(impl)));
}

RouteProbe::RouteProbe(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RouteProbe::~RouteProbe() = default;

void RouteProbe::set_filter(const wgbpf_filter& filter) {
    impl_->route->bss->filter = filter;
    if (impl_->rules) impl_->rules->bss->filter = filter;
}

ModuleStatus RouteProbe::status() const {
    ModuleStatus s;
    s.module = ModuleId::route;
    s.running = true;
    s.flavour = impl_->flavour.describe();
    s.notes = impl_->notes;
    return s;
}

} // namespace wgbpf
