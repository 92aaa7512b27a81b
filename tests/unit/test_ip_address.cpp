#include <catch2/catch_test_macros.hpp>

#include <arpa/inet.h>

#include "common/ip_address.hpp"

using namespace wgbpf;

TEST_CASE("addresses print as inet_ntop prints them") {
    for (const char* text : {"0.0.0.0", "255.255.255.255", "10.0.100.9", "192.168.178.48", "1.20.3.199"}) {
        CHECK(IpAddress::parse(text)->to_string() == text);
    }
    for (const char* text : {"::", "::1", "fd00::1", "2001:db8::a:0:0:1", "::ffff:10.0.0.1"}) {
        in6_addr raw{};
        REQUIRE(inet_pton(AF_INET6, text, &raw) == 1);
        char expected[INET6_ADDRSTRLEN];
        inet_ntop(AF_INET6, &raw, expected, sizeof expected);
        CHECK(IpAddress::parse(text)->to_string() == expected);
    }
}
