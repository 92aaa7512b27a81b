#include <catch2/catch_test_macros.hpp>

#include "timeline_fixtures.hpp"
#include "render/packet_render.hpp"

using namespace wgbpf;
using namespace wgbpf::test;

TEST_CASE("ICMP 'too big' errors show the MTU they announce; other ICMP and fragments say what they are") {
    PacketInfo need = icmp_packet(1, "192.168.178.1", "192.168.178.48", 3);
    need.dport = 3 << 8 | 4;
    need.has_udp_payload = true;
    need.udp_payload = {0, 0, 0x05, 0x14}; // bytes 4..7 of the ICMP header: unused, next-hop MTU 1300
    CHECK(need.icmp_mtu() == 1300);
    CHECK(packet_text(need) == "icmp 192.168.178.1 -> 192.168.178.48 fragmentation-needed mtu 1300");

    PacketInfo big = need;
    big.family = Family::ipv6;
    big.proto = 58;
    big.src = ip("fd00:178::1");
    big.dst = ip("fd00:178::48");
    big.dport = 2 << 8;
    big.udp_payload = {0, 0, 0x05, 0x00}; // a 32-bit MTU: 1280
    CHECK(big.icmp_mtu() == 1280);
    CHECK(packet_text(big) == "icmpv6 fd00:178::1 -> fd00:178::48 packet-too-big mtu 1280");

    PacketInfo unreachable = need;
    unreachable.dport = 3 << 8 | 3; // port unreachable: no MTU, whatever the bytes
    CHECK(unreachable.icmp_mtu() == 0);
    CHECK(packet_text(unreachable) == "icmp 192.168.178.1 -> 192.168.178.48 destination-unreachable code 3");

    PacketInfo later = icmp_packet(2, "10.0.0.1", "198.51.100.9", 8, 100);
    later.has_l4 = false;
    later.later_fragment = true;
    CHECK(packet_text(later) == "icmp 10.0.0.1 -> 198.51.100.9 (later fragment)");
    PacketInfo first = icmp_packet(3, "10.0.0.1", "198.51.100.9", 8, 1420);
    first.more_fragments = true;
    CHECK(packet_text(first) == "icmp 10.0.0.1 -> 198.51.100.9 echo-request (first fragment)");
}
