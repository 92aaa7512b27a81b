#pragma once
// Decoded, typed forms of the BPF routing events (see abi/events.h for the wire layout).
#include <cstdint>
#include <optional>
#include <string_view>

#include "common/ip_address.hpp"

namespace wgbpf {

enum class RouteDirection : uint8_t { output = 0, input = 1, reverse = 2 };

std::string_view direction_name(RouteDirection d); // "output" | "input" | "reverse"

struct RouteLookup {
    uint64_t t_ns = 0;
    uint32_t cpu = 0;
    uint32_t netns = 0;
    uint32_t tgid = 0;
    Family family = Family::ipv4;
    RouteDirection direction = RouteDirection::output;
    uint32_t table = 0;
    int32_t err = 0; // 0 hit, -EAGAIN (-11) miss, other negative: reject routes
    uint32_t mark = 0;
    int32_t iif = 0;
    int32_t oif = 0;
    uint32_t uid = 0;
    uint8_t proto = 0;
    uint8_t dscp = 0;
    uint16_t sport = 0;
    uint16_t dport = 0;
    IpAddress src;
    IpAddress dst;
    int nh_ifindex = 0; // 0 when no nexthop device
    std::optional<IpAddress> gateway;
    uint64_t rx_packet = 0; // packet id of the received packet an input/reverse lookup is for, of the packet a
                            // re-route is for, else 0
    bool reroute = false;   // an output lookup for a packet already in the output hook (ip_route_me_harder)
};

// Exact rule outcomes reported by fexit probes, where the kernel allows them.
struct RuleResult {
    uint64_t t_ns = 0;
    uint32_t cpu = 0;
    uint32_t netns = 0;
    uint32_t tgid = 0;
    Family family = Family::ipv4;
    enum class What : uint8_t { suppressed = 1, decided = 2 } what = What::decided;
    uint32_t pref = 0;
    uint32_t table = 0;
    int32_t err = 0;
    int32_t prefixlen = -1;
    int32_t suppress_prefixlen = -1;
};

} // namespace wgbpf
