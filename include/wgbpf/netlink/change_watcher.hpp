#pragma once
// A netlink socket in a namespace subscribed to change notifications (rtnetlink links/rules/routes,
// nftables ruleset): poll fd(); when readable, drain() says whether anything changed (then re-read).
#include <initializer_list>
#include <memory>
#include <string>

#include "wgbpf/common/result.hpp"
#include "wgbpf/netlink/mnl_socket.hpp"
#include "wgbpf/netlink/netns.hpp"

namespace wgbpf {

class ChangeWatcher {
public:
    static Result<std::unique_ptr<ChangeWatcher>> open(const NetnsHandle& ns, int bus, std::initializer_list<int> groups,
                                                       const std::string& what);
    int fd() const;
    bool drain();

private:
    explicit ChangeWatcher(MnlSocket sock) : sock_(std::move(sock)) {}
    MnlSocket sock_;
};

// Links, addresses, rules and routes of both families.
Result<std::unique_ptr<ChangeWatcher>> watch_routing_changes(const NetnsHandle& ns);
// The nftables ruleset.
Result<std::unique_ptr<ChangeWatcher>> watch_ruleset_changes(const NetnsHandle& ns);

} // namespace wgbpf
