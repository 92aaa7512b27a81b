#include <catch2/catch_test_macros.hpp>

#include "timeline_fixtures.hpp"
#include "wgbpf/diagnose/timeline_evidence.hpp"

using namespace wgbpf;
using namespace wgbpf::test;

namespace {

std::vector<Finding> findings_of(const Collected& c, const NetnsConfig& cfg) {
    TimelineEvidence ev;
    for (const PacketTimeline& t : c.out) ev.add(t, &cfg);
    return ev.findings(c.wireguard);
}

} // namespace

TEST_CASE("evidence: the seed's ping through the tunnel, both ways, is healthy: no findings, data counted for the "
          "peer, every route decision as the configuration predicts") {
    Collected c;
    feed_outgoing_ping(c.builder);
    feed_incoming_reply(c.builder);
    c.builder.flush_all();
    TimelineEvidence ev;
    for (const PacketTimeline& t : c.out) ev.add(t, &c.config);
    for (const Finding& f : ev.findings(c.wireguard)) FAIL_CHECK(std::string(finding_name(f.kind)) + ": " + f.summary);
    CHECK(ev.routes_compared() >= 2);
    auto health = ev.health();
    REQUIRE(health.size() == 1);
    CHECK(health[0].peer == kServerKey);
    CHECK(health[0].data_sent == 1);
    CHECK(health[0].data_received == 1);
}

TEST_CASE("evidence: a reply dropped by rp_filter without src_valid_mark names the sysctl to set") {
    Collected c({}, false);
    feed_rp_filter_failure(c.builder);
    c.builder.flush_all();
    auto found = findings_of(c, c.config);
    REQUIRE(found.size() == 1);
    CHECK(found[0].kind == FindingKind::rp_filter_failed);
    CHECK(found[0].count == 1);
    CHECK(found[0].evidence[0] == "1 packet: #1");
    CHECK(found[0].change.find("src_valid_mark=1") != std::string::npos);
}

TEST_CASE("evidence: handshake initiations with no response are a handshake that never completed, with where the "
          "last one was seen") {
    Collected c;
    for (uint64_t i = 0; i < 3; ++i) {
        PacketInfo init = outer_out(0x900 + i, 148, wg_initiation(0x42 + i));
        c.builder.add(outer_route(1'000'000'000 * (i + 1)));
        c.builder.add(egress(init, kC0, 1'000'000'000 * (i + 1) + 10));
    }
    c.builder.flush_all();
    auto found = findings_of(c, c.config);
    REQUIRE(found.size() == 1);
    CHECK(found[0].kind == FindingKind::handshake_incomplete);
    CHECK(found[0].summary.find("3 initiations sent to 203.0.113.123:51820, no response came back") != std::string::npos);
    CHECK(found[0].evidence[0].find("left on c0") != std::string::npos);
}

TEST_CASE("evidence: a user-space WireGuard's silent drop is a likely finding; kernel verdicts are certain") {
    Collected c;
    PacketInfo outer = outer_in(kOuterIn, outer_payload(84), wg_data(kClientIndex, 5));
    c.builder.add(ingress(outer, kC0, 100));
    c.builder.flush_all();
    auto found = findings_of(c, c.config);
    REQUIRE(found.size() == 1);
    CHECK(found[0].kind == FindingKind::dropped_inside_wireguard);
    CHECK(found[0].certainty == Certainty::likely);
    CHECK(found[0].summary.find("WireGuard (wg0) dropped (inferred): no inner packet came out of wg0") == 0);
}

TEST_CASE("evidence: a route decision the configuration does not predict is a note, with both decisions") {
    Collected c;
    feed_outgoing_ping(c.builder);
    c.builder.flush_all();
    NetnsConfig changed = c.config;
    std::erase_if(changed.rules, [](const Rule& r) { return r.pref == 32765; }); // as if wg-quick's rule went away
    auto found = findings_of(c, changed);
    REQUIRE_FALSE(found.empty());
    bool noted = false;
    for (const Finding& f : found)
        if (f.kind == FindingKind::route_differs_from_prediction) {
            noted = true;
            CHECK(f.note);
            CHECK(f.evidence.size() == 3);
        }
    CHECK(noted);
}
