#include "netlink/change_watcher.hpp"

#include <fmt/format.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/rtnetlink.h>

#include <cerrno>
#include <cstring>
#include <set>
#include <vector>

#include "netlink/rtnl_parse.hpp"

namespace wgbpf {

Result<std::unique_ptr<ChangeWatcher>> ChangeWatcher::open(const NetnsHandle& ns, int bus,
                                                           std::initializer_list<int> groups, const std::string& what) {
    auto scope = NetnsScope::enter(ns);
    if (!scope) return scope;
    auto sock = open_mnl_socket(bus, SOCK_NONBLOCK);
    if (!sock) return Error{fmt::format("{} in {}", sock.error(), ns.description())};
    // Membership by group number covers all groups alike (the bind() bitmask stops at 32).
    for (int group : groups)
        if (mnl_socket_setsockopt(sock->get(), NETLINK_ADD_MEMBERSHIP, &group, sizeof group) < 0)
            return Error{fmt::format("cannot follow {} changes (netlink group {}) in {}: {}", what, group,
                                     ns.description(), std::strerror(errno))};
    return std::unique_ptr<ChangeWatcher>(new ChangeWatcher(std::move(*sock)));
}

int ChangeWatcher::fd() const { return mnl_socket_get_fd(sock_.get()); }

bool ChangeWatcher::drain() {
    std::vector<char> buf(32768);
    bool changed = false;
    for (;;) {
        ssize_t n = mnl_socket_recvfrom(sock_.get(), buf.data(), buf.size());
        if (n > 0) {
            changed = true; // every message in these groups is a change
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        // ENOBUFS: notifications were lost, which also means something changed.
        if (n < 0 && errno == ENOBUFS) {
            changed = true;
            continue;
        }
        return changed; // EAGAIN: nothing more pending
    }
}

ChangeWatcher::RoutingChanges ChangeWatcher::drain_routing() {
    std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
    RoutingChanges changes;
    std::set<RouteKey> keys;
    for (;;) {
        ssize_t n = mnl_socket_recvfrom(sock_.get(), buf.data(), buf.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == ENOBUFS) { // notifications were lost: what changed is not known
            changes.read_again = true;
            continue;
        }
        if (n <= 0) return changes; // EAGAIN: nothing more pending
        int len = int(n);
        for (auto* nlh = reinterpret_cast<const nlmsghdr*>(buf.data()); mnl_nlmsg_ok(nlh, len);
             nlh = mnl_nlmsg_next(nlh, &len)) {
            bool is_route = nlh->nlmsg_type == RTM_NEWROUTE || nlh->nlmsg_type == RTM_DELROUTE;
            if (!is_route) {
                changes.read_again = true;
                continue;
            }
            std::optional<Route> r = parse_route(nlh);
            if (!r) continue; // a cache entry or another family: a dump would skip it too
            // Changes are applied as one set: a route changed twice in one batch (add, then replace) needs
            // their order, which only reading the table again gives.
            if (!keys.insert(route_key(*r)).second) changes.read_again = true;
            if (nlh->nlmsg_type == RTM_DELROUTE) changes.routes.removed.push_back(*r);
            else if (nlh->nlmsg_flags & NLM_F_REPLACE) changes.routes.replaced.push_back(*r);
            else changes.routes.added.push_back(*r);
        }
    }
}

Result<std::unique_ptr<ChangeWatcher>> watch_routing_changes(const NetnsHandle& ns) {
    return ChangeWatcher::open(ns, NETLINK_ROUTE,
                               {RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR, RTNLGRP_IPV4_RULE,
                                RTNLGRP_IPV6_RULE, RTNLGRP_IPV4_ROUTE, RTNLGRP_IPV6_ROUTE},
                               "routing");
}

Result<std::unique_ptr<ChangeWatcher>> watch_ruleset_changes(const NetnsHandle& ns) {
    return ChangeWatcher::open(ns, NETLINK_NETFILTER, {NFNLGRP_NFTABLES}, "nftables ruleset");
}

} // namespace wgbpf
