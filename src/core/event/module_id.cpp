#include "event/module_id.hpp"

#include <algorithm>

namespace wgbpf {

std::string_view name_of(ModuleId m) {
    switch (m) {
    case ModuleId::route: return "route";
    case ModuleId::netfilter: return "netfilter";
    case ModuleId::drop: return "drop";
    case ModuleId::device: return "device";
    case ModuleId::wireguard: return "wireguard";
    }
    return {};
}

std::array<ModuleId, kModules.size()> modules_by_name() {
    static const auto sorted = [] {
        auto out = kModules;
        std::sort(out.begin(), out.end(), [](ModuleId a, ModuleId b) { return name_of(a) < name_of(b); });
        return out;
    }();
    return sorted;
}

} // namespace wgbpf
