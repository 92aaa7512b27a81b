#include <catch2/catch_test_macros.hpp>

#include "timeline_fixtures.hpp"
#include "diagnose/static_checks.hpp"

using namespace wgbpf;
using namespace wgbpf::test;

namespace {

std::vector<FindingKind> kinds(const StaticReport& r) {
    std::vector<FindingKind> out;
    for (const Finding& f : r.findings) out.push_back(f.kind);
    return out;
}

NetnsConfig with_mtus(NetnsConfig cfg, uint32_t wg_mtu, uint32_t lan_mtu) {
    for (Link& l : cfg.links) {
        if (l.name == "wg0") l.mtu = wg_mtu;
        if (l.name == "c0") l.mtu = lan_mtu;
    }
    return cfg;
}

} // namespace

TEST_CASE("static checks: the seed client as wg-quick sets it up has nothing to report") {
    StaticReport r = static_findings(with_mtus(client_config(), 1420, 1500), {client_wg0()});
    CHECK(r.findings.empty());
    CHECK(r.checks >= 3); // allowed IPs, endpoint route, MTU, rp_filter
}

TEST_CASE("static checks: without the fwmark the endpoint is routed into wg0 itself, named with its rule and table") {
    WgInterface wg = client_wg0();
    wg.fwmark = 0;
    StaticReport r = static_findings(client_config(), {wg});
    REQUIRE(kinds(r) == std::vector{FindingKind::endpoint_route_loop});
    const Finding& f = r.findings[0];
    CHECK(f.certainty == Certainty::certain);
    CHECK(f.summary.find("203.0.113.123:51820 are routed into wg0 itself") != std::string::npos);
    REQUIRE(f.evidence.size() == 1);
    INFO(f.evidence[0]);
    CHECK(f.evidence[0].find("rule 32765 (not from all fwmark 0xca6c lookup 51820), table 51820: default dev wg0") !=
          std::string::npos);
    CHECK(f.change.find("wg set wg0 fwmark") != std::string::npos);
}

TEST_CASE("static checks: strict rp_filter with src_valid_mark=0 drops the endpoint's replies (the seed's figure 3)") {
    StaticReport r = static_findings(client_config(false), {client_wg0()});
    REQUIRE(kinds(r) == std::vector{FindingKind::rp_filter_drops_replies});
    CHECK(r.findings[0].summary.find("finds a route via wg0") != std::string::npos);
    CHECK(r.findings[0].change.find("src_valid_mark=1") != std::string::npos);

    NetnsConfig loose = client_config(false);
    loose.ipv4_conf["all"].rp_filter = 2;
    loose.ipv4_conf["c0"].rp_filter = 2;
    CHECK(static_findings(loose, {client_wg0()}).findings.empty());
}

TEST_CASE("static checks: a WireGuard MTU the endpoint's path cannot carry, with the MTU to set") {
    StaticReport r = static_findings(with_mtus(client_config(), 1500, 1500), {client_wg0()});
    REQUIRE(kinds(r) == std::vector{FindingKind::mtu_exceeds_path});
    CHECK(r.findings[0].summary.find("wg0 MTU 1500 + 60 bytes of outer headers = 1560 > c0's MTU 1500") !=
          std::string::npos);
    CHECK(r.findings[0].change == "ip link set dev wg0 mtu 1440");
}

TEST_CASE("static checks: a peer with no allowed IPs left, and allowed IPs routed outside the tunnel") {
    WgInterface wg = client_wg0();
    WgPeer other;
    other.public_key = "T1RIRVJQRUVSLi4uLi4uLi4uLi4uLi4uLi4uLi4uLi4=";
    wg.peers.push_back(other);
    StaticReport r = static_findings(client_config(), {wg});
    REQUIRE(kinds(r) == std::vector{FindingKind::peer_without_allowed_ips});
    CHECK(r.findings[0].subject == "wg0 peer T1RIRVJQ...");

    // A peer for the LAN's prefix: the main table's connected route wins over the tunnel.
    wg.peers[1].allowed_ips = {net("192.168.178.0/24")};
    r = static_findings(client_config(), {wg});
    REQUIRE(kinds(r) == std::vector{FindingKind::allowed_ips_not_routed});
    CHECK(r.findings[0].certainty == Certainty::likely);
    CHECK(r.findings[0].summary.find("192.168.178.0/24 are routed via c0, not into wg0") != std::string::npos);
}

TEST_CASE("static checks: an endpoint routed through another WireGuard interface is a nested tunnel, not a loop") {
    NetnsConfig cfg = client_config();
    cfg.links.push_back({9, "wg1", 0});
    WgInterface inner = client_wg0();
    inner.name = "wg1";
    inner.fwmark = 0;
    inner.peers[0].allowed_ips = {net("172.16.0.0/12")};
    inner.peers[0].endpoint = WgEndpoint{ip("10.0.0.200"), 51821}; // reached through wg0
    StaticReport r = static_findings(cfg, {client_wg0(), inner});
    for (const Finding& f : r.findings) CHECK(f.kind != FindingKind::endpoint_route_loop);
}
