#pragma once
// Pure: one rtnetlink message (as a dump or a notification delivers it) -> wgbpf's config structs.
// No sockets, no root: unit tests build the messages with libmnl.
#include <linux/netlink.h>

#include <optional>

#include "config/netns_config.hpp"

namespace wgbpf {

// RTM_NEWRULE (AF_INET / AF_INET6). nullopt for other types, families or malformed messages.
std::optional<Rule> parse_rule(const nlmsghdr* nlh);

// RTM_NEWROUTE or RTM_DELROUTE (AF_INET / AF_INET6). Multipath routes keep their first nexthop; cloned (cache) entries
// are skipped. Routes via nexthop objects (RTA_NH_ID) come without gateway/oif.
std::optional<Route> parse_route(const nlmsghdr* nlh);

// RTM_NEWLINK: ifindex, name, group.
std::optional<Link> parse_link(const nlmsghdr* nlh);

} // namespace wgbpf
