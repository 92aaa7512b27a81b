#include <catch2/catch_test_macros.hpp>

#include "probe/watch_filter.hpp"

using namespace wgbpf;

TEST_CASE("no interface: only the namespace is filtered") {
    auto f = build_filter(WatchScope{.netns = 77});
    REQUIRE(f.ok());
    CHECK(f->n_netns == 1);
    CHECK(f->netns[0] == 77);
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
    auto f = build_filter(WatchScope{.netns = 1, .ifindex = 5, .wireguard = wg});
    REQUIRE(f.ok());
    CHECK(f->n_ifaces == 1);
    CHECK(f->ifaces[0] == 5);
    CHECK(f->iface_netns[0] == 1); // an ifindex means something only in its namespace
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
    auto f = build_filter(WatchScope{.netns = 1, .ifindex = 5, .wireguard = wg});
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
    auto f = build_filter(WatchScope{.netns = 1, .ifindex = 5, .wireguard = wg});
    REQUIRE(f.ok());
    CHECK(f->n_ports == 1);
    CHECK(f->listen_ports[0] == 51820);
    CHECK(f->n_addrs == 0); // the port covers every endpoint, known or not
    CHECK(f->n_marks == 0);
}

TEST_CASE("several namespaces: the interface where it is, the outer packets of its socket's namespace by port") {
    // wireguard.com/netns: wg0 moved into a container (netns 10); its UDP socket stayed where it was
    // created (netns 20), which has no wg0.
    WgInterface wg;
    wg.name = "wg0";
    wg.listen_port = 51821;
    auto f = build_filter(
        std::vector<WatchScope>{{.netns = 10, .ifindex = 3, .wireguard = wg}, {.netns = 20, .named_interface = true}});
    REQUIRE(f.ok());
    REQUIRE(f->n_netns == 2);
    CHECK(f->netns[0] == 10);
    CHECK(f->netns[1] == 20);
    REQUIRE(f->n_ifaces == 1); // not "every interface" of netns 20
    CHECK(f->ifaces[0] == 3);
    CHECK(f->iface_netns[0] == 10);
    CHECK(f->n_ports == 1);
}

TEST_CASE("several namespaces with the interface in none of them watch nothing of their interfaces") {
    auto f = build_filter(
        std::vector<WatchScope>{{.netns = 10, .named_interface = true}, {.netns = 20, .named_interface = true}});
    REQUIRE(f.ok());
    REQUIRE(f->n_ifaces == 1);
    CHECK(f->ifaces[0] == -1);
}

TEST_CASE("more namespaces than the kernel filter holds is an error") {
    std::vector<WatchScope> scopes;
    for (uint32_t i = 1; i <= WGBPF_FILTER_MAX_NETNS + 1; ++i) scopes.push_back({.netns = i});
    auto f = build_filter(scopes);
    REQUIRE_FALSE(f.ok());
    CHECK(f.error().find("name fewer with --netns") != std::string::npos);
}

TEST_CASE("the same listen port or fwmark in two namespaces is one entry") {
    WgInterface a;
    a.name = "wg0";
    a.listen_port = 51820;
    a.fwmark = 0xca6c;
    auto f = build_filter(std::vector<WatchScope>{{.netns = 1, .ifindex = 4, .wireguard = a},
                                                  {.netns = 2, .ifindex = 4, .wireguard = a}});
    REQUIRE(f.ok());
    CHECK(f->n_ports == 1);
    CHECK(f->n_marks == 1);
    CHECK(f->n_ifaces == 2);
}
