#include <catch2/catch_test_macros.hpp>
#include <catch2/generators/catch_generators.hpp>

#include <algorithm>

#include "route_fixtures.hpp"
#include "route/rule_attribution.hpp"

using namespace wgbpf;
using namespace wgbpf::test;

namespace {

bool has_note(const RouteDecision& d, std::string_view text) {
    return std::any_of(d.notes.begin(), d.notes.end(),
                       [&](const std::string& n) { return n.find(text) != std::string::npos; });
}

// walk_is_complete for every proper prefix of the walk (must be false), then for the whole walk.
void require_complete_only_at_end(const std::vector<RouteLookup>& walk, const NetnsConfig& cfg) {
    for (size_t n = 1; n < walk.size(); ++n) {
        std::vector<RouteLookup> prefix(walk.begin(), walk.begin() + ptrdiff_t(n));
        INFO("after " << n << " lookups");
        CHECK_FALSE(walk_is_complete(prefix, cfg));
    }
    CHECK(walk_is_complete(walk, cfg));
}

// A config with the default rules plus `extra`, and main: default via c0, 192.168.178.0/24 dev c0.
NetnsConfig lan_config(std::vector<Rule> extra = {}) {
    NetnsConfig cfg = links_only();
    add_default_rules(cfg, Family::ipv4);
    for (Rule& r : extra) cfg.rules.push_back(r);
    cfg.routes = {
        route(254, "0.0.0.0/0", kC0, "192.168.178.1"),
        route(254, "192.168.178.0/24", kC0),
        route(255, "192.168.178.48/32", kC0, "", RouteType::local),
    };
    return cfg;
}

} // namespace

// ---- the seed scenario: a wg-quick client pinging through the tunnel

TEST_CASE("seed: the inner echo request goes to wg0 by rule 32765", "[route][seed]") {
    NetnsConfig cfg = seed_config();
    Flow echo = output_flow("0.0.0.0", "198.51.100.9");
    std::vector<RouteLookup> walk = {echo.miss(255), echo.hit(254, kC0, "192.168.178.1"), echo.hit(kWgTable, kWg0)};

    RouteDecision d = attribute_walk(walk, cfg);

    REQUIRE(d.lookups.size() == 3);
    CHECK(d.lookups[0].rule == 0);
    CHECK(d.lookups[0].table == 255);
    CHECK(d.lookups[0].result == LookupResult::miss);
    CHECK(d.lookups[1].rule == 32764);
    CHECK(d.lookups[1].table == 254);
    CHECK(d.lookups[1].result == LookupResult::suppressed);
    CHECK(d.lookups[1].prefix == net("0.0.0.0/0"));
    CHECK(d.lookups[1].oif == "c0");
    CHECK(d.lookups[1].gateway == ip("192.168.178.1"));
    CHECK(d.lookups[1].why == "prefix /0 <= suppress_prefixlength 0");
    CHECK(d.lookups[2].rule == 32765);
    CHECK(d.lookups[2].table == kWgTable);
    CHECK(d.lookups[2].result == LookupResult::hit);
    CHECK(d.lookups[2].oif == "wg0");
    CHECK(d.skipped.empty());

    CHECK(d.rule == 32765u);
    CHECK(d.table == kWgTable);
    CHECK(d.result == LookupResult::hit);
    CHECK(d.result_oif == "wg0");
    CHECK(d.prefix == net("0.0.0.0/0"));
    CHECK(d.route_type == RouteType::unicast);
    CHECK_FALSE(d.gateway);
    CHECK(d.complete);
    CHECK_FALSE(d.fast_path);
    CHECK_FALSE(d.exact);
    CHECK(d.notes.empty());

    CHECK(d.direction == RouteDirection::output);
    CHECK(d.dst == ip("198.51.100.9"));
    CHECK(d.iif == "lo");
    CHECK(d.oif.empty());
    require_complete_only_at_end(walk, cfg);
}

TEST_CASE("seed: the marked outer UDP packet skips 32765 and leaves by main", "[route][seed]") {
    NetnsConfig cfg = seed_config();
    Flow udp = output_flow("0.0.0.0", "203.0.113.123", kWgMark);
    std::vector<RouteLookup> walk = {udp.miss(255), udp.hit(254, kC0, "192.168.178.1"),
                                     udp.hit(254, kC0, "192.168.178.1")};

    RouteDecision d = attribute_walk(walk, cfg);

    REQUIRE(d.lookups.size() == 3);
    CHECK(d.lookups[0].rule == 0);
    CHECK(d.lookups[0].result == LookupResult::miss);
    CHECK(d.lookups[1].rule == 32764);
    CHECK(d.lookups[1].result == LookupResult::suppressed);
    CHECK(d.lookups[2].rule == 32766);
    CHECK(d.lookups[2].table == 254);
    CHECK(d.lookups[2].result == LookupResult::hit);
    REQUIRE(d.skipped.size() == 1);
    CHECK(d.skipped[0].rule == 32765);
    CHECK(d.skipped[0].why == "fwmark 0xca6c matches, and the rule says 'not fwmark 0xca6c'");

    CHECK(d.rule == 32766u);
    CHECK(d.table == 254u);
    CHECK(d.table_name == "main");
    CHECK(d.result == LookupResult::hit);
    CHECK(d.result_oif == "c0");
    CHECK(d.gateway == ip("192.168.178.1"));
    CHECK(d.prefix == net("0.0.0.0/0"));
    CHECK(d.mark == kWgMark);
    CHECK(d.complete);
    CHECK(d.notes.empty());
    require_complete_only_at_end(walk, cfg);
}

