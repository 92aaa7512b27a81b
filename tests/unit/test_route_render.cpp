#include <catch2/catch_test_macros.hpp>

#include "golden.hpp"
#include "render_json.hpp"
#include "render/route_render.hpp"

using namespace wgbpf;

namespace {

IpAddress ip(const char* s) { return *IpAddress::parse(s); }
IpPrefix prefix(const char* s) { return *IpPrefix::parse(s); }

// The seed's inner echo request, as attribution produces it.
RouteDecision inner_request() {
    RouteDecision d;
    d.direction = RouteDirection::output;
    d.src = ip("10.0.0.1");
    d.dst = ip("198.51.100.9");
    d.proto = 1;
    d.dport = 8 << 8; // echo request: type 8, code 0 in the flow's port union
    d.iif = "lo";
    d.netns = 4026532300u;
    d.t_ns = 1'500'000'000;
    d.lookups = {{0, 255, LookupResult::miss, {}, {}, "", ""},
                 {32764, 254, LookupResult::suppressed, prefix("0.0.0.0/0"), ip("192.168.178.1"), "c0",
                  "prefix /0 <= suppress_prefixlength 0"},
                 {32765, 51820, LookupResult::hit, prefix("0.0.0.0/0"), {}, "wg0", ""}};
    d.rule = 32765;
    d.table = 51820;
    d.result = LookupResult::hit;
    d.result_oif = "wg0";
    d.prefix = prefix("0.0.0.0/0");
    d.route_type = RouteType::unicast;
    return d;
}

RouteDecision outer_udp() {
    RouteDecision d;
    d.direction = RouteDirection::output;
    d.src = ip("192.168.178.48");
    d.dst = ip("203.0.113.123");
    d.proto = 17;
    d.sport = 51820;
    d.dport = 51820;
    d.mark = 0xca6c;
    d.iif = "lo";
    d.netns = 4026532300u;
    d.t_ns = 1'500'200'000;
    d.lookups = {{0, 255, LookupResult::miss, {}, {}, "", ""},
                 {32764, 254, LookupResult::suppressed, prefix("0.0.0.0/0"), ip("192.168.178.1"), "c0",
                  "prefix /0 <= suppress_prefixlength 0"},
                 {32766, 254, LookupResult::hit, prefix("0.0.0.0/0"), ip("192.168.178.1"), "c0", ""}};
    d.skipped = {{32765, "fwmark 0xca6c matches, and the rule says 'not fwmark 0xca6c'"}};
    d.rule = 32766;
    d.table = 254;
    d.table_name = "main";
    d.result = LookupResult::hit;
    d.result_oif = "c0";
    d.gateway = ip("192.168.178.1");
    d.prefix = prefix("0.0.0.0/0");
    d.route_type = RouteType::unicast;
    return d;
}

RouteDecision reverse_check() {
    RouteDecision d = outer_udp();
    d.direction = RouteDirection::reverse;
    d.proto = 0;
    d.sport = d.dport = 0;
    d.rx_packet = 9;
    d.t_ns = 1'522'000'000;
    return d;
}

RouteDecision local_delivery() {
    RouteDecision d;
    d.direction = RouteDirection::input;
    d.src = ip("203.0.113.123");
    d.dst = ip("192.168.178.48");
    d.mark = 0xca6c;
    d.iif = "c0";
    d.netns = 4026532300u;
    d.t_ns = 1'521'900'000;
    d.lookups = {{0, 255, LookupResult::hit, prefix("192.168.178.48/32"), {}, "c0", ""}};
    d.rule = 0;
    d.table = 255;
    d.table_name = "local";
    d.result = LookupResult::hit;
    d.result_oif = "c0";
    d.prefix = prefix("192.168.178.48/32");
    d.route_type = RouteType::local;
    return d;
}

RouteDecision unreachable_incomplete() {
    RouteDecision d;
    d.family = Family::ipv6;
    d.src = ip("fd10::1");
    d.dst = ip("2001:db8::9");
    d.proto = 58;
    d.netns = 4026532300u;
    d.t_ns = 2'000'000'000;
    d.lookups = {{0, 255, LookupResult::miss, {}, {}, "", ""}, {200, 300, LookupResult::unreachable, {}, {}, "", ""}};
    d.rule = 200;
    d.table = 300;
    d.result = LookupResult::unreachable;
    d.complete = false;
    d.notes = {"ruleset snapshot does not explain lookup of table 300"};
    return d;
}

std::string render_all(bool json) {
    std::string out;
    for (const RouteDecision& d :
         {inner_request(), outer_udp(), local_delivery(), reverse_check(), unreachable_incomplete()})
        out +=
            json ? json_text([&](JsonWriter& w) { write_route_json(w, d); }) + "\n" : render_route_text(d, TextStyle{});
    return out;
}

} // namespace

TEST_CASE("route decisions render as text (golden)") { check_golden("route_decisions.txt", render_all(false)); }

TEST_CASE("route decisions render as JSON lines (golden)") { check_golden("route_decisions.jsonl", render_all(true)); }

TEST_CASE("JSON route objects carry the contract's fields") {
    auto j = route_to_json(outer_udp());
    CHECK(j["kind"] == "route");
    CHECK(j["direction"] == "output");
    CHECK(j["family"] == "ipv4");
    CHECK(j["mark"] == 51820);
    CHECK(j["rule"] == 32766);
    CHECK(j["table"] == 254);
    CHECK(j["table_name"] == "main");
    CHECK(j["oif"] == "c0");
    CHECK(j["gateway"] == "192.168.178.1");
    CHECK(j["prefix"] == "0.0.0.0/0");
    CHECK(j["sport"] == 51820);
    REQUIRE(j["lookups"].size() == 3);
    CHECK(j["lookups"][1]["result"] == "suppressed");
    CHECK(j["skipped"][0]["rule"] == 32765);
    CHECK(route_to_json(reverse_check())["direction"] == "reverse");
    CHECK_FALSE(route_to_json(reverse_check()).contains("proto")); // unknown: not dissected by the kernel
    auto icmp = route_to_json(inner_request());
    CHECK(icmp["icmp_type"] == 8);
    CHECK(icmp["icmp_code"] == 0);
    CHECK_FALSE(icmp.contains("dport"));
}

TEST_CASE("colour is only used when asked") {
    auto plain = render_route_text(outer_udp(), TextStyle{false, 0});
    auto coloured = render_route_text(outer_udp(), TextStyle{true, 0});
    CHECK(plain.find('\033') == std::string::npos);
    CHECK(coloured.find('\033') != std::string::npos);
}
