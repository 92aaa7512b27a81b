#pragma once
// Builds the in-kernel filter from what the user asked to watch: a namespace, an interface, and for a
// WireGuard interface its outer packets (the fwmark its UDP socket sets, its listen port; its peers'
// endpoints only while the port is not known).
#include <optional>

#include "wgbpf/abi/events.h"
#include "wgbpf/common/result.hpp"
#include "wgbpf/wireguard/wg_config.hpp"

namespace wgbpf {

struct WatchScope {
    uint32_t netns = 0;              // 0: any
    std::optional<int> ifindex;      // absent: every interface
    std::optional<WgInterface> wireguard;
};

// Fails when the scope does not fit the kernel's fixed-size filter (more than 16 endpoints and no port).
Result<wgbpf_filter> build_filter(const WatchScope& scope);

} // namespace wgbpf
