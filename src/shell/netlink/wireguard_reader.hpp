#pragma once
// Privileged: reads a WireGuard interface's configuration in a namespace, kernel genetlink first,
// then the UAPI socket of a user-space implementation.
#include <string>

#include "common/result.hpp"
#include "netlink/netns.hpp"
#include "wireguard/wg_config.hpp"

namespace wgbpf {

Result<WgInterface> read_wireguard(const NetnsHandle& ns, const std::string& ifname);

} // namespace wgbpf
