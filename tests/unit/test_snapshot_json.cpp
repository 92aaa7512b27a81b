// Configuration snapshots <-> JSON for recordings: everything survives a round trip, and JSON of the
// wrong shape is an error that names the field, never an exception.
#include <catch2/catch_test_macros.hpp>

#include <algorithm>

#include <string>

#include "netfilter_fixtures.hpp"
#include "route_fixtures.hpp"
#include "record/snapshot_json.hpp"

using namespace wgbpf;
using namespace wgbpf::test;
using nlohmann::json;

namespace {

// A configuration that sets every field at least once, with values away from the defaults.
NetnsConfig rich_config() {
    NetnsConfig cfg = seed_config();
    NetnsConfig v6 = seed_config_v6();
    cfg.rules.insert(cfg.rules.end(), v6.rules.begin(), v6.rules.end());
    cfg.routes.insert(cfg.routes.end(), v6.routes.begin(), v6.routes.end());
    cfg.links.push_back({7, "vrf-blue", 3});
    Rule every;
    every.pref = 100;
    every.action = RuleAction::go_to;
    every.table = 0;
    every.invert = true;
    every.fwmark = 0x1;
    every.fwmask = 0xff;
    every.iif = "c0";
    every.oif = "wg0";
    every.from = net("10.0.0.0/8");
    every.to = net("0.0.0.0/0");
    every.tos = 0x10;
    every.uid_range = std::pair{1000u, 1999u};
    every.ip_proto = 17;
    every.sport = PortRange{1024, 65535};
    every.dport = PortRange{53, 53};
    every.goto_target = 200;
    every.suppress_prefixlen = 0;
    every.suppress_ifgroup = 4;
    every.l3mdev = true;
    cfg.rules.push_back(every);
    Route r = route(254, "2001:db8::/32", kC0, "fe80::1");
    r.metric = 1024;
    r.scope = 253;
    r.tos = 8;
    r.type = RouteType(11); // a type wgbpf has no name for survives as its number
    cfg.routes.push_back(r);
    cfg.table_names = {{253, "default"}, {254, "main"}, {255, "local"}, {51820, "wg"}, {4294967295u, "top"}};
    cfg.ipv4_conf = {{"all", {2, 0}}, {"default", {1, 1}}, {"wg0", {0, 1}}};
    cfg.nft = seed_ruleset();
    cfg.nft.tables.push_back({"ip", "dormant", 9, 1});
    cfg.nft.chains[0].rules[0].comment = "from the seed";
    NftChain egress = base_chain("netdev", "edge", "egress", NfHook::prerouting, 0, 9, 1);
    egress.hook.reset(); // hooks wgbpf does not bracket keep only their text
    egress.hook_text = "egress";
    egress.priority = -2147483648;
    cfg.nft.chains.push_back(egress);
    cfg.nft.legacy = {{kNfprotoIpv4, "filter"}, {kNfprotoIpv6, "mangle"}};
    return cfg;
}

std::vector<WgInterface> wireguard_interfaces() {
    WgInterface wg;
    wg.name = "wg0";
    wg.implementation = WgImplementation::kernel;
    wg.public_key = "nVMO7Cnd/+ZGiyG9KdmE5m/MCbubn/XOVWKPPenbaAM=";
    wg.listen_port = 51820;
    wg.fwmark = 0xca6c;
    WgPeer p1;
    p1.public_key = "TDtT2iENWOzTIy7dZpSHvcpZ7cjgJVz7gwoNZDeWRSc=";
    p1.endpoint = WgEndpoint{ip("203.0.113.123"), 51820};
    p1.allowed_ips = {net("0.0.0.0/0"), net("::/0")};
    p1.last_handshake_unix_s = 1796000000;
    WgPeer p2;
    p2.public_key = "iztxqbCl/CzjjEqptuqatsWHF59EXSObQjDwBkfCT00=";
    p2.endpoint = WgEndpoint{ip("2001:db8::1"), 443};
    p2.allowed_ips = {net("10.0.0.2/32")};
    wg.peers = {p1, p2};
    WgInterface user;
    user.name = "wg1";
    user.implementation = WgImplementation::uapi;
    user.peers.push_back(WgPeer{"iztxqbCl/CzjjEqptuqatsWHF59EXSObQjDwBkfCT00=", std::nullopt, {}});
    return {wg, user};
}

} // namespace