TEST_CASE("seed: the outer reply is delivered locally by rule 0", "[route][seed]") {
    NetnsConfig cfg = seed_config();
    Flow reply = input_flow("203.0.113.123", "192.168.178.48", kC0, kWgMark);
    std::vector<RouteLookup> walk = {reply.hit(255, kC0)};

    RouteDecision d = attribute_walk(walk, cfg);

    REQUIRE(d.lookups.size() == 1);
    CHECK(d.lookups[0].result == LookupResult::hit);
    CHECK(d.rule == 0u);
    CHECK(d.table == 255u);
    CHECK(d.table_name == "local");
    CHECK(d.result == LookupResult::hit);
    CHECK(d.route_type == RouteType::local);
    CHECK(d.prefix == net("192.168.178.48/32"));
    CHECK(d.result_oif == "c0");
    CHECK(d.iif == "c0");
    CHECK(d.direction == RouteDirection::input);
    CHECK(d.complete);
    CHECK(walk_is_complete(walk, cfg));
}

TEST_CASE("seed: the reply's reverse-path check finds c0 by rule 32766", "[route][seed]") {
    NetnsConfig cfg = seed_config();
    Flow rpf = reverse_flow("192.168.178.48", "203.0.113.123", kWgMark);
    std::vector<RouteLookup> walk = {rpf.miss(255), rpf.hit(254, kC0, "192.168.178.1"),
                                     rpf.hit(254, kC0, "192.168.178.1")};

    RouteDecision d = attribute_walk(walk, cfg);

    REQUIRE(d.lookups.size() == 3);
    CHECK(d.lookups[1].rule == 32764);
    CHECK(d.lookups[1].result == LookupResult::suppressed);
    CHECK(d.lookups[2].rule == 32766);
    CHECK(d.rule == 32766u);
    CHECK(d.result_oif == "c0");
    CHECK(d.direction == RouteDirection::reverse);
    REQUIRE(d.skipped.size() == 1);
    CHECK(d.skipped[0].rule == 32765);
    require_complete_only_at_end(walk, cfg);
}

TEST_CASE("seed: a LAN destination is not suppressed, rule 32764 decides", "[route][suppress]") {
    NetnsConfig cfg = seed_config();
    Flow lan = output_flow("0.0.0.0", "192.168.178.7");
    std::vector<RouteLookup> walk = {lan.miss(255), lan.hit(254, kC0)};

    RouteDecision d = attribute_walk(walk, cfg);

    REQUIRE(d.lookups.size() == 2);
    CHECK(d.lookups[1].result == LookupResult::hit);
    CHECK(d.lookups[1].prefix == net("192.168.178.0/24"));
    CHECK(d.rule == 32764u);
    CHECK(d.prefix == net("192.168.178.0/24"));
    CHECK(d.result_oif == "c0");
    CHECK(d.complete);
    require_complete_only_at_end(walk, cfg);
}

TEST_CASE("the snapshot route follows the observed device", "[route][suppress]") {
    // Two routes contain the destination: the /24 via c0 and the default via c0, plus a /16 on wg0 that the
    // kernel did not pick (the hit says c0), so the suppression is judged on the /24.
    NetnsConfig cfg = seed_config();
    cfg.routes.push_back(route(254, "192.168.0.0/16", kWg0));
    Flow lan = output_flow("0.0.0.0", "192.168.178.7");
    RouteDecision d = attribute_walk({lan.miss(255), lan.hit(254, kC0)}, cfg);
    CHECK(d.prefix == net("192.168.178.0/24"));
    CHECK(d.rule == 32764u);
}

// ---- selectors

TEST_CASE("fwmark without a mask", "[route][selector]") {
    Rule marked = lookup_rule(100, 100);
    marked.fwmark = 0x1;
    NetnsConfig cfg = lan_config({marked});
    cfg.routes.push_back(route(100, "0.0.0.0/0", kWg0));

    SECTION("the mark differs") {
        Flow f = output_flow("0.0.0.0", "9.9.9.9", 0x0);
        RouteDecision d = attribute_walk({f.miss(255), f.hit(254, kC0, "192.168.178.1")}, cfg);
        REQUIRE(d.skipped.size() == 1);
        CHECK(d.skipped[0].rule == 100);
        CHECK(d.skipped[0].why == "mark 0x0 is not fwmark 0x1");
        CHECK(d.rule == 32766u);
    }
    SECTION("the mark is equal") {
        Flow f = output_flow("0.0.0.0", "9.9.9.9", 0x1);
        RouteDecision d = attribute_walk({f.miss(255), f.hit(100, kWg0)}, cfg);
        CHECK(d.skipped.empty());
        CHECK(d.rule == 100u);
        CHECK(d.result_oif == "wg0");
    }
}

TEST_CASE("fwmark with a mask compares only the masked bits", "[route][selector]") {
    Rule masked = lookup_rule(100, 100);
    masked.fwmark = 0x100;
    masked.fwmask = 0xff00;
    NetnsConfig cfg = lan_config({masked});
    cfg.routes.push_back(route(100, "0.0.0.0/0", kWg0));

    Flow in_mask = output_flow("0.0.0.0", "9.9.9.9", 0x1ff);
    CHECK(attribute_walk({in_mask.miss(255), in_mask.hit(100, kWg0)}, cfg).rule == 100u);

    Flow other = output_flow("0.0.0.0", "9.9.9.9", 0x200);
    RouteDecision d = attribute_walk({other.miss(255), other.hit(254, kC0, "192.168.178.1")}, cfg);
    REQUIRE(d.skipped.size() == 1);
    CHECK(d.skipped[0].why == "mark 0x200 & 0xff00 is not fwmark 0x100/0xff00");
    CHECK(d.rule == 32766u);
}

TEST_CASE("'not' inverts the selectors", "[route][selector]") {
    Rule not_private = lookup_rule(100, 100);
    not_private.invert = true;
    not_private.to = net("10.0.0.0/8");
    NetnsConfig cfg = lan_config({not_private});
    cfg.routes.push_back(route(100, "0.0.0.0/0", kWg0));

    Flow inside = output_flow("0.0.0.0", "10.1.1.1");
    RouteDecision d = attribute_walk({inside.miss(255), inside.hit(254, kC0, "192.168.178.1")}, cfg);
    REQUIRE(d.skipped.size() == 1);
    CHECK(d.skipped[0].why == "to 10.0.0.0/8 matches, and the rule says 'not to 10.0.0.0/8'");
    CHECK(d.rule == 32766u);

    Flow outside = output_flow("0.0.0.0", "9.9.9.9");
    CHECK(attribute_walk({outside.miss(255), outside.hit(100, kWg0)}, cfg).rule == 100u);
}

