// The route index: the routes of a table that contain an address, as a scan of every route would find them.
#include <catch2/catch_test_macros.hpp>

#include <algorithm>
#include <random>

#include "config/netns_config.hpp"

using namespace wgbpf;

namespace {

Route route(const char* prefix, uint32_t table) {
    Route r;
    r.dst = *IpPrefix::parse(prefix);
    r.family = r.dst.address.family;
    r.table = table;
    return r;
}

std::vector<size_t> by_scan(const std::vector<Route>& routes, uint32_t table, const IpAddress& a) {
    std::vector<size_t> out;
    for (size_t i = 0; i < routes.size(); ++i)
        if (routes[i].table == table && routes[i].dst.contains(a)) out.push_back(i);
    return out;
}

std::vector<size_t> sorted(std::vector<size_t> v) {
    std::sort(v.begin(), v.end());
    return v;
}

} // namespace

TEST_CASE("route index: every prefix length of the table that contains the address, and nothing else") {
    NetnsConfig cfg;
    cfg.routes = {route("0.0.0.0/0", 254),   route("10.0.0.0/8", 254),     route("10.1.0.0/16", 254),
                  route("10.1.2.0/23", 254), route("10.1.2.3/32", 254),    route("10.1.2.3/32", 51820),
                  route("10.1.2.0/24", 254), route("::/0", 254),           route("fd00::/8", 254),
                  route("fd00:1::/32", 254), route("192.168.1.0/24", 254), route("10.1.2.0/24", 254)};
    const RouteIndex& index = cfg.route_index();
    CHECK(sorted(index.containing(254, *IpAddress::parse("10.1.2.3"))) == std::vector<size_t>{0, 1, 2, 3, 4, 6, 11});
    CHECK(index.containing(51820, *IpAddress::parse("10.1.2.3")) == std::vector<size_t>{5});
    CHECK(index.containing(51820, *IpAddress::parse("10.1.2.4")).empty());
    CHECK(sorted(index.containing(254, *IpAddress::parse("fd00:1::5"))) == std::vector<size_t>{7, 8, 9});
    CHECK(index.containing(254, *IpAddress::parse("fe80::1")) == std::vector<size_t>{7});
    CHECK(index.containing(7, *IpAddress::parse("10.1.2.3")).empty());
    CHECK(cfg.has_table(Family::ipv4, 51820));
    CHECK_FALSE(cfg.has_table(Family::ipv6, 51820));
    CHECK(index.has_family(Family::ipv6));
}

TEST_CASE("route index: agrees with a scan of every route on random tables and addresses") {
    std::mt19937 rng(7);
    std::vector<Route> routes;
    for (int i = 0; i < 3000; ++i) {
        IpAddress a = IpAddress::v4(rng());
        IpPrefix p{a, uint8_t(rng() % 33)};
        routes.push_back(Route{Family::ipv4, uint32_t(250 + rng() % 6), p});
    }
    NetnsConfig cfg;
    cfg.routes = routes;
    for (int i = 0; i < 3000; ++i) {
        // Half the addresses inside a route's prefix, half anywhere.
        IpAddress a = i % 2 ? IpAddress::v4(rng()) : routes[rng() % routes.size()].dst.address;
        uint32_t table = 250 + rng() % 6;
        CHECK(sorted(cfg.route_index().containing(table, a)) == by_scan(routes, table, a));
    }
}

TEST_CASE("route index: rebuilt when the routes were replaced") {
    NetnsConfig cfg;
    cfg.routes = {route("10.0.0.0/8", 254)};
    CHECK(cfg.has_table(Family::ipv4, 254));
    cfg.routes = {route("10.0.0.0/8", 100), route("10.0.0.0/9", 100)};
    CHECK_FALSE(cfg.has_table(Family::ipv4, 254));
    CHECK(cfg.route_index().containing(100, *IpAddress::parse("10.1.1.1")).size() == 2);
    NetnsConfig copy = cfg;
    copy.routes.push_back(route("10.0.0.0/10", 100));
    CHECK(copy.route_index().containing(100, *IpAddress::parse("10.1.1.1")).size() == 3);
    CHECK(cfg.route_index().containing(100, *IpAddress::parse("10.1.1.1")).size() == 2);
}

TEST_CASE("route index: follows applied changes, also when the table keeps its size") {
    NetnsConfig cfg;
    cfg.routes = {route("10.0.0.0/8", 254), route("10.1.0.0/16", 254)};
    cfg.sort_routes();
    CHECK(cfg.route_index().containing(254, *IpAddress::parse("10.1.2.3")).size() == 2);
    RouteChanges c;
    c.removed = {route("10.1.0.0/16", 254)};
    c.added = {route("192.0.2.0/24", 254)};
    REQUIRE(cfg.apply(c));
    REQUIRE(cfg.routes.size() == 2);
    CHECK(cfg.route_index().containing(254, *IpAddress::parse("10.1.2.3")).size() == 1);
    CHECK(cfg.route_index().containing(254, *IpAddress::parse("192.0.2.7")).size() == 1);
}
