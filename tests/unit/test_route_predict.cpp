#include <catch2/catch_test_macros.hpp>

#include "route_fixtures.hpp"
#include "route/route_predict.hpp"

#include <algorithm>

using namespace wgbpf;
using namespace wgbpf::test;

TEST_CASE("predicted route: the seed's endpoint with WireGuard's fwmark leaves on the LAN, decided by main after "
          "the suppress rule passed over its default route") {
    NetnsConfig cfg = seed_config();
    RouteDecision d = predict_route(output_flow(ip("203.0.113.123"), kWgMark, 17, 51820, 51820), cfg);
    CHECK(d.result == LookupResult::hit);
    CHECK(d.rule == 32766u);
    CHECK(d.table == 254u);
    CHECK(d.result_oif == "c0");
    REQUIRE(d.lookups.size() == 3); // local, main (suppressed), main again
    CHECK(d.lookups[0].result == LookupResult::miss);
    CHECK(d.lookups[1].result == LookupResult::suppressed);
}

TEST_CASE("predicted route: without the fwmark the endpoint's packets would go into the tunnel (table 51820)") {
    NetnsConfig cfg = seed_config();
    RouteDecision d = predict_route(output_flow(ip("203.0.113.123"), 0, 17, 51820, 51820), cfg);
    CHECK(d.result == LookupResult::hit);
    CHECK(d.rule == 32765u);
    CHECK(d.table == kWgTable);
    CHECK(d.result_oif == "wg0");
}

TEST_CASE("predicted route: a more specific route in main is not suppressed; no custom rules take the fast path") {
    NetnsConfig cfg = seed_config();
    RouteDecision d = predict_route(output_flow(ip("10.0.0.7"), 0), cfg);
    CHECK(d.rule == 32764u);
    CHECK(d.result_oif == "wg0");

    NetnsConfig plain = links_only();
    add_default_rules(plain, Family::ipv4);
    plain.routes = {route(254, "0.0.0.0/0", kC0, "192.168.178.1"), route(254, "192.168.178.0/24", kC0)};
    RouteDecision f = predict_route(output_flow(ip("192.168.178.9"), 0), plain);
    CHECK(f.fast_path);
    CHECK(f.result == LookupResult::hit);
    CHECK(f.result_oif == "c0");
}

TEST_CASE("predicted route: a reject rule or route ends the walk; nothing matching is no route") {
    NetnsConfig cfg = seed_config();
    cfg.routes.push_back(reject_route(254, "203.0.113.0/24", RouteType::unreachable));
    RouteDecision d = predict_route(output_flow(ip("203.0.113.123"), kWgMark), cfg);
    CHECK(d.result == LookupResult::unreachable);

    NetnsConfig none = links_only();
    add_default_rules(none, Family::ipv4);
    add_wg_quick_rules(none, Family::ipv4);
    none.routes = {route(255, "127.0.0.1/32", kLo, "", RouteType::local)};
    RouteDecision n = predict_route(output_flow(ip("198.51.100.1"), 0), none);
    CHECK(n.result != LookupResult::hit);
}

TEST_CASE("predicted route: a goto lands only on the rule with exactly its target pref; a reject rule is named") {
    NetnsConfig cfg = seed_config();
    cfg.rules.push_back(goto_rule(100, 32766)); // to main: skips wg-quick's rules
    std::sort(cfg.rules.begin(), cfg.rules.end(), [](const Rule& a, const Rule& b) { return a.pref < b.pref; });
    RouteDecision d = predict_route(output_flow(ip("198.51.100.9"), 0), cfg);
    CHECK(d.rule == 32766u);
    CHECK(d.result_oif == "c0");

    NetnsConfig unresolved = seed_config();
    unresolved.rules.push_back(goto_rule(100, 32000)); // no rule 32000: the walk goes on with the next rule
    std::sort(unresolved.rules.begin(), unresolved.rules.end(),
              [](const Rule& a, const Rule& b) { return a.pref < b.pref; });
    CHECK(predict_route(output_flow(ip("198.51.100.9"), 0), unresolved).rule == 32765u);

    NetnsConfig rejecting = seed_config();
    rejecting.rules.push_back(action_rule(50, RuleAction::prohibit));
    std::sort(rejecting.rules.begin(), rejecting.rules.end(),
              [](const Rule& a, const Rule& b) { return a.pref < b.pref; });
    RouteDecision r = predict_route(output_flow(ip("198.51.100.9"), 0), rejecting);
    CHECK(r.result == LookupResult::prohibit);
    CHECK(r.rule == 50u);
}