TEST_CASE("iif selectors: locally generated flows come from lo", "[route][selector]") {
    Rule from_eth1 = lookup_rule(100, 100);
    from_eth1.iif = "eth1";
    Rule from_lo = lookup_rule(200, 200);
    from_lo.iif = "lo";
    NetnsConfig cfg = lan_config({from_eth1, from_lo});
    cfg.links.push_back({7, "eth1", 0});
    cfg.routes.push_back(route(100, "0.0.0.0/0", kWg0));
    cfg.routes.push_back(route(200, "0.0.0.0/0", kC0, "192.168.178.254"));

    SECTION("output: iif lo") {
        Flow f = output_flow("0.0.0.0", "9.9.9.9");
        RouteDecision d = attribute_walk({f.miss(255), f.hit(200, kC0, "192.168.178.254")}, cfg);
        REQUIRE(d.skipped.size() == 1);
        CHECK(d.skipped[0].rule == 100);
        CHECK(d.skipped[0].why == "iif lo (locally generated) is not eth1");
        CHECK(d.rule == 200u);
        CHECK(d.gateway == ip("192.168.178.254"));
    }
    SECTION("input from eth1") {
        Flow f = input_flow("10.9.9.9", "9.9.9.9", 7);
        RouteDecision d = attribute_walk({f.miss(255), f.hit(100, kWg0)}, cfg);
        CHECK(d.skipped.empty());
        CHECK(d.rule == 100u);
        CHECK(d.iif == "eth1");
    }
    SECTION("input from c0 matches neither") {
        Flow f = input_flow("10.9.9.9", "9.9.9.9", kC0);
        RouteDecision d = attribute_walk({f.miss(255), f.hit(254, kC0, "192.168.178.1")}, cfg);
        REQUIRE(d.skipped.size() == 2);
        CHECK(d.skipped[0].why == "iif c0 is not eth1");
        CHECK(d.skipped[1].why == "iif c0 is not lo");
        CHECK(d.rule == 32766u);
    }
    SECTION("a device that does not exist never matches") {
        cfg.rules[3].iif = "nosuch";
        Flow f = input_flow("10.9.9.9", "9.9.9.9", 7);
        RouteDecision d = attribute_walk({f.miss(255), f.hit(254, kC0, "192.168.178.1")}, cfg);
        REQUIRE(d.skipped.size() == 2);
        CHECK(d.skipped[0].why == "iif nosuch does not exist");
    }
}

TEST_CASE("oif selectors", "[route][selector]") {
    Rule via_wg = lookup_rule(100, 100);
    via_wg.oif = "wg0";
    NetnsConfig cfg = lan_config({via_wg});
    cfg.routes.push_back(route(100, "0.0.0.0/0", kWg0));

    Flow unbound = output_flow("0.0.0.0", "9.9.9.9");
    RouteDecision d = attribute_walk({unbound.miss(255), unbound.hit(254, kC0, "192.168.178.1")}, cfg);
    REQUIRE(d.skipped.size() == 1);
    CHECK(d.skipped[0].why == "the flow asks for no oif, the rule needs oif wg0");

    Flow bound = output_flow("0.0.0.0", "9.9.9.9");
    bound.base.oif = kWg0;
    RouteDecision b = attribute_walk({bound.miss(255), bound.hit(100, kWg0)}, cfg);
    CHECK(b.rule == 100u);
    CHECK(b.oif == "wg0");

    Flow elsewhere = output_flow("0.0.0.0", "9.9.9.9");
    elsewhere.base.oif = kC0;
    RouteDecision e = attribute_walk({elsewhere.miss(255), elsewhere.hit(254, kC0, "192.168.178.1")}, cfg);
    REQUIRE(e.skipped.size() == 1);
    CHECK(e.skipped[0].why == "oif c0 is not wg0");
}

TEST_CASE("from and to selectors", "[route][selector]") {
    Rule to_office = lookup_rule(100, 100);
    to_office.to = net("10.1.0.0/16");
    Rule from_lan = lookup_rule(200, 200);
    from_lan.from = net("192.168.178.0/24");
    NetnsConfig cfg = lan_config({to_office, from_lan});
    cfg.routes.push_back(route(100, "0.0.0.0/0", kWg0));
    cfg.routes.push_back(route(200, "0.0.0.0/0", kC0, "192.168.178.2"));

    Flow f = output_flow("192.168.178.48", "9.9.9.9");
    RouteDecision d = attribute_walk({f.miss(255), f.hit(200, kC0, "192.168.178.2")}, cfg);
    REQUIRE(d.skipped.size() == 1);
    CHECK(d.skipped[0].why == "to 10.1.0.0/16 does not contain 9.9.9.9");
    CHECK(d.rule == 200u);

    Flow no_source = output_flow("0.0.0.0", "9.9.9.9");
    RouteDecision n = attribute_walk({no_source.miss(255), no_source.hit(254, kC0, "192.168.178.1")}, cfg);
    REQUIRE(n.skipped.size() == 2);
    CHECK(n.skipped[1].why == "from 192.168.178.0/24 does not contain 0.0.0.0");
    CHECK(n.rule == 32766u);
}

