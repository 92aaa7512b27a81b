#pragma once
// The probe modules by number: the index of their loss counters in BPF (enum wgbpf_module), of their
// per-module counters here, and of their row in the shell's module table. Their names only at the edges.
#include <algorithm>
#include <array>
#include <cstdint>
#include <string_view>

#include "common/enum_names.hpp"
#include "wgbpf/abi/events.h"

namespace wgbpf {

enum class ModuleId : uint8_t {
    route = WGBPF_MOD_ROUTE,
    netfilter = WGBPF_MOD_NETFILTER,
    drop = WGBPF_MOD_DROP,
    device = WGBPF_MOD_DEVICE,
    wireguard = WGBPF_MOD_WIREGUARD,
};
std::string_view name_of(ModuleId m); // "route", "netfilter", "drop", "device", "wireguard"

inline constexpr std::array kModules{ModuleId::route, ModuleId::netfilter, ModuleId::drop, ModuleId::device,
                                     ModuleId::wireguard};
static_assert(kModules.size() <= WGBPF_MOD_COUNT, "the BPF loss counters have a slot per module");
static_assert(std::all_of(kModules.begin(), kModules.end(),
                          [](ModuleId m) { return static_cast<int>(m) < WGBPF_COUNT_UNDECIDED; }) &&
                  WGBPF_COUNT_UNDECIDED < WGBPF_MOD_COUNT,
              "the undecided count has a slot of its own");

// The modules in the order of their names (summaries list them so).
std::array<ModuleId, kModules.size()> modules_by_name();

// One counter per module, indexed by ModuleId.
struct PerModule {
    std::array<uint64_t, kModules.size()> counts{};
    uint64_t& operator[](ModuleId m) { return counts[static_cast<size_t>(m)]; }
    uint64_t operator[](ModuleId m) const { return counts[static_cast<size_t>(m)]; }
};

} // namespace wgbpf