TEST_CASE("a namespace configuration survives JSON") {
    NetnsConfig cfg = rich_config();
    cfg.sort_routes(); // as read from the kernel, and as replay keeps them
    json j = netns_config_to_json(cfg);
    auto back = netns_config_from_json(json::parse(j.dump()));
    REQUIRE(back.ok());
    CHECK(netns_config_to_json(*back) == j);

    CHECK(back->netns_inode == cfg.netns_inode);
    REQUIRE(back->links.size() == cfg.links.size());
    CHECK(back->links.back().name == "vrf-blue");
    CHECK(back->links.back().group == 3);
    REQUIRE(back->rules.size() == cfg.rules.size());
    const Rule& every = back->rules.back();
    CHECK(every.to_string() == cfg.rules.back().to_string());
    CHECK(every.from == net("10.0.0.0/8"));
    CHECK(every.to == net("0.0.0.0/0"));
    CHECK(every.uid_range == std::optional<std::pair<uint32_t, uint32_t>>(std::pair{1000u, 1999u}));
    CHECK(every.dport->start == 53);
    CHECK(every.goto_target == 200u);
    CHECK(every.suppress_ifgroup == 4);
    CHECK(every.l3mdev);
    CHECK_FALSE(back->rules.front().fwmark.has_value());
    REQUIRE(back->routes.size() == cfg.routes.size());
    for (size_t i = 0; i < cfg.routes.size(); ++i) {
        CHECK(back->routes[i].dst == cfg.routes[i].dst);
        CHECK(back->routes[i].gateway == cfg.routes[i].gateway);
    }
    CHECK(
        std::any_of(back->routes.begin(), back->routes.end(), [](const Route& r) { return r.type == RouteType(11); }));
    CHECK(back->table_names == cfg.table_names);
    CHECK(back->ipv4_conf.at("all").rp_filter == 2);
    CHECK(back->ipv4_conf.at("default").src_valid_mark == 1);
    CHECK(back->nft.chains.size() == cfg.nft.chains.size());
    CHECK(back->nft.chains[0].rules[0].comment == "from the seed");
    CHECK(back->nft.chains.back().hook == std::nullopt);
    CHECK(back->nft.chains.back().priority == -2147483648);
    CHECK(back->nft.legacy.size() == 2);
    CHECK(back->nft.legacy[1].pf == kNfprotoIpv6);
    CHECK(back->nft.base_chains(kNfprotoIpv4, NfHook::postrouting).size() ==
          cfg.nft.base_chains(kNfprotoIpv4, NfHook::postrouting).size());
}

TEST_CASE("an unreadable ruleset stays unreadable, with its reason") {
    NftRuleset r;
    r.available = false;
    r.error = "Operation not permitted";
    auto back = nft_ruleset_from_json(nft_ruleset_to_json(r));
    REQUIRE(back.ok());
    CHECK_FALSE(back->available);
    CHECK(back->error == "Operation not permitted");
}

TEST_CASE("a bracket plan survives JSON") {
    BracketPlan plan = plan_brackets(seed_ruleset(), 7);
    plan.notes.push_back("ipv6 forward left out: no bracket left");
    plan.spans[0].members.push_back({"iptables", "mangle", "PREROUTING", -150, true});
    json j = bracket_plan_to_json(plan);
    auto back = bracket_plan_from_json(json::parse(j.dump()));
    REQUIRE(back.ok());
    CHECK(bracket_plan_to_json(*back) == j);
    CHECK(back->generation == 7);
    REQUIRE(back->brackets.size() == plan.brackets.size());
    CHECK(back->brackets[kOutAfter].hook == NfHook::output);
    CHECK(back->brackets[kOutAfter].priority == plan.brackets[kOutAfter].priority);
    REQUIRE(back->spans.size() == plan.spans.size());
    CHECK(back->spans[0].members.back().legacy);
    const BracketSpan* post = back->span_after(kPostBefore);
    REQUIRE(post);
    REQUIRE(post->members.size() == 1);
    CHECK(post->members[0].chain == "postmangle");
    CHECK(back->notes == plan.notes);
}

TEST_CASE("WireGuard interfaces survive JSON") {
    auto list = wireguard_interfaces();
    json j = wireguard_to_json(list);
    auto back = wireguard_from_json(json::parse(j.dump()));
    REQUIRE(back.ok());
    CHECK(wireguard_to_json(*back) == j);
    REQUIRE(back->size() == 2);
    const WgInterface& wg = (*back)[0];
    CHECK(wg.fwmark == 0xca6c);
    CHECK(wg.listen_port == 51820);
    REQUIRE(wg.peers.size() == 2);
    CHECK(wg.peers[0].endpoint->to_string() == "203.0.113.123:51820");
    CHECK(wg.peers[1].endpoint->to_string() == "[2001:db8::1]:443");
    CHECK(wg.peers[0].allowed_ips == std::vector<IpPrefix>{net("0.0.0.0/0"), net("::/0")});
    CHECK_FALSE((*back)[1].peers[0].endpoint.has_value());
    CHECK((*back)[1].implementation == WgImplementation::uapi);
    CHECK(wg.peers[0].last_handshake_unix_s == 1796000000);
    CHECK_FALSE(wg.peers[1].last_handshake_unix_s);
}