TEST_CASE("uidrange, ipproto and port selectors", "[route][selector]") {
    Rule users = lookup_rule(100, 100);
    users.uid_range = std::pair<uint32_t, uint32_t>{1000, 1999};
    Rule dns = lookup_rule(200, 100);
    dns.ip_proto = 17;
    dns.dport = PortRange{53, 53};
    NetnsConfig cfg = lan_config({users, dns});
    cfg.routes.push_back(route(100, "0.0.0.0/0", kWg0));

    Flow root_dns = output_flow("0.0.0.0", "9.9.9.9");
    root_dns.base.proto = 17;
    root_dns.base.dport = 53;
    RouteDecision d = attribute_walk({root_dns.miss(255), root_dns.hit(100, kWg0)}, cfg);
    REQUIRE(d.skipped.size() == 1);
    CHECK(d.skipped[0].why == "uid 0 is not in uidrange 1000-1999");
    CHECK(d.rule == 200u);

    Flow tcp = root_dns;
    tcp.base.proto = 6;
    RouteDecision t = attribute_walk({tcp.miss(255), tcp.hit(254, kC0, "192.168.178.1")}, cfg);
    REQUIRE(t.skipped.size() == 2);
    CHECK(t.skipped[1].why == "ipproto tcp is not udp");

    Flow other_port = root_dns;
    other_port.base.dport = 853;
    RouteDecision p = attribute_walk({other_port.miss(255), other_port.hit(254, kC0, "192.168.178.1")}, cfg);
    REQUIRE(p.skipped.size() == 2);
    CHECK(p.skipped[1].why == "dport 853 is not 53");

    Flow user = output_flow("0.0.0.0", "9.9.9.9");
    user.base.uid = 1000;
    CHECK(attribute_walk({user.miss(255), user.hit(100, kWg0)}, cfg).rule == 100u);
}

TEST_CASE("tos selectors compare the flow's dscp", "[route][selector]") {
    Rule expedited = lookup_rule(100, 100);
    expedited.tos = 46 << 2; // dscp EF
    NetnsConfig cfg = lan_config({expedited});
    cfg.routes.push_back(route(100, "0.0.0.0/0", kWg0));

    Flow plain = output_flow("0.0.0.0", "9.9.9.9");
    RouteDecision d = attribute_walk({plain.miss(255), plain.hit(254, kC0, "192.168.178.1")}, cfg);
    REQUIRE(d.skipped.size() == 1);
    CHECK(d.skipped[0].why == "dscp 0 is not tos 0xb8");

    Flow ef = plain;
    ef.base.dscp = 46;
    CHECK(attribute_walk({ef.miss(255), ef.hit(100, kWg0)}, cfg).rule == 100u);
}

TEST_CASE("l3mdev rules are not evaluated, but may explain a VRF table's lookup", "[route][selector]") {
    Rule vrf = lookup_rule(1000, 0);
    vrf.l3mdev = true;
    NetnsConfig cfg = lan_config({vrf});
    cfg.routes.push_back(route(10, "0.0.0.0/0", kWg0));

    Flow plain = output_flow("0.0.0.0", "9.9.9.9");
    RouteDecision d = attribute_walk({plain.miss(255), plain.hit(254, kC0, "192.168.178.1")}, cfg);
    REQUIRE(d.skipped.size() == 1);
    CHECK(d.skipped[0].rule == 1000);
    CHECK(d.skipped[0].why.starts_with("l3mdev (VRF) rules are not evaluated"));
    CHECK(d.rule == 32766u);

    Flow enslaved = input_flow("10.9.9.9", "9.9.9.9", kWg0);
    RouteDecision v = attribute_walk({enslaved.miss(255), enslaved.hit(10, kWg0)}, cfg);
    CHECK(v.rule == 1000u);
    CHECK(v.table == 10u);
    CHECK(has_note(v, "rule 1000 does not match this flow per the snapshot"));
    CHECK(unexplained_lookups({enslaved.miss(255), enslaved.hit(10, kWg0)}, cfg) == 0);
}

// ---- actions

TEST_CASE("goto jumps over rules and the target must match too", "[route][action]") {
    Rule jump = goto_rule(100, 200);
    jump.fwmark = 0x1;
    NetnsConfig cfg = lan_config({jump, lookup_rule(150, 150), lookup_rule(200, 200)});
    cfg.routes.push_back(route(150, "0.0.0.0/0", kWg0));
    cfg.routes.push_back(route(200, "0.0.0.0/0", kC0, "192.168.178.2"));

    Flow marked = output_flow("0.0.0.0", "9.9.9.9", 0x1);
    std::vector<RouteLookup> walk = {marked.miss(255), marked.hit(200, kC0, "192.168.178.2")};
    RouteDecision d = attribute_walk(walk, cfg);
    REQUIRE(d.skipped.size() == 2);
    CHECK(d.skipped[0].rule == 100);
    CHECK(d.skipped[0].why == "goto 200: jumped");
    CHECK(d.skipped[1].rule == 150);
    CHECK(d.skipped[1].why == "jumped over by rule 100 (goto 200)");
    CHECK(d.rule == 200u);
    CHECK(d.complete);
    require_complete_only_at_end(walk, cfg);

    Flow unmarked = output_flow("0.0.0.0", "9.9.9.9");
    RouteDecision u = attribute_walk({unmarked.miss(255), unmarked.hit(150, kWg0)}, cfg);
    CHECK(u.rule == 150u);
    REQUIRE(u.skipped.size() == 1);
    CHECK(u.skipped[0].why == "mark 0x0 is not fwmark 0x1");
}

TEST_CASE("goto to a missing pref does nothing", "[route][action]") {
    NetnsConfig cfg = lan_config({goto_rule(100, 250), lookup_rule(150, 150)});
    cfg.routes.push_back(route(150, "0.0.0.0/0", kWg0));
    Flow f = output_flow("0.0.0.0", "9.9.9.9");
    RouteDecision d = attribute_walk({f.miss(255), f.hit(150, kWg0)}, cfg);
    REQUIRE(d.skipped.size() == 1);
    CHECK(d.skipped[0].rule == 100);
    CHECK(d.skipped[0].why == "goto 250: no rule with that pref, so the rule does nothing");
    CHECK(d.rule == 150u);
}

TEST_CASE("nop rules are passed over", "[route][action]") {
    NetnsConfig cfg = lan_config({action_rule(100, RuleAction::nop)});
    Flow f = output_flow("0.0.0.0", "9.9.9.9");
    RouteDecision d = attribute_walk({f.miss(255), f.hit(254, kC0, "192.168.178.1")}, cfg);
    REQUIRE(d.skipped.size() == 1);
    CHECK(d.skipped[0].rule == 100);
    CHECK(d.skipped[0].why == "nop");
    CHECK(d.rule == 32766u);
}

