#pragma once
// Pure: the kernel WireGuard generic netlink reply (WG_CMD_GET_DEVICE) -> WgInterface.
#include <linux/netlink.h>

#include "wireguard/wg_config.hpp"

namespace wgbpf {

// Merges one reply message into `wg`. A dump of a device with many peers spans several messages, a peer's
// allowed IPs possibly continuing in the next one (same public key first): feed them all in order.
// The private key is never read. Returns false on a malformed message.
bool parse_wg_genl_device(const nlmsghdr* nlh, WgInterface& wg);

} // namespace wgbpf
