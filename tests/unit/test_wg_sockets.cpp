#include <catch2/catch_test_macros.hpp>

#include "wireguard/wg_sockets.hpp"

using namespace wgbpf;

namespace {

WgInterface wg(const char* name, uint16_t port) {
    WgInterface w;
    w.name = name;
    w.listen_port = port;
    return w;
}

} // namespace

TEST_CASE("the local ports of a /proc/net/udp table, IPv4 and IPv6, kernel sockets included") {
    const char* v4 =
        "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n"
        "  270: 00000000:CA6C 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 0 2 0000000000000000 0\n"
        "  871: 3500007F:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000   101        0 2094 2 0000000000000000 0\n"
        "garbage\n"
        "  12: 00000000:XYZW 00000000:0000 07\n";
    CHECK(parse_proc_udp_ports(v4) == std::set<uint16_t>{51820, 53});
    const char* v6 =
        "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n"
        "  270: 00000000000000000000000000000000:CA6D 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 0 2 0000000000000000 0\n";
    CHECK(parse_proc_udp_ports(v6) == std::set<uint16_t>{51821});
    CHECK(parse_proc_udp_ports("").empty());
}

TEST_CASE("an interface whose port is bound where it is has its socket there") {
    std::vector<NamespaceWireguard> ns{{10, {wg("wg0", 51820)}, {51820}, true}};
    CHECK(place_wireguard_sockets(ns).empty());
    CHECK(ns[0].interfaces[0].netns == 0); // one namespace: nothing to tell apart
    CHECK(ns[0].interfaces[0].socket_netns == 0);
}

TEST_CASE("an interface moved into a container has its socket in the namespace that binds its port") {
    // wireguard.com/netns: wg0 created in 20 (which also has its own wgs0 on 51820), moved into 10.
    std::vector<NamespaceWireguard> ns{
        {10, {wg("wg0", 51821)}, {}, true}, {20, {}, {51821, 53}, true}, {30, {wg("wgs0", 51820)}, {51820}, true}};
    CHECK(place_wireguard_sockets(ns).empty());
    const WgInterface& moved = ns[0].interfaces[0];
    CHECK(moved.netns == 10);
    CHECK(moved.socket_netns == 20);
    CHECK(lives_in(moved, 10));
    CHECK_FALSE(sends_from(moved, 10));
    CHECK(sends_from(moved, 20));
    CHECK_FALSE(lives_in(moved, 20));
    CHECK(home_netns(moved, 20) == 10);
    // What each namespace's packets can meet: the container its interface; the birthplace its outer packets.
    auto from10 = wireguard_seen_from(ns, 10);
    auto from20 = wireguard_seen_from(ns, 20);
    REQUIRE(from10.size() == 1);
    REQUIRE(from20.size() == 1);
    CHECK(from20[0].name == "wg0");
    CHECK(wireguard_seen_from(ns, 30).size() == 1); // only its own wgs0
}

TEST_CASE("a port bound only where another WireGuard interface listens is not taken for the moved one's") {
    std::vector<NamespaceWireguard> ns{{10, {wg("wg0", 51820)}, {}, true}, {30, {wg("wgs0", 51820)}, {51820}, true}};
    auto notes = place_wireguard_sockets(ns);
    REQUIRE(notes.size() == 1);
    CHECK(notes[0].find("no socket is bound to its UDP port 51820") != std::string::npos);
    CHECK(ns[0].interfaces[0].socket_netns == kSocketNotWatched);
    CHECK(wireguard_seen_from(ns, 30).size() == 1);
}

TEST_CASE("two namespaces that could hold the socket: said, and nothing linked") {
    std::vector<NamespaceWireguard> ns{
        {10, {wg("wg0", 51821)}, {}, true}, {20, {}, {51821}, true}, {21, {}, {51821}, true}};
    auto notes = place_wireguard_sockets(ns);
    REQUIRE(notes.size() == 1);
    CHECK(notes[0].find("2 watched namespaces") != std::string::npos);
    CHECK(ns[0].interfaces[0].socket_netns == kSocketAmbiguous);
    CHECK_FALSE(sends_from(ns[0].interfaces[0], 20));
    CHECK_FALSE(sends_from(ns[0].interfaces[0], 10));
    CHECK(wireguard_seen_from(ns, 20).empty());
}

TEST_CASE("several candidates told apart by the WireGuard interfaces not watched by name") {
    // `--netns all -i wg0`: the server's wgs0 (not named) also listens on 51820.
    std::vector<NamespaceWireguard> ns{
        {10, {wg("wg0", 51820)}, {}, true}, {20, {}, {51820}, true}, {30, {}, {51820}, true}};
    int asked = 0;
    auto notes = place_wireguard_sockets(ns, [&](uint32_t netns) {
        ++asked;
        return netns == 30 ? std::set<uint16_t>{51820} : std::set<uint16_t>{};
    });
    CHECK(notes.empty());
    CHECK(ns[0].interfaces[0].socket_netns == 20);
    CHECK(asked == 2);
    // Not asked when there is nothing to tell apart.
    std::vector<NamespaceWireguard> one{{10, {wg("wg0", 51820)}, {}, true}, {20, {}, {51820}, true}};
    asked = 0;
    place_wireguard_sockets(one, [&](uint32_t) {
        ++asked;
        return std::set<uint16_t>{};
    });
    CHECK(asked == 0);
}

TEST_CASE("sockets that could not be read: nothing is claimed") {
    std::vector<NamespaceWireguard> ns{{10, {wg("wg0", 51821)}, {}, false}};
    CHECK(place_wireguard_sockets(ns).empty());
    CHECK(ns[0].interfaces[0].socket_netns == 0);
    std::vector<NamespaceWireguard> two{{10, {wg("wg0", 51821)}, {}, true}, {20, {}, {}, false}};
    CHECK(place_wireguard_sockets(two).empty()); // the socket may be in the namespace not read
    CHECK(two[0].interfaces[0].socket_netns == 0);
}
