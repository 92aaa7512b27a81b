#include <catch2/catch_test_macros.hpp>

#include "timeline_fixtures.hpp"
#include "diagnose/timeline_evidence.hpp"

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
    CHECK(found[0].summary.find("3 initiations sent to 203.0.113.123:51820, no response came back") !=
          std::string::npos);
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

TEST_CASE("evidence: a forwarded packet dropped as too big is path-MTU discovery, not a WireGuard finding; a multicast "
          "or broadcast packet WireGuard has no peer for is not one either") {
    Collected c;
    PacketInfo big = icmp_packet(0xb01, "192.168.178.77", "10.0.0.9", 8, 1500);
    c.builder.add(ingress(big, kC0, 100));
    c.builder.add(drop_step(big, "PKT_TOO_BIG", "ip_forward+0x1a", 110));
    c.builder.add(egress(icmp_packet(0xb02, "10.0.0.1", "224.0.0.251", 8), kWg0, 200));
    c.builder.add(egress(icmp_packet(0xb03, "10.0.0.1", "10.0.0.255", 8), kWg0, 300));
    c.builder.flush_all();
    CHECK(findings_of(c, c.config).empty());
}

TEST_CASE("evidence: a refused handshake message from a peer that completed a handshake while watched is a note") {
    Collected c;
    c.wireguard[0].implementation = WgImplementation::kernel;
    PacketInfo init = outer_in(0xc01, 148, wg_initiation(0x99));
    c.builder.add(ingress(init, kC0, 100));
    c.builder.add(kernel_verdict(init, WgKernelAction::handshake, WgVerdict::rejected, 1, 120));
    c.builder.add(ingress(outer_in(0xc02, 92, wg_response(0x77, 0x42)), kC0, 500)); // a handshake completes
    c.builder.flush_all();
    auto found = findings_of(c, c.config);
    REQUIRE(found.size() == 1);
    CHECK(found[0].kind == FindingKind::handshake_rejected);
    CHECK(found[0].note);
}

TEST_CASE("evidence: packets of a peer that came out of the tunnel with none of its outer packets here were reached "
          "through another namespace") {
    Collected c;
    c.builder.add(ingress(icmp_packet(0xd01, "198.51.100.9", "10.0.0.1", 0), kWg0, 100));
    c.builder.flush_all();
    TimelineEvidence ev;
    for (const PacketTimeline& t : c.out) ev.add(t, &c.config);
    CHECK(ev.reached_elsewhere(c.wireguard[0], c.wireguard[0].peers[0]));

    Collected here; // the seed's ping: its outer packets pass this namespace
    feed_outgoing_ping(here.builder);
    feed_incoming_reply(here.builder);
    here.builder.flush_all();
    TimelineEvidence local;
    for (const PacketTimeline& t : here.out) local.add(t, &here.config);
    CHECK_FALSE(local.reached_elsewhere(here.wireguard[0], here.wireguard[0].peers[0]));
}

TEST_CASE("evidence: refused data is not data received: a forgotten session stays a finding until a handshake "
          "completes") {
    Collected c;
    c.wireguard[0].implementation = WgImplementation::kernel;
    PacketInfo outer = outer_in(0xe01, outer_payload(84), wg_data(0xabcd, 3));
    c.builder.add(ingress(outer, kC0, 100));
    c.builder.add(kernel_verdict(outer, WgKernelAction::receive, WgVerdict::unknown_index, 4, 110));
    c.builder.flush_all();
    auto found = findings_of(c, c.config);
    REQUIRE(found.size() == 1);
    CHECK(found[0].kind == FindingKind::unknown_session);
    CHECK_FALSE(found[0].note);
}

TEST_CASE("evidence: peers' private sources forwarded to the uplink with no reply are likely missing NAT; not when a "
          "reply came, nor in the watch's last second") {
    auto forwarded_ping = [](Collected& c, uint64_t id, uint64_t t, bool reply) {
        PacketInfo req = icmp_packet(id, "10.0.0.1", "203.0.113.1", 8);
        c.builder.add(ingress(req, kWg0, t));
        c.builder.add(egress(req, kC0, t + 2));
        if (reply) {
            PacketInfo rep = icmp_packet(id + 1, "203.0.113.1", "10.0.0.1", 0);
            c.builder.add(ingress(rep, kC0, t + 1000));
            c.builder.add(egress(rep, kWg0, t + 1002));
        }
    };
    Collected lost;
    forwarded_ping(lost, 0xf01, 1'000'000, false);
    lost.builder.flush_all();
    TimelineEvidence ev;
    for (const PacketTimeline& t : lost.out) ev.add(t, &lost.config);
    auto found = ev.findings(lost.wireguard, 5'000'000'000);
    REQUIRE(found.size() == 1);
    CHECK(found[0].kind == FindingKind::no_nat_to_uplink);
    CHECK(found[0].certainty == Certainty::likely);
    CHECK(ev.findings(lost.wireguard, 500'000'000).empty()); // too close to the end: no time for a reply

    Collected answered;
    forwarded_ping(answered, 0xf11, 1'000'000, true);
    answered.builder.flush_all();
    TimelineEvidence ok;
    for (const PacketTimeline& t : answered.out) ok.add(t, &answered.config);
    CHECK(ok.findings(answered.wireguard, 5'000'000'000).empty());
}

TEST_CASE("evidence: packets dropped with a peer's handshake queue: a finding when WireGuard gave up, a note when the "
          "interface went down; a flood of initiations is a refused handshake with its own change") {
    auto purged = [](WgVerdict cause) {
        Collected c;
        c.wireguard[0].implementation = WgImplementation::kernel;
        PacketInfo inner = icmp_packet(0xc11, "10.0.0.1", "198.51.100.9", 8);
        c.builder.add(egress(inner, kWg0, 100));
        WireguardKernelEvent queued = kernel_verdict(inner, WgKernelAction::encrypt, WgVerdict::no_session, 0, 101);
        queued.found = true;
        queued.peer_key.fill(7);
        c.builder.add(queued);
        WireguardKernelEvent purge = kernel_verdict(PacketInfo{}, WgKernelAction::purge, cause, 0, 5'000);
        purge.found = true;
        purge.peer_key.fill(7);
        purge.queued = 1;
        c.builder.add(purge);
        c.builder.flush_all();
        return findings_of(c, c.config);
    };
    auto gave_up = purged(WgVerdict::gave_up);
    REQUIRE(gave_up.size() == 1);
    CHECK(gave_up[0].kind == FindingKind::queued_packets_dropped);
    CHECK_FALSE(gave_up[0].note);
    CHECK(gave_up[0].certainty == Certainty::certain);
    CHECK(gave_up[0].change.find("make the handshake with peer") == 0);
    auto down = purged(WgVerdict::device_down);
    REQUIRE(down.size() == 1);
    CHECK(down[0].kind == FindingKind::queued_packets_dropped);
    CHECK(down[0].note);

    Collected c;
    c.wireguard[0].implementation = WgImplementation::kernel;
    PacketInfo init = outer_in(0xc21, 148, wg_initiation(0x99));
    c.builder.add(ingress(init, kC0, 100));
    c.builder.add(kernel_verdict(init, WgKernelAction::handshake, WgVerdict::flood, 1, 120));
    c.builder.flush_all();
    auto found = findings_of(c, c.config);
    REQUIRE(found.size() == 1);
    CHECK(found[0].kind == FindingKind::handshake_rejected);
    CHECK(found[0].change.find("find what duplicates packets on the path") != std::string::npos);
}
