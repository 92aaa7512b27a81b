#pragma once
// The routing probe module: loads and attaches route.bpf.c (and route_rules.bpf.c where fexit is
// allowed), owns their links, and exposes the shared ring buffer and loss counters.
#include <memory>

#include "wgbpf/abi/events.h"
#include "loader/kernel_features.hpp"
#include "loader/shared_maps.hpp"
#include "common/result.hpp"
#include "event/module_status.hpp"
#include "probe/probe_module.hpp"
#include "probe/route_flavour.hpp"

namespace wgbpf {

class RouteProbe final : public ProbeModule {
public:
    // Fails (as a value) when the module cannot run here; the reason says why.
    static Result<std::unique_ptr<RouteProbe>> start(const KernelFeatures& kernel, const wgbpf_filter& filter,
                                                     SharedMaps& maps, uint32_t ringbuf_bytes);
    ~RouteProbe();

    void set_filter(const wgbpf_filter& filter) override;
    ModuleStatus status() const override;

private:
    struct Impl;
    explicit RouteProbe(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

} // namespace wgbpf
