#pragma once
// What a probe module reports about itself: which flavour runs, or why none can.
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "event/module_id.hpp"

namespace wgbpf {

struct ModuleStatus {
    ModuleId module = ModuleId::route;
    bool running = false;
    std::string flavour;            // e.g. "tp_btf fib_table_lookup+fib6_table_lookup"
    std::vector<std::string> notes; // degraded parts, with the kernel's reason
    uint64_t events = 0;            // records received from it
    uint64_t lost = 0;              // records the kernel could not reserve (ring buffer full)
};

// [{name, running, flavour, events, lost, notes}]: as the ready and summary lines and the recordings' end frames
// carry them.
nlohmann::json modules_json(const std::vector<ModuleStatus>& modules);

} // namespace wgbpf
