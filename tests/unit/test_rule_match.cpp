#include <catch2/catch_test_macros.hpp>

#include "timeline_fixtures.hpp"
#include "netfilter/rule_match.hpp"

using namespace wgbpf;
using namespace wgbpf::test;

namespace {
bool may(const std::string& rule, const PacketInfo& p, uint32_t mark_before = 0, uint32_t mark_after = 0) {
    return rule_may_match(rule, RuleMatchInput{p, mark_before, mark_after, std::nullopt, std::nullopt});
}
} // namespace

TEST_CASE("a rule's protocol, port, address and mark matches decide whether it could have set a mark") {
    PacketInfo ping = icmp_packet(1, "10.0.0.1", "198.51.100.9", 8);
    PacketInfo outer = outer_out(2, outer_payload(84), wg_data(kServerIndex, 1));
    // wg-quick's postmangle and premangle rules are for the outer UDP packets only.
    const std::string post = "meta l4proto udp meta mark 0x0000ca6c ct mark set meta mark";
    const std::string pre = "meta l4proto udp meta mark set ct mark";
    CHECK_FALSE(may(post, ping));
    CHECK_FALSE(may(pre, ping));
    CHECK(may(pre, outer));
    CHECK(may(post, outer, 0xca6c, 0xca6c));
    CHECK_FALSE(may(post, outer, 0, 0)); // not marked: the match on the mark fails
    CHECK(may(post, outer, 0, 0xca6c));  // an earlier rule of the chain may have set it

    CHECK(may("ip protocol 17 meta mark set 0x1", outer));
    CHECK_FALSE(may("ip protocol != udp meta mark set 0x1", outer));
    CHECK(may("udp dport 51820 meta mark set 0x1", outer));
    CHECK_FALSE(may("udp dport 53 meta mark set 0x1", outer));
    CHECK_FALSE(may("tcp dport 51820 meta mark set 0x1", outer)); // says TCP
    CHECK(may("ip daddr 203.0.113.0/24 meta mark set 0x1", outer));
    CHECK_FALSE(may("ip daddr 10.0.0.0/8 meta mark set 0x1", outer));
    CHECK(may("ip daddr != 10.0.0.0/8 meta mark set 0x1", outer));
    CHECK_FALSE(may("ip saddr 10.0.0.1 meta mark set 0x1", outer));

    // What it cannot evaluate counts as "maybe": sets, interface names, other families' matches.
    CHECK(may("udp dport { 53, 51820 } meta mark set 0x1", outer));
    CHECK(may("oifname \"c0\" meta mark set 0x1", outer));
    CHECK(may("ip6 daddr ::1 meta mark set 0x1", outer));
    CHECK(may("meta mark set 0x1", ping));
    // Nothing after a statement is a match.
    CHECK(may("meta mark set 0x1 counter udp dport 53", ping));
}

TEST_CASE("a conntrack mark match is decided only where the connection's mark is known") {
    PacketInfo outer = outer_in(2, outer_payload(84), wg_data(kClientIndex, 1));
    // The Mullvad app's split-tunnel rule: the relay's reply does not carry ct mark 0xf41.
    const std::string split = "iif != \"wg0\" ct mark 0x00000f41 meta mark set 0x6d6f6c65";
    CHECK_FALSE(rule_may_match(split, RuleMatchInput{outer, 0, 0x6d6f6c65, 0u, 0u}));
    CHECK(rule_may_match(split, RuleMatchInput{outer, 0, 0x6d6f6c65, 0xf41u, 0xf41u}));
    CHECK(rule_may_match(split, RuleMatchInput{outer, 0, 0x6d6f6c65, std::nullopt, std::nullopt})); // not tracked yet
    CHECK(rule_may_match("ct mark != 0x1 meta mark set 0x2", RuleMatchInput{outer, 0, 2, 0u, 0u}));
}