TEST_CASE("unreachable, prohibit and blackhole rules end the walk without a lookup", "[route][action]") {
    auto [action, name] = GENERATE(table<RuleAction, std::string>({
        {RuleAction::unreachable, "unreachable"},
        {RuleAction::prohibit, "prohibit"},
        {RuleAction::blackhole, "blackhole"},
    }));
    Rule reject = action_rule(100, action);
    reject.to = net("10.9.0.0/16");
    NetnsConfig cfg = lan_config({reject});

    Flow f = output_flow("0.0.0.0", "10.9.1.1");
    std::vector<RouteLookup> walk = {f.miss(255)};
    RouteDecision d = attribute_walk(walk, cfg);
    CHECK(d.rule == 100u);
    CHECK_FALSE(d.table);
    CHECK(name_of(d.result) == name);
    CHECK(d.complete);
    CHECK(d.lookups.size() == 1);
    CHECK(walk_is_complete(walk, cfg));

    // Other destinations pass it by.
    Flow other = output_flow("0.0.0.0", "9.9.9.9");
    CHECK(attribute_walk({other.miss(255), other.hit(254, kC0, "192.168.178.1")}, cfg).rule == 32766u);
}

TEST_CASE("reject routes in a table decide the walk", "[route][reject]") {
    auto [type, err, name] = GENERATE(table<RouteType, int, std::string>({
        {RouteType::unreachable, kUnreachable, "unreachable"},
        {RouteType::prohibit, kProhibit, "prohibit"},
        {RouteType::blackhole, kBlackhole, "blackhole"},
    }));
    NetnsConfig cfg = lan_config();
    cfg.routes.push_back(reject_route(254, "10.66.0.0/16", type));

    Flow f = output_flow("0.0.0.0", "10.66.1.1");
    std::vector<RouteLookup> walk = {f.miss(255), f.reject(254, err)};
    RouteDecision d = attribute_walk(walk, cfg);
    REQUIRE(d.lookups.size() == 2);
    CHECK(name_of(d.lookups[1].result) == name);
    CHECK(d.lookups[1].prefix == net("10.66.0.0/16"));
    CHECK(d.rule == 32766u);
    CHECK(d.table == 254u);
    CHECK(name_of(d.result) == name);
    CHECK(d.route_type == type);
    CHECK(d.prefix == net("10.66.0.0/16"));
    CHECK(d.complete);
    require_complete_only_at_end(walk, cfg);
}

TEST_CASE("a throw route sends the walk back to the rules", "[route][reject]") {
    NetnsConfig cfg = lan_config({lookup_rule(100, 100)});
    cfg.routes.push_back(route(100, "0.0.0.0/0", kWg0));
    cfg.routes.push_back(reject_route(100, "192.168.0.0/16", RouteType::throw_));
    Flow f = output_flow("0.0.0.0", "192.168.178.7");
    RouteDecision d = attribute_walk({f.miss(255), f.miss(100), f.hit(254, kC0)}, cfg);
    REQUIRE(d.lookups.size() == 3);
    CHECK(d.lookups[1].result == LookupResult::throw_);
    CHECK(d.lookups[1].prefix == net("192.168.0.0/16"));
    CHECK(d.rule == 32766u);
    CHECK(d.prefix == net("192.168.178.0/24"));
}

TEST_CASE("no route: every table misses", "[route][reject]") {
    NetnsConfig cfg = lan_config();
    cfg.routes.erase(cfg.routes.begin()); // no default route
    Flow f = output_flow("0.0.0.0", "9.9.9.9");
    std::vector<RouteLookup> walk = {f.miss(255), f.miss(254)};
    RouteDecision d = attribute_walk(walk, cfg);
    CHECK(d.result == LookupResult::no_route);
    CHECK_FALSE(d.rule);
    CHECK_FALSE(d.table);
    REQUIRE(d.skipped.size() == 1);
    CHECK(d.skipped[0].rule == 32767);
    CHECK(d.skipped[0].why == "table 253 does not exist (no lookup)");
    CHECK(d.complete);
    require_complete_only_at_end(walk, cfg);
}

// ---- tables

TEST_CASE("a rule whose table does not exist causes no lookup", "[route][table]") {
    NetnsConfig cfg = lan_config({lookup_rule(100, 100)});
    Flow f = output_flow("0.0.0.0", "9.9.9.9");
    std::vector<RouteLookup> walk = {f.miss(255), f.hit(254, kC0, "192.168.178.1")};
    RouteDecision d = attribute_walk(walk, cfg);
    REQUIRE(d.skipped.size() == 1);
    CHECK(d.skipped[0].rule == 100);
    CHECK(d.skipped[0].why == "table 100 does not exist (no lookup)");
    CHECK(d.rule == 32766u);
    CHECK(d.notes.empty());
    require_complete_only_at_end(walk, cfg);
}

TEST_CASE("an existing but empty table shows as a miss", "[route][table]") {
    NetnsConfig cfg = lan_config({lookup_rule(100, 100)}); // no routes in 100, yet the kernel has the table
    Flow f = output_flow("0.0.0.0", "9.9.9.9");
    RouteDecision d = attribute_walk({f.miss(255), f.miss(100), f.hit(254, kC0, "192.168.178.1")}, cfg);
    REQUIRE(d.lookups.size() == 3);
    CHECK(d.lookups[1].rule == 100);
    CHECK(d.lookups[1].result == LookupResult::miss);
    CHECK(d.skipped.empty());
    CHECK(d.rule == 32766u);
}

TEST_CASE("a table with routes that the kernel did not look up is noted", "[route][table]") {
    NetnsConfig cfg = lan_config({lookup_rule(100, 100)});
    cfg.routes.push_back(route(100, "10.0.0.0/8", kWg0)); // deleted since the snapshot, say
    Flow f = output_flow("0.0.0.0", "9.9.9.9");
    RouteDecision d = attribute_walk({f.miss(255), f.hit(254, kC0, "192.168.178.1")}, cfg);
    REQUIRE(d.skipped.size() == 1);
    CHECK(d.skipped[0].why == "no lookup of table 100 was seen (the kernel's walk went on: this rule did not decide)");
    CHECK(has_note(d, "the snapshot has routes in table 100"));
    CHECK(d.rule == 32766u);
}