TEST_CASE("JSON of the wrong shape is an error naming the field") {
    json good = netns_config_to_json(rich_config());

    auto with = [&](auto change) {
        json j = good;
        change(j);
        return netns_config_from_json(j);
    };
    auto r = with([](json& j) { j["rules"][3].erase("pref"); });
    REQUIRE_FALSE(r.ok());
    CHECK(r.error() == "namespace configuration: rules[3].pref: missing");

    r = with([](json& j) { j["rules"][0]["pref"] = -1; });
    REQUIRE_FALSE(r.ok());
    CHECK(r.error() == "namespace configuration: rules[0].pref: expected an unsigned integer up to 4294967295");

    r = with([](json& j) { j["routes"][1][0] = 5; });
    REQUIRE_FALSE(r.ok());
    CHECK(r.error() == "namespace configuration: routes[1][0]: expected an address family, 4 or 6");

    r = with([](json& j) { j["routes"][0][2] = "10.0.0.0"; });
    REQUIRE_FALSE(r.ok());
    CHECK(r.error() == "namespace configuration: routes[0][2]: expected ADDRESS/LENGTH, got '10.0.0.0'");

    r = with([](json& j) { j["routes"][0][8] = "not-an-address"; });
    REQUIRE_FALSE(r.ok());
    CHECK(r.error() == "namespace configuration: routes[0][8]: expected an IP address, got 'not-an-address'");

    r = with([](json& j) { j["table_names"]["main"] = "main"; });
    REQUIRE_FALSE(r.ok());
    CHECK(r.error() == "namespace configuration: table_names.main: expected a number as key");

    r = with([](json& j) { j["nft"]["chains"][1]["hook"] = 9; });
    REQUIRE_FALSE(r.ok());
    CHECK(r.error() == "namespace configuration: nft.chains[1].hook: expected a netfilter hook number (0-5)");

    r = with([](json& j) { j["links"] = json::object(); });
    REQUIRE_FALSE(r.ok());
    CHECK(r.error() == "namespace configuration: links: expected an array");

    r = with([](json& j) { j["links"][0]["ifindex"] = 1.5; });
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().starts_with("namespace configuration: links[0].ifindex: expected an integer"));

    r = with([](json& j) { j["nft"]["chains"][0]["priority"] = 4294967296ull; });
    REQUIRE_FALSE(r.ok());
    CHECK(r.error() ==
          "namespace configuration: nft.chains[0].priority: expected an integer from -2147483648 to 2147483647");

    r = with([](json& j) { j["ipv4_conf"]["all"]["rp_filter"] = "strict"; });
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().starts_with("namespace configuration: ipv4_conf.all.rp_filter: expected an integer"));
}

TEST_CASE("anything at all is an error or a snapshot, never an exception") {
    for (const json& j : {json(), json(42), json("text"), json::array(), json::object(), json::array({1, 2}),
                          json{{"rules", nullptr}}}) {
        CHECK_FALSE(netns_config_from_json(j).ok());
        CHECK_FALSE(bracket_plan_from_json(j).ok());
        CHECK_FALSE(nft_ruleset_from_json(j).ok());
    }
    CHECK(wireguard_from_json(json::array()).ok()); // no interfaces is a fine answer
    CHECK_FALSE(wireguard_from_json(json::object()).ok());
    auto r = wireguard_from_json(json::array({{{"name", "wg0"}}}));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error() == "WireGuard interfaces: [0].source: missing");
    auto plan = bracket_plan_from_json(json::array());
    REQUIRE_FALSE(plan.ok());
    CHECK(plan.error() == "bracket plan: top level: expected an object");
}

TEST_CASE("names that are not UTF-8 are written, not thrown over") {
    NetnsConfig cfg;
    cfg.links.push_back({3, std::string("bad\xff", 4), 0});
    json j = netns_config_to_json(cfg);
    std::string text = j.dump(-1, ' ', false, json::error_handler_t::replace);
    auto back = netns_config_from_json(json::parse(text));
    REQUIRE(back.ok());
    CHECK(back->links[0].name == "bad\xef\xbf\xbd"); // U+FFFD
}
