#pragma once
// Prometheus counters of what wgbpf saw (docs/metrics.md): packets by outcome, drops by reason and by chain,
// rp_filter failures, WireGuard messages and WireGuard's drops by peer, events seen and lost per module,
// timelines evicted. Low cardinality by design: no per-flow labels; label values come from bounded sets (kernel
// drop reasons, the ruleset's chains, the configured peers), each family capped at kMaxSeries series, beyond
// which values count under "other". Pure: the HTTP side (prometheus-cpp's Exposer) is the CLI's.
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/registry.h>

#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "event/module_status.hpp"

namespace wgbpf {

struct PacketTimeline;

class PathMetrics {
public:
    static constexpr size_t kMaxSeries = 256; // per family
    PathMetrics();

    void add(const PacketTimeline& t);
    // The modules' totals so far (events seen and lost, as the summary counts them).
    void modules(const std::vector<ModuleStatus>& statuses);

    std::shared_ptr<prometheus::Registry> registry() const { return registry_; }

private:
    // A counter of `family` for these labels, or the family's "other" series once it holds kMaxSeries.
    prometheus::Counter& counter(prometheus::Family<prometheus::Counter>& family, const prometheus::Labels& labels);

    std::shared_ptr<prometheus::Registry> registry_;
    prometheus::Family<prometheus::Counter>& packets_;
    prometheus::Family<prometheus::Counter>& drops_;
    prometheus::Family<prometheus::Counter>& chain_drops_;
    prometheus::Family<prometheus::Counter>& rp_filter_failures_;
    prometheus::Family<prometheus::Counter>& wireguard_messages_;
    prometheus::Family<prometheus::Counter>& wireguard_drops_;
    prometheus::Family<prometheus::Counter>& incomplete_;
    prometheus::Family<prometheus::Counter>& events_;
    prometheus::Family<prometheus::Counter>& lost_;
    std::map<const void*, size_t> series_; // per family: series made so far
    std::map<std::string, double> module_seen_; // what was already added per module ("events"/"lost" + name)
};

} // namespace wgbpf
