#pragma once
// What every probe module is to the rest of wgbpf once it runs: the watch filter it applies in the kernel,
// and its status (flavour, notes). Its lost records are counted in the shared loss counters under its ModuleId
// and read by ProbeModules. How each one starts is its row in module_table.
#include "event/module_status.hpp"
#include "wgbpf/abi/events.h"

namespace wgbpf {

class ProbeModule {
public:
    virtual ~ProbeModule() = default;
    // A new filter (the interface's index changed, a namespace came or went). Modules that pick no packets
    // themselves (drop: it only follows packets already watched) ignore it.
    virtual void set_filter(const wgbpf_filter& filter) = 0;
    virtual ModuleStatus status() const = 0; // `lost` is ProbeModules's to fill
};

} // namespace wgbpf
