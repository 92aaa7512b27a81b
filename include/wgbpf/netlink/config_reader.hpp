#pragma once
// Reads a namespace's configuration over rtnetlink (libmnl): links, ip rules (both families), routes
// (all tables), plus rp_filter/src_valid_mark sysctls and iproute2's table names.
#include <memory>

#include "wgbpf/common/result.hpp"
#include "wgbpf/config/netns_config.hpp"
#include "wgbpf/netlink/netns.hpp"

struct mnl_socket; // libmnl

namespace wgbpf {

Result<NetnsConfig> read_netns_config(const NetnsHandle& ns);

// A netlink socket in the namespace subscribed to link, address, rule and route changes.
// Poll fd(); when readable, drain() says whether anything changed (then re-read the config).
class ConfigWatcher {
public:
    static Result<std::unique_ptr<ConfigWatcher>> open(const NetnsHandle& ns);
    ~ConfigWatcher();
    int fd() const;
    bool drain();

private:
    ConfigWatcher() = default;
    ::mnl_socket* sock_ = nullptr;
};

} // namespace wgbpf
