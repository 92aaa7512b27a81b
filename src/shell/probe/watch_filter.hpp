#pragma once
// Builds the in-kernel filter from what the user asked to watch: namespaces, an interface in them, and
// for a WireGuard interface its outer packets (the fwmark its UDP socket sets, its listen port; its
// peers' endpoints only while the port is not known). The outer packets may be in another watched
// namespace than the interface: the one its socket lives in (wireguard.com/netns).
#include <optional>
#include <vector>

#include "wgbpf/abi/events.h"
#include "common/result.hpp"
#include "wireguard/wg_config.hpp"

namespace wgbpf {

struct WatchScope {
    uint32_t netns = 0;                   // 0: any
    std::optional<int> ifindex;           // absent: every interface (unless `named_interface`)
    std::optional<WgInterface> wireguard; // its outer packets too
    // An interface was named, and this namespace does not have it (now): only the outer packets of
    // the watched WireGuard interfaces (ports, marks, endpoints) are watched here.
    bool named_interface = false;
};

// One scope per watched namespace. Fails when the scopes do not fit the kernel's fixed-size filter
// (namespaces, interfaces, ports, or more than 16 endpoints and no port), or mix a named interface with
// every interface.
Result<wgbpf_filter> build_filter(const std::vector<WatchScope>& scopes);
inline Result<wgbpf_filter> build_filter(const WatchScope& scope) { return build_filter(std::vector{scope}); }

} // namespace wgbpf
