#pragma once
// What wgbpf knows about one network namespace's configuration: links, ip rules, routes, sysctls.
// Pure data, filled over netlink (src/shell/netlink) or from a recording; consumed by rule attribution.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "common/ip_address.hpp"
#include "config/nft_ruleset.hpp"
#include "config/route_index.hpp"

namespace wgbpf {

// The kernel's own table names (RT_TABLE_DEFAULT/MAIN/LOCAL): "default", "main", "local", else "".
std::string builtin_table_name(uint32_t table);

struct Link {
    int ifindex = 0;
    std::string name;
    uint32_t group = 0; // for suppress_ifgroup
    uint32_t mtu = 0;   // IFLA_MTU; 0 when not known (recordings before it was kept)
};

// Rule actions, numbered as the kernel's FR_ACT_* (include/uapi/linux/fib_rules.h).
enum class RuleAction : uint8_t {
    to_table = 1,
    go_to = 2,
    nop = 3,
    blackhole = 6,
    unreachable = 7,
    prohibit = 8,
};

struct PortRange {
    uint16_t start = 0;
    uint16_t end = 0;
};

struct Rule {
    Family family = Family::ipv4;
    uint32_t pref = 0;
    RuleAction action = RuleAction::to_table;
    uint32_t table = 0;
    bool invert = false;                                    // "not": FIB_RULE_INVERT
    std::optional<uint32_t> fwmark;                         // FRA_FWMARK
    uint32_t fwmask = 0xffffffff;                           // FRA_FWMASK (kernel default: all bits when a mark is set)
    std::string iif;                                        // FRA_IIFNAME ("" = any)
    std::string oif;                                        // FRA_OIFNAME
    std::optional<IpPrefix> from;                           // FRA_SRC + rtm_src_len
    std::optional<IpPrefix> to;                             // FRA_DST + rtm_dst_len
    uint8_t tos = 0;                                        // rtm_tos (dscp << 2)
    std::optional<std::pair<uint32_t, uint32_t>> uid_range; // FRA_UID_RANGE
    uint8_t ip_proto = 0;                                   // FRA_IP_PROTO (0 = any)
    std::optional<PortRange> sport;                         // FRA_SPORT_RANGE
    std::optional<PortRange> dport;                         // FRA_DPORT_RANGE
    std::optional<uint32_t> goto_target;                    // FRA_GOTO (pref of the target rule)
    int32_t suppress_prefixlen = -1;                        // FRA_SUPPRESS_PREFIXLEN (-1: none)
    int32_t suppress_ifgroup = -1;                          // FRA_SUPPRESS_IFGROUP (-1: none)
    bool l3mdev = false;                                    // FRA_L3MDEV

    std::string to_string() const; // like `ip rule show`: "32765: not from all fwmark 0xca6c lookup 51820"
};

// Route types, numbered as the kernel's RTN_* (include/uapi/linux/rtnetlink.h).
enum class RouteType : uint8_t {
    unspec = 0,
    unicast = 1,
    local = 2,
    broadcast = 3,
    anycast = 4,
    multicast = 5,
    blackhole = 6,
    unreachable = 7,
    prohibit = 8,
    throw_ = 9,
    nat = 10,
};
std::string_view name_of(RouteType t);

struct Route {
    Family family = Family::ipv4;
    uint32_t table = 0;
    IpPrefix dst;
    RouteType type = RouteType::unicast;
    std::optional<IpAddress> gateway;
    int oif = 0;         // ifindex, 0 when none
    uint32_t metric = 0; // RTA_PRIORITY
    uint8_t scope = 0;   // rtm_scope
    uint8_t tos = 0;

    bool operator==(const Route&) const = default;
    auto operator<=>(const Route&) const = default; // the order NetnsConfig keeps its routes in
};

// What the kernel's route replace (NLM_F_REPLACE) matches an existing route on.
using RouteKey = std::tuple<Family, uint32_t, IpPrefix, uint8_t, uint32_t>; // family, table, dst, tos, metric
inline RouteKey route_key(const Route& r) { return {r.family, r.table, r.dst, r.tos, r.metric}; }

// Routes added and removed since a configuration was read, from the kernel's notifications.
struct RouteChanges {
    std::vector<Route> removed;  // exactly these (RTM_DELROUTE)
    std::vector<Route> replaced; // each replaces the routes with its route_key (NLM_F_REPLACE)
    std::vector<Route> added;    // RTM_NEWROUTE
    bool empty() const { return removed.empty() && replaced.empty() && added.empty(); }
};

// Per-interface IPv4 sysctls relevant to reverse-path filtering (read under /proc/sys in the namespace).
struct Ipv4Conf {
    int rp_filter = 0;
    int src_valid_mark = 0;
    std::optional<int> forwarding; // not known in recordings made before it was kept
};

struct NetnsConfig {
    uint32_t netns_inode = 0;
    std::vector<Link> links;
    std::vector<Rule> rules;   // both families, each in kernel order (pref ascending)
    std::vector<Route> routes; // all tables, both families, sorted (Route's order: live and replay agree)
    std::map<uint32_t, std::string> table_names; // /etc/iproute2/rt_tables + built-ins
    std::map<std::string, Ipv4Conf> ipv4_conf;   // "all", "default", per interface name
    NftRuleset nft;                              // read separately (src/shell/netlink/nft_reader)

    const Link* link_by_index(int ifindex) const;
    const Link* link_by_name(const std::string& name) const;
    std::string link_name(int ifindex) const;           // "if<N>" when unknown
    std::vector<const Rule*> rules_for(Family f) const; // kernel order
    bool has_table(Family f, uint32_t table) const;     // any route seen in it
    std::string table_name(uint32_t table) const;       // "main", "local", "default", or "" when unnamed
    // `routes` by family, table and prefix: built on first use, and again once `routes` was replaced or
    // resized (configurations are read whole, never edited route by route in place).
    const RouteIndex& route_index() const;
    // Applies notified changes in one pass (routes stay sorted). False when a removed route is not there:
    // the configuration had already drifted, read it again.
    [[nodiscard]] bool apply(const RouteChanges& changes);
    void sort_routes();

private:
    mutable std::shared_ptr<const RouteIndex> route_index_;
};

} // namespace wgbpf
