#include "event/module_status.hpp"

#include <nlohmann/json.hpp>

namespace wgbpf {

nlohmann::json modules_json(const std::vector<ModuleStatus>& modules) {
    nlohmann::json out = nlohmann::json::array();
    for (const ModuleStatus& m : modules)
        out.push_back({{"name", name_of(m.module)},
                       {"running", m.running},
                       {"flavour", m.flavour},
                       {"events", m.events},
                       {"lost", m.lost},
                       {"notes", m.notes}});
    return out;
}

} // namespace wgbpf