// ---- fast path

TEST_CASE("fast path: no custom rules, one lookup in main", "[route][fastpath]") {
    NetnsConfig cfg = lan_config();

    SECTION("a remote destination") {
        Flow f = output_flow("0.0.0.0", "9.9.9.9");
        std::vector<RouteLookup> walk = {f.hit(254, kC0, "192.168.178.1")};
        RouteDecision d = attribute_walk(walk, cfg);
        CHECK(d.fast_path);
        CHECK_FALSE(d.rule);
        CHECK(d.table == 254u);
        CHECK(d.table_name == "main");
        CHECK(d.result == LookupResult::hit);
        CHECK(d.prefix == net("0.0.0.0/0"));
        REQUIRE(d.lookups.size() == 1);
        CHECK(d.lookups[0].table == 254);
        CHECK(d.complete);
        CHECK(d.notes.empty());
        CHECK(walk_is_complete(walk, cfg));
    }
    SECTION("local delivery: local routes are merged into main") {
        Flow f = input_flow("192.168.178.7", "192.168.178.48", kC0);
        RouteDecision d = attribute_walk({f.hit(254, kC0)}, cfg);
        CHECK(d.fast_path);
        CHECK(d.route_type == RouteType::local);
        CHECK(d.prefix == net("192.168.178.48/32"));
    }
    SECTION("a miss without a default table") {
        cfg.routes.erase(cfg.routes.begin());
        Flow f = output_flow("0.0.0.0", "9.9.9.9");
        std::vector<RouteLookup> walk = {f.miss(254)};
        RouteDecision d = attribute_walk(walk, cfg);
        CHECK(d.fast_path);
        CHECK(d.result == LookupResult::no_route);
        CHECK(d.complete);
        CHECK(walk_is_complete(walk, cfg));
    }
    SECTION("a miss goes on to the default table when it exists") {
        cfg.routes.erase(cfg.routes.begin());
        cfg.routes.push_back(route(253, "0.0.0.0/0", kWg0));
        Flow f = output_flow("0.0.0.0", "9.9.9.9");
        std::vector<RouteLookup> walk = {f.miss(254), f.hit(253, kWg0)};
        RouteDecision d = attribute_walk(walk, cfg);
        CHECK(d.fast_path);
        CHECK(d.table == 253u);
        CHECK(d.table_name == "default");
        CHECK(d.result_oif == "wg0");
        REQUIRE(d.lookups.size() == 2);
        require_complete_only_at_end(walk, cfg);
    }
    SECTION("no rules in the snapshot at all") {
        cfg.rules.clear();
        Flow f = output_flow("0.0.0.0", "9.9.9.9");
        RouteDecision d = attribute_walk({f.hit(254, kC0, "192.168.178.1")}, cfg);
        CHECK(d.fast_path);
        CHECK(d.result == LookupResult::hit);
        CHECK(has_note(d, "assumed the kernel's default rules"));
    }
}

TEST_CASE("custom rules: the walk starts with local, not the fast path", "[route][fastpath]") {
    NetnsConfig cfg = seed_config();
    Flow f = output_flow("0.0.0.0", "192.168.178.7");
    RouteDecision d = attribute_walk({f.miss(255), f.hit(254, kC0)}, cfg);
    CHECK_FALSE(d.fast_path);
    CHECK(d.rule == 32764u);
}

// ---- IPv6

TEST_CASE("IPv6: wg-quick -6 sends the inner packet to wg0", "[route][ipv6]") {
    NetnsConfig cfg = seed_config_v6();
    // fib6_table_lookup reports a table without a route as unreachable; a normalising probe may say -EAGAIN.
    int miss = GENERATE(kUnreachable, kMiss);
    Flow echo = output_flow("::", "2001:db8:99::9");
    std::vector<RouteLookup> walk = {echo.reject(255, miss), echo.hit(254, kC0, "fe80::1"), echo.hit(kWgTable, kWg0)};

    RouteDecision d = attribute_walk(walk, cfg);

    CHECK(d.family == Family::ipv6);
    CHECK_FALSE(d.fast_path);
    REQUIRE(d.lookups.size() == 3);
    CHECK(d.lookups[0].result == LookupResult::miss);
    CHECK(d.lookups[1].rule == 32764);
    CHECK(d.lookups[1].result == LookupResult::suppressed);
    CHECK(d.lookups[1].prefix == net("::/0"));
    CHECK(d.lookups[1].gateway == ip("fe80::1"));
    CHECK(d.lookups[1].why == "prefix /0 <= suppress_prefixlength 0");
    CHECK(d.rule == 32765u);
    CHECK(d.result_oif == "wg0");
    CHECK(d.prefix == net("::/0"));
    CHECK(d.complete);
    require_complete_only_at_end(walk, cfg);
}

TEST_CASE("IPv6: the marked outer packet leaves by main", "[route][ipv6]") {
    NetnsConfig cfg = seed_config_v6();
    Flow udp = output_flow("::", "2001:db8:ffff::123", kWgMark);
    std::vector<RouteLookup> walk = {udp.reject(255, kUnreachable), udp.hit(254, kC0, "fe80::1"),
                                     udp.hit(254, kC0, "fe80::1")};
    RouteDecision d = attribute_walk(walk, cfg);
    CHECK(d.rule == 32766u);
    CHECK(d.result_oif == "c0");
    REQUIRE(d.skipped.size() == 1);
    CHECK(d.skipped[0].rule == 32765);
    require_complete_only_at_end(walk, cfg);
}

TEST_CASE("IPv6: local delivery and the tunnel subnet", "[route][ipv6]") {
    NetnsConfig cfg = seed_config_v6();
    Flow in = input_flow("fd00::1", "fd00::2", kWg0);
    RouteDecision local = attribute_walk({in.hit(255, kWg0)}, cfg);
    CHECK(local.rule == 0u);
    CHECK(local.route_type == RouteType::local);

    Flow peer = output_flow("::", "fd00::1");
    RouteDecision d = attribute_walk({peer.reject(255, kUnreachable), peer.hit(254, kWg0)}, cfg);
    CHECK(d.rule == 32764u);
    CHECK(d.prefix == net("fd00::/64"));
}

