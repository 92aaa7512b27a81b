#include <catch2/catch_test_macros.hpp>

#include "wgbpf/probe/watch_filter.hpp"

using namespace wgbpf;

TEST_CASE("no interface: only the namespace is filtered") {
    auto f = build_filter({.netns = 77});
    REQUIRE(f.ok());
    CHECK(f->netns == 77);
    CHECK(f->n_ifaces == 0);
}

TEST_CASE("a WireGuard interface with no listen port known yet adds its fwmark and peer endpoints") {
    WgInterface wg;
    wg.name = "wg0";
    wg.fwmark = 51820;
    WgPeer p;
    p.endpoint = WgEndpoint{*IpAddress::parse("203.0.113.123"), 51820};
    wg.peers.push_back(p);
    WgPeer v6;
    v6.endpoint = WgEndpoint{*IpAddress::parse("2001:db8::1"), 51820};
    wg.peers.push_back(v6);
    wg.peers.push_back(WgPeer{}); // no endpoint yet: nothing to add
    auto f = build_filter({.netns = 1, .ifindex = 5, .wireguard = wg});
    REQUIRE(f.ok());
    CHECK(f->n_ifaces == 1);
    CHECK(f->ifaces[0] == 5);
    CHECK(f->n_marks == 1);
    CHECK(f->marks[0] == 51820);
    REQUIRE(f->n_addrs == 2);
    CHECK(f->addr_family[0] == WGBPF_FAMILY_IPV4);
    CHECK(f->addrs[0][0] == 203);
    CHECK(f->addr_family[1] == WGBPF_FAMILY_IPV6);
}

TEST_CASE("too many endpoints and no listen port for the kernel filter is an error, not a silent cut") {
    WgInterface wg;
    wg.name = "wg0";
    for (int i = 0; i < WGBPF_FILTER_MAX_ADDRS + 1; ++i) {
        WgPeer p;
        p.endpoint = WgEndpoint{IpAddress::v4(0x01000000u + i), 51820};
        wg.peers.push_back(p);
    }
    auto f = build_filter({.netns = 1, .ifindex = 5, .wireguard = wg});
    REQUIRE_FALSE(f.ok());
    CHECK(f.error().find("peer endpoints") != std::string::npos);
}

TEST_CASE("a WireGuard interface's listen port matches its outer packets for any number of peers") {
    // A road-warrior server: 200 peers, none with an endpoint until it roams in.
    WgInterface wg;
    wg.name = "wg0";
    wg.listen_port = 51820;
    for (int i = 0; i < 200; ++i) {
        WgPeer p;
        if (i % 2) p.endpoint = WgEndpoint{IpAddress::v4(0x01000000u + i), 40000};
        wg.peers.push_back(p);
    }
    auto f = build_filter({.netns = 1, .ifindex = 5, .wireguard = wg});
    REQUIRE(f.ok());
    CHECK(f->listen_port == 51820);
    CHECK(f->n_addrs == 0); // the port covers every endpoint, known or not
    CHECK(f->n_marks == 0);
}
