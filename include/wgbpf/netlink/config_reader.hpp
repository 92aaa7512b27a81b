#pragma once
// Reads a namespace's configuration over rtnetlink (libmnl): links, ip rules (both families), routes
// (all tables), plus rp_filter/src_valid_mark sysctls and iproute2's table names.
#include <memory>

#include "wgbpf/common/result.hpp"
#include "wgbpf/config/netns_config.hpp"
#include "wgbpf/netlink/netns.hpp"


namespace wgbpf {

Result<NetnsConfig> read_netns_config(const NetnsHandle& ns);

} // namespace wgbpf