TEST_CASE("IPv6: default rules only, and no route", "[route][ipv6]") {
    NetnsConfig cfg = links_only();
    add_default_rules(cfg, Family::ipv6);
    cfg.routes = {route(254, "2001:db8:1::/64", kC0), route(255, "2001:db8:1::48/128", kC0, "", RouteType::local)};

    Flow lan = output_flow("::", "2001:db8:1::7");
    RouteDecision d = attribute_walk({lan.reject(255, kUnreachable), lan.hit(254, kC0)}, cfg);
    CHECK_FALSE(d.fast_path); // IPv6 always walks (the default) rules
    CHECK(d.rule == 32766u);

    Flow far = output_flow("::", "2001:db8:99::1");
    std::vector<RouteLookup> walk = {far.reject(255, kUnreachable), far.reject(254, kUnreachable)};
    RouteDecision none = attribute_walk(walk, cfg);
    REQUIRE(none.lookups.size() == 2);
    CHECK(none.lookups[1].result == LookupResult::miss);
    CHECK(none.result == LookupResult::no_route);
    CHECK(none.complete);
    require_complete_only_at_end(walk, cfg);
}

TEST_CASE("IPv6: a real unreachable route decides", "[route][ipv6]") {
    NetnsConfig cfg = seed_config_v6();
    cfg.routes.push_back(reject_route(254, "2001:db8:dead::/48", RouteType::unreachable));
    Flow f = output_flow("::", "2001:db8:dead::1", kWgMark);
    std::vector<RouteLookup> walk = {f.reject(255, kUnreachable), f.reject(254, kUnreachable)};
    RouteDecision d = attribute_walk(walk, cfg);
    CHECK(d.rule == 32764u);
    CHECK(d.result == LookupResult::unreachable);
    CHECK(d.prefix == net("2001:db8:dead::/48"));
    CHECK(d.complete);
    CHECK(walk_is_complete(walk, cfg));
}

TEST_CASE("IPv6: a 'from' rule cannot match before a source address is chosen", "[route][ipv6]") {
    NetnsConfig cfg = seed_config_v6();
    Rule from_lan = lookup_rule(100, 100, Family::ipv6);
    from_lan.from = net("::/1");
    cfg.rules.push_back(from_lan);
    Flow f = output_flow("::", "2001:db8:1::7");
    RouteDecision d = attribute_walk({f.reject(255, kUnreachable), f.hit(254, kC0)}, cfg);
    REQUIRE_FALSE(d.skipped.empty());
    CHECK(d.skipped[0].why == "no source address chosen yet, so from ::/1 cannot match");
}

// ---- suppress_ifgroup

TEST_CASE("suppress_ifgroup passes over results on devices of the group", "[route][suppress]") {
    Rule rule = lookup_rule(100, 254);
    rule.suppress_ifgroup = 7;
    NetnsConfig cfg = lan_config({rule});
    cfg.links[1].group = 7; // c0

    Flow f = output_flow("0.0.0.0", "192.168.178.7");
    std::vector<RouteLookup> walk = {f.miss(255), f.hit(254, kC0), f.hit(254, kC0)};
    RouteDecision d = attribute_walk(walk, cfg);
    REQUIRE(d.lookups.size() == 3);
    CHECK(d.lookups[1].rule == 100);
    CHECK(d.lookups[1].result == LookupResult::suppressed);
    CHECK(d.lookups[1].why == "device c0 is in group 7 (suppress_ifgroup 7)");
    CHECK(d.rule == 32766u);
    require_complete_only_at_end(walk, cfg);

    cfg.links[1].group = 0;
    RouteDecision other = attribute_walk({f.miss(255), f.hit(254, kC0)}, cfg);
    CHECK(other.rule == 100u);
}

// ---- exact answers from the kernel (fexit)

TEST_CASE("exact rule results beat the snapshot", "[route][exact]") {
    NetnsConfig cfg = seed_config();
    Flow udp = output_flow("0.0.0.0", "203.0.113.123", kWgMark);
    std::vector<RouteLookup> walk = {udp.miss(255), udp.hit(254, kC0, "192.168.178.1"),
                                     udp.hit(254, kC0, "192.168.178.1")};
    RuleResult suppressed;
    suppressed.what = RuleResult::What::suppressed;
    suppressed.pref = 32764;
    suppressed.table = 254;
    suppressed.prefixlen = 0;
    suppressed.suppress_prefixlen = 0;
    RuleResult decided;
    decided.what = RuleResult::What::decided;
    decided.pref = 32766;
    decided.table = 254;

    SECTION("agreeing") {
        RouteDecision d = attribute_walk(walk, cfg, {suppressed, decided});
        CHECK(d.exact);
        CHECK(d.lookups[1].why == "prefix /0 <= suppress_prefixlength 0");
        CHECK(d.rule == 32766u);
        CHECK(d.notes.empty());
    }
    SECTION("the snapshot lacks the suppress option, the kernel knows") {
        cfg.rules[3].suppress_prefixlen = -1; // rule 32764
        std::vector<RouteLookup> two = {walk[0], walk[1]};
        RouteDecision guess = attribute_walk(two, cfg);
        CHECK(guess.rule == 32764u); // the snapshot alone: decided by 32764
        RouteDecision d = attribute_walk(two, cfg, {suppressed});
        CHECK(d.lookups[1].result == LookupResult::suppressed);
        CHECK_FALSE(d.complete); // more lookups will come
    }
    SECTION("the kernel names another deciding rule") {
        decided.pref = 32767;
        RouteDecision d = attribute_walk(walk, cfg, {suppressed, decided});
        CHECK(d.rule == 32767u);
        CHECK(has_note(d, "the kernel reports rule 32767 as deciding"));
    }
}

// ---- observations the snapshot cannot explain

