#pragma once
// Reads a namespace's configuration over rtnetlink (libmnl): links, ip rules (both families), routes
// (all tables), plus rp_filter/src_valid_mark sysctls and iproute2's table names.
#include <memory>

#include "common/result.hpp"
#include "config/netns_config.hpp"
#include "netlink/netns.hpp"

namespace wgbpf {

Result<NetnsConfig> read_netns_config(const NetnsHandle& ns);

} // namespace wgbpf
