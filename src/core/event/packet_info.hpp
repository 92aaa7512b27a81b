#pragma once
// A packet as an observation point saw it: enough for a reader to recognise it (addresses, ports,
// IP id, length) plus wgbpf's packet id (a keyed hash of the kernel's skb address, never the address).
#include <array>
#include <cstdint>

#include "common/ip_address.hpp"

namespace wgbpf {

struct PacketInfo {
    uint64_t id = 0;
    bool is_ip = false;
    Family family = Family::ipv4;
    uint8_t proto = 0;
    uint16_t len = 0;
    bool has_l4 = false;
    uint16_t sport = 0;
    uint16_t dport = 0; // ICMP: type << 8 | code
    uint16_t ip_id = 0;
    uint8_t l3_len = 0; // IP header length
    int iif = 0;        // ifindex, 0 when none
    int oif = 0;
    IpAddress src;
    IpAddress dst;
    bool has_udp_payload = false;
    std::array<uint8_t, 16> udp_payload{}; // first bytes of a UDP payload (WireGuard header), when has_udp_payload
    bool dont_fragment = false;            // IPv4 DF
    bool more_fragments = false;           // a fragment with more after it
    bool later_fragment = false;           // a fragment other than the first (no transport header)

    bool is_fragment() const { return more_fragments || later_fragment; }
    // ICMP fragmentation needed / ICMPv6 packet too big: the MTU it announces (0 when not one, or not read).
    uint32_t icmp_mtu() const;

    // UDP payload length from the IP header (0 when not UDP or unknown).
    uint16_t udp_payload_len() const;
};

} // namespace wgbpf