TEST_CASE("a stale snapshot still yields a decision, with a note", "[route][stale]") {
    NetnsConfig cfg = seed_config();
    cfg.rules.erase(cfg.rules.begin() + 3, cfg.rules.end()); // taken before wg-quick added its rules
    Flow echo = output_flow("0.0.0.0", "198.51.100.9");
    std::vector<RouteLookup> walk = {echo.miss(255), echo.hit(254, kC0, "192.168.178.1"), echo.hit(kWgTable, kWg0)};

    RouteDecision d = attribute_walk(walk, cfg);
    REQUIRE(d.lookups.size() == 3);
    CHECK(d.lookups[1].rule == 32766);
    CHECK(d.lookups[1].result == LookupResult::suppressed); // another lookup followed
    CHECK(d.lookups[2].table == kWgTable);
    CHECK(d.lookups[2].why == "no rule in the snapshot explains this lookup");
    CHECK(has_note(d, "ruleset snapshot does not explain lookup of table 51820"));
    CHECK(has_note(d, "the snapshot does not say why"));
    CHECK_FALSE(d.rule);
    CHECK(d.table == kWgTable);
    CHECK(d.result == LookupResult::hit);
    CHECK(d.result_oif == "wg0");
    CHECK(d.complete);
    CHECK(unexplained_lookups(walk, cfg) == 1);
}

TEST_CASE("a rule the snapshot says does not match, when only it explains a lookup", "[route][stale]") {
    NetnsConfig cfg = seed_config();
    // The flow carries the WireGuard mark, yet the kernel looked up 51820: the mark in the snapshot's rule
    // must be stale. Only rule 32765 looks up 51820, so it gets the lookup.
    Flow f = output_flow("0.0.0.0", "198.51.100.9", kWgMark);
    std::vector<RouteLookup> walk = {f.miss(255), f.hit(254, kC0, "192.168.178.1"), f.hit(kWgTable, kWg0)};
    RouteDecision d = attribute_walk(walk, cfg);
    CHECK(d.rule == 32765u);
    CHECK(has_note(d, "rule 32765 does not match this flow per the snapshot"));
    CHECK(unexplained_lookups(walk, cfg) == 0);
}

TEST_CASE("a lookup of a table no rule names", "[route][stale]") {
    NetnsConfig cfg = lan_config();
    Flow f = output_flow("0.0.0.0", "9.9.9.9");
    std::vector<RouteLookup> walk = {f.miss(255), f.miss(777), f.hit(254, kC0, "192.168.178.1")};
    RouteDecision d = attribute_walk(walk, cfg);
    REQUIRE(d.lookups.size() == 3);
    CHECK(d.lookups[1].table == 777);
    CHECK(d.lookups[1].result == LookupResult::miss);
    CHECK(d.rule == 32766u);
    CHECK(has_note(d, "ruleset snapshot does not explain lookup of table 777"));
    CHECK(unexplained_lookups(walk, cfg) == 1);
}

TEST_CASE("a walk whose end was not seen is incomplete", "[route][stale]") {
    NetnsConfig cfg = seed_config();
    Flow echo = output_flow("0.0.0.0", "198.51.100.9");
    RouteDecision d = attribute_walk({echo.miss(255), echo.hit(254, kC0, "192.168.178.1")}, cfg);
    CHECK_FALSE(d.complete);
    CHECK(d.result == LookupResult::none);
    CHECK_FALSE(d.rule);
    CHECK(d.lookups[1].result == LookupResult::suppressed);
    CHECK(has_note(d, "rule 32765 looks up table 51820 next, but no such lookup was seen"));
}

TEST_CASE("a walk that starts mid-way is attributed as far as it goes", "[route][stale]") {
    NetnsConfig cfg = seed_config();
    Flow echo = output_flow("0.0.0.0", "198.51.100.9");
    // The local miss was lost: main's hit first. With custom rules that is no fast path.
    RouteDecision d = attribute_walk({echo.hit(254, kC0, "192.168.178.1"), echo.hit(kWgTable, kWg0)}, cfg);
    CHECK_FALSE(d.fast_path);
    REQUIRE(d.skipped.size() == 1);
    CHECK(d.skipped[0].rule == 0);
    CHECK(has_note(d, "the snapshot has routes in table 255, but no lookup of it was seen for rule 0"));
    CHECK(d.lookups[0].rule == 32764);
    CHECK(d.lookups[0].result == LookupResult::suppressed);
    CHECK(d.rule == 32765u);
    CHECK(d.result_oif == "wg0");
    CHECK(d.complete);
}

TEST_CASE("an empty walk does not crash", "[route][stale]") {
    RouteDecision d = attribute_walk({}, seed_config());
    CHECK_FALSE(d.complete);
    CHECK_FALSE(walk_is_complete({}, seed_config()));
}

// ---- flows

TEST_CASE("same_flow compares the flow, not the lookup", "[route][flow]") {
    Flow f = output_flow("0.0.0.0", "9.9.9.9", 0x1);
    RouteLookup a = f.miss(255, 100);
    RouteLookup b = f.hit(254, kC0, "192.168.178.1", 200);
    b.cpu = 3;
    b.uid = 1000;
    CHECK(same_flow(a, b));

    auto differs = [&](auto change) {
        RouteLookup c = a;
        change(c);
        return !same_flow(a, c);
    };
    CHECK(differs([](RouteLookup& l) { l.mark = 0; }));
    CHECK(differs([](RouteLookup& l) { l.dst = ip("9.9.9.8"); }));
    CHECK(differs([](RouteLookup& l) { l.src = ip("192.168.178.48"); }));
    CHECK(differs([](RouteLookup& l) { l.iif = kC0; }));
    CHECK(differs([](RouteLookup& l) { l.oif = kWg0; }));
    CHECK(differs([](RouteLookup& l) { l.sport = 1; }));
    CHECK(differs([](RouteLookup& l) { l.dport = 1; }));
    CHECK(differs([](RouteLookup& l) { l.proto = 17; }));
    CHECK(differs([](RouteLookup& l) { l.direction = RouteDirection::reverse; }));
    CHECK(differs([](RouteLookup& l) { l.netns = 1; }));
}
