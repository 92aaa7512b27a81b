#pragma once
// A netlink socket in a namespace subscribed to change notifications (rtnetlink links/rules/routes,
// nftables ruleset): poll fd(); when readable, drain() says whether anything changed (then re-read).
#include <initializer_list>
#include <memory>
#include <string>

#include "common/result.hpp"
#include "config/netns_config.hpp"
#include "netlink/mnl_socket.hpp"
#include "netlink/netns.hpp"

namespace wgbpf {

class ChangeWatcher {
public:
    static Result<std::unique_ptr<ChangeWatcher>> open(const NetnsHandle& ns, int bus,
                                                       std::initializer_list<int> groups, const std::string& what);
    int fd() const;
    bool drain();
    // Routing: route notifications become changes to apply; anything else (links, addresses, rules, lost
    // notifications) sets `read_again`, since a link going down removes IPv4 routes without a notification.
    struct RoutingChanges {
        bool read_again = false;
        RouteChanges routes;
        bool any() const { return read_again || !routes.empty(); }
    };
    RoutingChanges drain_routing();

private:
    explicit ChangeWatcher(MnlSocket sock) : sock_(std::move(sock)) {}
    MnlSocket sock_;
};

// Links, addresses, rules and routes of both families.
Result<std::unique_ptr<ChangeWatcher>> watch_routing_changes(const NetnsHandle& ns);
// The nftables ruleset.
Result<std::unique_ptr<ChangeWatcher>> watch_ruleset_changes(const NetnsHandle& ns);

} // namespace wgbpf
