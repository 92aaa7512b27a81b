#pragma once
// The probe modules of one watch: the ones that started (in module_table order), why the others could not,
// and the maps they share. The tool goes on with whichever run.
#include <array>
#include <functional>
#include <memory>
#include <vector>

#include "event/module_id.hpp"
#include "event/module_status.hpp"
#include "loader/shared_maps.hpp"
#include "probe/module_table.hpp"
#include "probe/netfilter_probe.hpp"

namespace wgbpf {

class ProbeModules {
public:
    // Starts every row of module_table; loading takes a while per module, so a stop asked meanwhile is acted on
    // before the next one. Logs each module's flavour, or why it cannot run.
    // `packet_filter`: the user's expression in eBPF, placed into every object (empty: none).
    // Loaded disarmed (`filter` with armed = 0: nothing picked); set_filter arms them all when the caller reads.
    static std::unique_ptr<ProbeModules> start(const KernelFeatures& kernel, const wgbpf_filter& filter,
                                               EbpfProgram packet_filter, uint32_t ringbuf_bytes,
                                               std::vector<NamespaceRuleset> namespaces,
                                               const std::function<bool()>& stopped);

    SharedMaps& maps() { return maps_; }
    bool running(ModuleId m) const { return modules_[index(m)] != nullptr; }
    NetfilterProbe* netfilter() const; // nullptr when it does not run
    void set_filter(const wgbpf_filter& filter); // every module's, at once

    // Running ones first (table order), then the others with their reason; `events` as the pipeline counted them.
    std::vector<ModuleStatus> statuses(const PerModule& events = {}) const;
    // Records the kernel could not reserve since the last call, per module.
    PerModule new_losses(); // reads only the counters, not the statuses: it runs every tick
    uint64_t undecided() const; // times the expression could not decide on a packet, summed over CPUs

private:
    static size_t index(ModuleId m) { return static_cast<size_t>(m); }
    uint64_t lost(ModuleId m) const; // the module's shared loss counters, summed over CPUs
    SharedMaps maps_;                // declared first: destroyed after the modules that use it
    std::array<std::unique_ptr<ProbeModule>, kModules.size()> modules_;
    std::vector<ModuleStatus> not_running_;
    PerModule reported_losses_;
};

} // namespace wgbpf
