#include <catch2/catch_test_macros.hpp>

#include <algorithm>

#include "timeline_fixtures.hpp"

using namespace wgbpf;
using namespace wgbpf::test;

namespace {

template <typename T>
std::vector<T> steps_of(const PacketTimeline& t) {
    std::vector<T> out;
    for (const TimelineStep& s : t.steps)
        if (const T* x = std::get_if<T>(&s)) out.push_back(*x);
    return out;
}

// "route", "nf", "drop", "rp_filter", "wg", "dev" per step, in order.
std::vector<std::string> kinds(const PacketTimeline& t) {
    std::vector<std::string> out;
    for (const TimelineStep& s : t.steps) {
        out.push_back(std::visit(
            [](const auto& x) -> std::string {
                using T = std::decay_t<decltype(x)>;
                if constexpr (std::is_same_v<T, RouteDecision>) return "route";
                else if constexpr (std::is_same_v<T, NetfilterStep>) return "nf";
                else if constexpr (std::is_same_v<T, DropStep>) return "drop";
                else if constexpr (std::is_same_v<T, RpFilterStep>) return "rp_filter";
                else if constexpr (std::is_same_v<T, WireguardStep>) return "wg";
                else return "dev";
            },
            s));
    }
    return out;
}

using Kinds = std::vector<std::string>;

// The timeline's one WireGuard step (the test fails unless there is exactly one).
WireguardStep sole_wireguard_step(const PacketTimeline& t) {
    auto wg = steps_of<WireguardStep>(t);
    REQUIRE(wg.size() == 1);
    return wg[0];
}

// A timeline WireGuard ended: dropped, with this verdict, said inferred or not, and `why` in its sentence.
void check_wireguard_drop(const PacketTimeline& t, const std::string& verdict, bool inferred, std::string_view why) {
    CHECK(t.outcome == Outcome::dropped);
    CHECK(t.outcome_inferred == inferred);
    WireguardStep wg = sole_wireguard_step(t);
    CHECK(wg.verdict == verdict);
    CHECK(wg.inferred == inferred);
    CHECK(wg.dropped.find(why) != std::string::npos);
}

// No WireGuard verdict on any of the timelines, and none dropped.
void check_no_wireguard_drop(const std::vector<PacketTimeline>& out) {
    for (const PacketTimeline& t : out) {
        CHECK(t.outcome != Outcome::dropped);
        for (const WireguardStep& w : steps_of<WireguardStep>(t)) CHECK(w.verdict.empty());
    }
}

bool has_gap(const PacketTimeline& t, std::string_view text) {
    return std::any_of(t.gaps.begin(), t.gaps.end(),
                       [&](const std::string& g) { return g.find(text) != std::string::npos; });
}

bool time_ordered(const PacketTimeline& t) {
    return std::is_sorted(t.steps.begin(), t.steps.end(),
                          [](const TimelineStep& a, const TimelineStep& b) { return step_time(a) < step_time(b); });
}

} // namespace

TEST_CASE("seed, figure 2: the echo request is encapsulated in the outer packet, linked both ways") {
    Collected c;
    feed_outgoing_ping(c.builder);
    REQUIRE(c.out.size() == 2); // both complete at egress: no flush needed
    CHECK(c.builder.open() == 0);

    const PacketTimeline& inner = c.out[0];
    CHECK(inner.id == 1);
    CHECK(inner.packet_id == kRequest);
    CHECK(inner.netns == kNs);
    CHECK(inner.outcome == Outcome::encapsulated);
    CHECK(inner.encapsulated_in == 2u);
    CHECK_FALSE(inner.outer_of);
    CHECK(inner.mark == 0);
    CHECK(inner.gaps.empty());
    CHECK(kinds(inner) == Kinds{"route", "nf", "nf", "dev", "wg"});
    CHECK(time_ordered(inner));
    auto route = steps_of<RouteDecision>(inner)[0];
    CHECK(route.result_oif == "wg0");
    CHECK(route.tgid == kPing);
    auto wg = steps_of<WireguardStep>(inner)[0];
    CHECK(wg.action == WgAction::encrypt);
    CHECK(wg.peer == kServerKey);
    CHECK(wg.endpoint == "203.0.113.123:51820");
    CHECK(wg.receiver_index == kServerIndex);
    CHECK(wg.counter == 2u);
    CHECK(steps_of<DeviceStep>(inner)[0].dev == "wg0");

    const PacketTimeline& outer = c.out[1];
    CHECK(outer.id == 2);
    CHECK(outer.outcome == Outcome::sent);
    CHECK(outer.outer_of == 1u);
    CHECK_FALSE(outer.encapsulated_in);
    CHECK(outer.mark == kWgMark);
    CHECK(kinds(outer) == Kinds{"wg", "route", "nf", "nf", "dev"});
    CHECK(time_ordered(outer));
    CHECK(steps_of<RouteDecision>(outer)[0].result_oif == "c0");
    CHECK(steps_of<RouteDecision>(outer)[0].mark == kWgMark);
    CHECK(steps_of<NetfilterStep>(outer)[1].ct_mark_after == kWgMark);
    CHECK(steps_of<WireguardStep>(outer)[0].action == WgAction::encrypt);
    CHECK(steps_of<DeviceStep>(outer)[0].dev == "c0");
    CHECK(c.builder.unattached_routes() == 0);
}

TEST_CASE(
    "seed, figure 3: the reply's outer packet passes rp_filter with its restored mark; the inner is decapsulated from it") {
    Collected c;
    feed_incoming_reply(c.builder);
    CHECK(c.out.empty()); // delivery has no event of its own: they complete when idle
    CHECK(c.builder.open() == 2);
    c.builder.flush(1'022'147'000 + 199'000'000);
    CHECK(c.out.empty());
    c.builder.flush(1'022'147'000 + 200'000'000);
    REQUIRE(c.out.size() == 2);

    const PacketTimeline& outer = c.out[0];
    CHECK(outer.id == 1);
    CHECK(outer.outcome == Outcome::decapsulated);
    CHECK(outer.outer_of == 2u);
    CHECK(outer.mark == kWgMark);
    // WireGuard takes the message after its local delivery: its step comes where the decryption shows (the inner
    // packet's arrival), after the input chain, not where the message was first read.
    CHECK(kinds(outer) == Kinds{"dev", "nf", "nf", "route", "rp_filter", "nf", "wg"});
    CHECK(time_ordered(outer));
    auto rp = steps_of<RpFilterStep>(outer)[0];
    CHECK(rp.mode == RpFilterMode::strict);
    CHECK(rp.result == RpFilterResult::pass);
    CHECK(rp.iif == "c0");
    CHECK(rp.src_valid_mark);
    CHECK(rp.explanation == "reverse route to 203.0.113.123 via c0 = iif c0 (mark 0xca6c used: src_valid_mark=1)");
    auto wg = steps_of<WireguardStep>(outer)[0];
    CHECK(wg.action == WgAction::decrypt);
    CHECK(wg.direction == WgDirection::in);
    CHECK(wg.receiver_index == kClientIndex);
    CHECK(wg.counter == 5u);
    CHECK(steps_of<NetfilterStep>(outer)[1].mark_after == kWgMark); // premangle restored it

    const PacketTimeline& inner = c.out[1];
    CHECK(inner.id == 2);
    CHECK(inner.outcome == Outcome::delivered);
    CHECK(inner.decapsulated_from == 1u);
    CHECK_FALSE(inner.outer_of);
    CHECK(kinds(inner) == Kinds{"wg", "dev", "nf", "nf", "route", "rp_filter", "nf"});
    CHECK(steps_of<WireguardStep>(inner)[0].action == WgAction::decrypt);
    CHECK(steps_of<WireguardStep>(inner)[0].peer == kServerKey);
    CHECK(steps_of<RpFilterStep>(inner)[0].result == RpFilterResult::pass);
    CHECK(steps_of<RpFilterStep>(inner)[0].iif == "wg0");
}

TEST_CASE("rp_filter without src_valid_mark: reverse route via wg0, the packet came in on c0, IP_RPFILTER drop") {
    Collected c({}, false);
    feed_rp_filter_failure(c.builder);
    REQUIRE(c.out.size() == 1);
    const PacketTimeline& t = c.out[0];
    CHECK(t.outcome == Outcome::dropped);
    CHECK_FALSE(t.outer_of);
    CHECK(kinds(t) == Kinds{"dev", "wg", "nf", "nf", "route", "rp_filter", "drop"});
    auto rp = steps_of<RpFilterStep>(t)[0];
    CHECK(rp.result == RpFilterResult::fail);
    CHECK(rp.reverse_oif == "wg0");
    CHECK(rp.explanation ==
          "reverse route to 203.0.113.123 goes via wg0, not c0 where the packet came in: mark 0xca6c was "
          "not used (src_valid_mark=0)");
    CHECK(steps_of<DropStep>(t)[0].reason == "IP_RPFILTER");

    // A decrypted packet that shows up later is not taken for the dropped one's content.
    PacketInfo reply = icmp_packet(kReply, "198.51.100.9", "10.0.0.1", 0);
    c.builder.add(ingress(reply, kWg0, 2'000'100'000));
    c.builder.flush_all();
    REQUIRE(c.out.size() == 2);
    CHECK_FALSE(c.out[1].decapsulated_from);
}

TEST_CASE("an IP_RPFILTER drop makes an rp_filter step without sysctls a failure") {
    Collected c;
    c.config.ipv4_conf.clear();
    feed_rp_filter_failure(c.builder);
    REQUIRE(c.out.size() == 1);
    auto rp = steps_of<RpFilterStep>(c.out[0])[0];
    CHECK(rp.mode == RpFilterMode::unknown);
    CHECK(rp.result == RpFilterResult::fail);
    CHECK(rp.explanation.starts_with("dropped: no sysctl snapshot"));
}

TEST_CASE("interleaved packets on several CPUs each get their own steps and routes") {
    Collected c;
    PacketInfo a = icmp_packet(0xa, "10.0.0.1", "198.51.100.9", 8);
    PacketInfo b = icmp_packet(0xb, "10.0.0.1", "198.51.100.10", 8);
    PacketInfo a2 = icmp_packet(0xa2, "10.0.0.1", "198.51.100.9", 8);
    RouteDecision ra = inner_request_route(100);
    RouteDecision rb = inner_request_route(110, "198.51.100.10");
    RouteDecision ra2 = inner_request_route(120);
    rb.cpu = 1;
    c.builder.add(ra);
    c.builder.add(rb);
    c.builder.add(ra2);
    NetfilterStep sb = filter_output(b, 130);
    c.builder.add(sb); // b's first step comes first: it takes its own route, not a's
    c.builder.add(filter_output(a, 140));
    c.builder.add(filter_output(a2, 150));
    c.builder.add(egress(a2, kC0, 160));
    c.builder.add(egress(b, kC0, 170));
    c.builder.add(egress(a, kC0, 180));
    c.builder.flush_all();
    REQUIRE(c.out.size() == 3);

    auto route_time = [](const PacketTimeline& t) { return steps_of<RouteDecision>(t).at(0).t_ns; };
    for (const PacketTimeline& t : c.out) {
        CHECK(kinds(t) == Kinds{"route", "nf", "dev"});
        CHECK(steps_of<RouteDecision>(t)[0].dst == t.pkt.dst);
    }
    // Emitted in completion order; ids in creation order (b's first step created #1).
    CHECK(c.out[0].packet_id == 0xa2);
    CHECK(c.out[1].packet_id == 0xb);
    CHECK(c.out[1].id == 1);
    CHECK(route_time(c.out[1]) == 110);
    // Same destination: the older decision goes to the packet seen first.
    CHECK(c.out[2].packet_id == 0xa);
    CHECK(route_time(c.out[2]) == 100);
    CHECK(route_time(c.out[0]) == 120);
    CHECK(c.builder.unattached_routes() == 0);
}

TEST_CASE("a device step that names the sender takes that sender's decision") {
    Collected c;
    RouteDecision other = inner_request_route(100);
    other.tgid = 1;
    c.builder.add(other);
    c.builder.add(inner_request_route(110)); // ping's
    PacketInfo p = icmp_packet(0xa, "10.0.0.1", "198.51.100.9", 8);
    c.builder.add(egress(p, kC0, 120, kPing)); // no netfilter module: the device step attaches it
    REQUIRE(c.out.size() == 1);
    CHECK(steps_of<RouteDecision>(c.out[0])[0].tgid == kPing);
    c.builder.flush(100 + 50'000'000);
    CHECK(c.out.size() == 1); // the other sender's decision took no packet: counted, not a timeline
    CHECK(c.builder.unattached_routes() == 1);
}

TEST_CASE("an output decision that arrives after its packet's first step still joins it") {
    Collected c;
    PacketInfo p = icmp_packet(0xa, "10.0.0.1", "198.51.100.9", 8);
    c.builder.add(filter_output(p, 200));
    c.builder.add(inner_request_route(100)); // its walk finished late
    c.builder.add(egress(p, kWg0, 300));
    c.builder.flush_all();
    REQUIRE(c.out.size() == 1);
    CHECK(kinds(c.out[0]) == Kinds{"route", "nf", "dev"});
    CHECK(c.builder.unattached_routes() == 0);
}

TEST_CASE("a failed output decision no packet takes is a timeline of its own; a successful one is only counted") {
    Collected c;
    RouteDecision d = inner_request_route(1'000);
    d.result = LookupResult::unreachable; // e.g. ping to a network with no route: no packet is ever built
    c.builder.add(d);
    // A packet to another destination and one whose mark differs do not take it.
    PacketInfo other = icmp_packet(0xa, "10.0.0.1", "198.51.100.77", 8);
    c.builder.add(filter_output(other, 2'000));
    PacketInfo marked = icmp_packet(0xb, "10.0.0.1", "198.51.100.9", 8);
    c.builder.add(filter_output(marked, 3'000, 0x1));
    c.builder.flush(1'000 + 49'999'999);
    CHECK(c.out.empty());
    c.builder.flush(1'000 + 50'000'000);
    REQUIRE(c.out.size() == 1);
    const PacketTimeline& t = c.out[0];
    CHECK(t.id == 3);
    CHECK(t.outcome == Outcome::unknown);
    CHECK(t.packet_id == 0);
    CHECK(t.pkt.dst == ip("198.51.100.9"));
    CHECK(kinds(t) == Kinds{"route"});
    CHECK(has_gap(t, "no packet followed this route decision within 50 ms"));
    CHECK(c.builder.unattached_routes() == 1);

    // A decision too old for a packet is not taken either.
    Collected late;
    late.builder.add(inner_request_route(1'000));
    PacketInfo p = icmp_packet(0xa, "10.0.0.1", "198.51.100.9", 8);
    late.builder.add(filter_output(p, 1'000 + 60'000'000));
    late.builder.add(egress(p, kC0, 1'000 + 60'000'100));
    late.builder.flush_all();
    // The packet's step showed the decision too old: it left then, counted; the packet says what it misses.
    REQUIRE(late.out.size() == 1);
    CHECK(kinds(late.out[0]) == Kinds{"nf", "dev"});
    CHECK(has_gap(late.out[0], "no route lookup seen"));
    CHECK(late.builder.unattached_routes() == 1);
}

TEST_CASE("a packet id seen again after its timeline completed starts a new timeline") {
    Collected c;
    PacketInfo p = icmp_packet(0xa, "10.0.0.1", "198.51.100.9", 8);
    c.builder.add(inner_request_route(100));
    c.builder.add(filter_output(p, 110));
    c.builder.add(egress(p, kC0, 120));
    REQUIRE(c.out.size() == 1);
    CHECK(c.out[0].outcome == Outcome::sent);

    PacketInfo reused = icmp_packet(0xa, "10.0.0.1", "192.168.178.1", 8); // the kernel reused the buffer
    c.builder.add(filter_output(reused, 500));
    c.builder.add(egress(reused, kC0, 510));
    REQUIRE(c.out.size() == 2);
    CHECK(c.out[1].id == 2);
    CHECK(c.out[1].packet_id == 0xa);
    CHECK(c.out[1].pkt.dst == ip("192.168.178.1"));
    CHECK(kinds(c.out[1]) == Kinds{"nf", "dev"});
}

TEST_CASE("idle timelines complete: delivered after an input accept, unknown otherwise, dropped after a drop verdict") {
    Collected c;
    PacketInfo quiet = icmp_packet(0xa, "198.51.100.9", "10.0.0.1", 0);
    c.builder.add(preraw(quiet, 1'000));
    PacketInfo delivered = icmp_packet(0xb, "198.51.100.9", "10.0.0.1", 0);
    c.builder.add(filter_input(delivered, 2'000));
    PacketInfo dropped = icmp_packet(0xc, "10.0.0.1", "198.51.100.9", 8);
    NetfilterStep verdict = filter_output(dropped, 3'000);
    verdict.verdict = NfVerdict::drop; // the drop module is not running: no DropStep follows
    c.builder.add(verdict);
    c.builder.add(outer_input_route(4'000, 0xd)); // no netfilter module either: the route says local
    c.builder.flush(1'000 + 200'000'000);
    REQUIRE(c.out.size() == 1);
    CHECK(c.out[0].outcome == Outcome::unknown);
    CHECK(has_gap(c.out[0], "no delivery, egress or drop seen (idle for 200 ms)"));
    c.builder.flush(4'000 + 200'000'000);
    REQUIRE(c.out.size() == 4);
    CHECK(c.out[1].outcome == Outcome::delivered);
    CHECK(c.out[2].outcome == Outcome::dropped);
    CHECK(c.out[3].outcome == Outcome::delivered);
    CHECK(c.out[3].pkt.src == ip("203.0.113.123")); // known from the route's flow only
    CHECK(c.builder.open() == 0);
}

TEST_CASE("input and reverse decisions may come before the packet's first step") {
    Collected c;
    c.builder.add(outer_input_route(100, kOuterIn));
    c.builder.add(outer_reverse_route(110, kOuterIn));
    PacketInfo outer = outer_in(kOuterIn, 128, wg_data(kClientIndex, 5));
    c.builder.add(filter_input(outer, 120, kWgMark));
    c.builder.flush_all();
    REQUIRE(c.out.size() == 1);
    const PacketTimeline& t = c.out[0];
    CHECK(kinds(t) == Kinds{"route", "rp_filter", "nf", "wg"});
    CHECK(t.pkt.len == 156);                         // the packet as seen, not the flow's guess
    CHECK(steps_of<RpFilterStep>(t)[0].iif == "c0"); // from the input decision's iif
}

TEST_CASE("loose mode's second reverse lookup is a plain route step") {
    Collected c;
    c.config.ipv4_conf["all"].rp_filter = 2;
    PacketInfo outer = outer_in(kOuterIn, 128, wg_data(kClientIndex, 5));
    c.builder.add(ingress(outer, kC0, 100));
    c.builder.add(outer_reverse_route(110, kOuterIn, false));
    RouteDecision second = outer_reverse_route(111, kOuterIn, false);
    second.oif = "c0";
    c.builder.add(second);
    c.builder.flush_all();
    REQUIRE(c.out.size() == 1);
    CHECK(kinds(c.out[0]) == Kinds{"dev", "wg", "rp_filter", "route"});
    CHECK(steps_of<RpFilterStep>(c.out[0])[0].mode == RpFilterMode::loose);
}

TEST_CASE("at most max_open timelines: the oldest is evicted, marked and counted") {
    TimelineLimits limits;
    limits.max_open = 2;
    Collected c(limits);
    for (uint64_t id = 1; id <= 3; ++id) c.builder.add(preraw(icmp_packet(id, "198.51.100.9", "10.0.0.1", 0), id * 10));
    REQUIRE(c.out.size() == 1);
    CHECK(c.out[0].packet_id == 1);
    CHECK(c.out[0].outcome == Outcome::unknown);
    CHECK(has_gap(c.out[0], "evicted before completion (more than 2 packets open)"));
    CHECK(c.builder.evicted() == 1);
    CHECK(c.builder.open() == 2);
}

TEST_CASE("eviction takes the oldest open timeline, not a completed one waiting for its link") {
    TimelineLimits limits;
    limits.max_open = 2;
    Collected c(limits);
    // Two inner packets handed to wg0: completed, held for their outer packets (older than what follows).
    c.builder.add(egress(icmp_packet(0x40, "10.0.0.1", "198.51.100.9", 8), kWg0, 10));
    c.builder.add(egress(icmp_packet(0x41, "10.0.0.1", "198.51.100.9", 9), kWg0, 20));
    REQUIRE(c.builder.open() == 0);
    for (uint64_t id = 1; id <= 3; ++id)
        c.builder.add(preraw(icmp_packet(id, "198.51.100.9", "10.0.0.1", 0), 100 + id));
    REQUIRE(c.out.size() == 1);
    CHECK(c.out[0].packet_id == 1);
    CHECK(has_gap(c.out[0], "evicted before completion"));
    CHECK(c.builder.open() == 2);
    c.builder.flush_all();
    for (const PacketTimeline& t : c.out)
        if (t.packet_id == 0x40 || t.packet_id == 0x41) CHECK_FALSE(has_gap(t, "evicted"));
}

TEST_CASE("lost events mark a gap in every open timeline") {
    Collected c;
    c.builder.add(preraw(icmp_packet(1, "198.51.100.9", "10.0.0.1", 0), 10));
    c.builder.add(preraw(icmp_packet(2, "198.51.100.9", "10.0.0.1", 0), 20));
    PacketInfo sent = icmp_packet(3, "10.0.0.1", "198.51.100.9", 8);
    c.builder.add(inner_request_route(25));
    c.builder.add(egress(sent, kC0, 30));
    c.builder.lost(ModuleId::route, 12);
    c.builder.flush_all();
    REQUIRE(c.out.size() == 3);
    CHECK_FALSE(has_gap(
        c.out[0], "route events lost here")); // already out of the builder (the pipeline holds it: test_event_pipeline)
    CHECK(has_gap(c.out[1], "12 route events lost here"));
    CHECK(has_gap(c.out[2], "12 route events lost here"));
}

TEST_CASE("handshakes and keepalives are shown as such and never linked") {
    Collected c;
    // An inner packet waits for its outer; the handshake and the keepalive to the same peer do not take it.
    PacketInfo req = icmp_packet(kRequest, "10.0.0.1", "198.51.100.9", 8);
    c.builder.add(inner_request_route(100));
    c.builder.add(egress(req, kWg0, 110));
    CHECK(c.out.empty()); // held for its outer packet

    PacketInfo init = outer_out(0x10, 148, wg_initiation(0x42));
    c.builder.add(outer_route(200));
    c.builder.add(egress(init, kC0, 210));
    PacketInfo ka = outer_out(0x11, 32, wg_data(kServerIndex, 0));
    c.builder.add(outer_route(300));
    c.builder.add(egress(ka, kC0, 310));
    PacketInfo resp = outer_in(0x12, 92, wg_response(0x77, 0x42));
    c.builder.add(ingress(resp, kC0, 400));
    c.builder.flush(400 + 200'000'000);
    REQUIRE(c.out.size() == 4);

    const PacketTimeline& i = c.out[0];
    CHECK(i.packet_id == 0x10);
    CHECK(kinds(i) == Kinds{"wg", "route", "dev"});
    CHECK(steps_of<WireguardStep>(i)[0].action == WgAction::handshake_initiation);
    CHECK(steps_of<WireguardStep>(i)[0].sender_index == 0x42u);
    CHECK_FALSE(i.outer_of);
    CHECK(c.out[1].packet_id == 0x11);
    CHECK(steps_of<WireguardStep>(c.out[1])[0].action == WgAction::keepalive);
    CHECK_FALSE(c.out[1].outer_of);

    // The inner packet, released once its link window passed: handed to WireGuard, but no outer packet seen
    // for it, so its encryption is not claimed.
    CHECK(c.out[2].packet_id == kRequest);
    CHECK(c.out[2].outcome == Outcome::unknown);
    CHECK_FALSE(c.out[2].encapsulated_in);
    CHECK(has_gap(c.out[2], "handed to WireGuard (wg0), but no outer packet was linked to it: no session with peer"));
    CHECK(has_gap(c.out[2], "WireGuard sent it a handshake initiation (0 ms apart) and holds the packet"));

    CHECK(c.out[3].packet_id == 0x12);
    CHECK(steps_of<WireguardStep>(c.out[3])[0].action == WgAction::handshake_response);
    CHECK(steps_of<WireguardStep>(c.out[3])[0].receiver_index == 0x42u);
    CHECK(c.out[3].outcome == Outcome::unknown);
}

TEST_CASE("a held inner packet is released when its link window passes") {
    Collected c;
    PacketInfo req = icmp_packet(kRequest, "10.0.0.1", "198.51.100.9", 8);
    c.builder.add(inner_request_route(100));
    c.builder.add(egress(req, kWg0, 110));
    c.builder.flush(110 + 49'000'000);
    CHECK(c.out.empty());
    CHECK(c.builder.open() == 0); // held, not open
    c.builder.flush(110 + 50'000'000);
    REQUIRE(c.out.size() == 1);
    CHECK(c.out[0].outcome == Outcome::unknown);

    CHECK(has_gap(c.out[0], "its outer packet was not seen"));

    // No peer covers the destination: not sent, inferred from the configuration and said so.
    Collected d;
    PacketInfo rs = icmp_packet(0x30, "10.0.0.1", "203.0.113.200", 8);
    d.wireguard[0].peers[0].allowed_ips = {net("198.51.100.0/24")};
    d.builder.add(egress(rs, kWg0, 110));
    d.builder.flush_all();
    REQUIRE(d.out.size() == 1);
    CHECK(d.out[0].outcome == Outcome::not_sent);
    CHECK(d.out[0].outcome_inferred);
    auto wg = steps_of<WireguardStep>(d.out[0]);
    REQUIRE(wg.size() == 1);
    CHECK(wg[0].verdict == "no_peer");
    CHECK(wg[0].inferred);
    CHECK(wg[0].dropped == "no peer's allowed IPs contain 203.0.113.200: WireGuard drops it");

    // The same with events lost around it: its outer packet, or the event naming its peer, may be among them.
    Collected l;
    l.wireguard[0].peers[0].allowed_ips = {net("198.51.100.0/24")};
    l.builder.lost(ModuleId::device, 2); // just before it was seen
    l.builder.add(egress(rs, kWg0, 110));
    l.builder.flush_all();
    REQUIRE(l.out.size() == 1);
    CHECK(l.out[0].outcome == Outcome::unknown);
    CHECK(steps_of<WireguardStep>(l.out[0]).empty());
    CHECK(has_gap(l.out[0], "its outer packet was not seen (a handshake first, or events lost)"));

    // Its peer has no endpoint: not sent either.
    Collected n;
    n.wireguard[0].peers[0].endpoint.reset();
    n.builder.add(egress(req, kWg0, 110));
    n.builder.flush_all();
    REQUIRE(n.out.size() == 1);
    CHECK(n.out[0].outcome == Outcome::not_sent);
    CHECK(steps_of<WireguardStep>(n.out[0])[0].verdict == "no_endpoint");
}

TEST_CASE("outer packets pair with inner packets by length; an outer seen first waits for its inner") {
    Collected c;
    PacketInfo small = icmp_packet(0xa, "10.0.0.1", "198.51.100.9", 8, 84);
    PacketInfo big = icmp_packet(0xb, "10.0.0.1", "198.51.100.9", 8, 1000);
    c.builder.add(egress(small, kWg0, 100));
    c.builder.add(egress(big, kWg0, 110));
    PacketInfo outer_big = outer_out(0x1b, outer_payload(1000), wg_data(kServerIndex, 7));
    c.builder.add(egress(outer_big, kC0, 200));
    REQUIRE(c.out.size() == 2);
    CHECK(c.out[0].packet_id == 0xb);
    CHECK(c.out[0].encapsulated_in == c.out[1].id);
    CHECK(c.out[1].outer_of == c.out[0].id);
    CHECK(steps_of<WireguardStep>(c.out[0])[0].counter == 7u);

    // The outer of the small one comes before the small one's egress event was seen (events of two packets
    // may come out of order): it waits, and the inner finds it.
    Collected d;
    PacketInfo outer_small = outer_out(0x1a, outer_payload(84), wg_data(kServerIndex, 8));
    d.builder.add(egress(outer_small, kC0, 200));
    d.builder.add(egress(small, kWg0, 190));
    REQUIRE(d.out.size() == 2);
    CHECK(d.out[0].outer_of == 2u);
    CHECK(d.out[1].encapsulated_in == 1u);
    CHECK(kinds(d.out[1]) == Kinds{"dev", "wg"});
}

TEST_CASE("a TUN device that drops what it was handed (its queue full) ends that timeline: not encapsulated, and "
          "no later outer packet of that length is linked to it") {
    Collected c;
    PacketInfo inner = icmp_packet(0xa, "10.0.0.1", "198.51.100.9", 8, 84);
    c.builder.add(egress(inner, kWg0, 100));
    DropStep drop;
    drop.t_ns = 116; // tun_net_xmit frees it at once
    drop.netns = kNs;
    drop.pkt = inner;
    drop.reason = "FULL_RING";
    c.builder.add(drop);
    PacketInfo other_outer = outer_out(0x1b, outer_payload(84), wg_data(kServerIndex, 9)); // another packet's
    c.builder.add(egress(other_outer, kC0, 200));
    c.builder.flush_all();
    REQUIRE(c.out.size() == 2);
    const PacketTimeline& t = c.out[0].packet_id == 0xa ? c.out[0] : c.out[1];
    CHECK(t.outcome == Outcome::dropped);
    CHECK_FALSE(t.encapsulated_in);
    CHECK(kinds(t) == Kinds{"dev", "drop"});
    CHECK(steps_of<DropStep>(t)[0].reason == "FULL_RING");
}

TEST_CASE("an incoming inner packet from a source outside the peer's allowed IPs is not linked") {
    Collected c;
    c.wireguard[0].peers[0].allowed_ips = {net("10.0.0.254/32")};
    PacketInfo outer = outer_in(kOuterIn, outer_payload(84), wg_data(kClientIndex, 5));
    c.builder.add(ingress(outer, kC0, 100));
    PacketInfo reply = icmp_packet(kReply, "198.51.100.9", "10.0.0.1", 0);
    c.builder.add(ingress(reply, kWg0, 200));
    c.builder.flush_all();
    REQUIRE(c.out.size() == 2);
    CHECK_FALSE(c.out[0].outer_of);
    CHECK_FALSE(c.out[1].decapsulated_from);
}

TEST_CASE("without a context the builder still stitches packets") {
    std::vector<PacketTimeline> out;
    TimelineBuilder b({}, [&](PacketTimeline&& t) { out.push_back(std::move(t)); });
    PacketInfo p = icmp_packet(0xa, "10.0.0.1", "198.51.100.9", 8);
    b.add(filter_output(p, 10));
    b.add(egress(p, 7, 20));
    REQUIRE(out.size() == 1);
    CHECK(steps_of<DeviceStep>(out[0])[0].dev == "if7");
    CHECK(out[0].outcome == Outcome::sent);
}

TEST_CASE("kernel WireGuard: the same buffer comes back in through wg0 after decryption, a new linked timeline") {
    Collected c;
    PacketInfo outer = outer_in(0x77, outer_payload(84), wg_data(kClientIndex, 5));
    c.builder.add(ingress(outer, kC0, 100));
    c.builder.add(premangle(outer, 110, kWgMark));
    c.builder.add(filter_input(outer, 120, kWgMark));
    PacketInfo reply = icmp_packet(0x77, "198.51.100.9", "10.0.0.1", 0); // decrypted in place
    c.builder.add(ingress(reply, kWg0, 200));
    c.builder.add(filter_input(reply, 210));
    REQUIRE(c.out.size() == 1);
    CHECK(c.out[0].id == 1);
    CHECK(c.out[0].outcome == Outcome::decapsulated);
    CHECK(c.out[0].outer_of == 2u);
    CHECK(kinds(c.out[0]) == Kinds{"dev", "nf", "nf", "wg"});
    c.builder.flush_all();
    REQUIRE(c.out.size() == 2);
    CHECK(c.out[1].decapsulated_from == 1u);
    CHECK(kinds(c.out[1]) == Kinds{"wg", "dev", "nf"});
    CHECK(c.out[1].outcome == Outcome::delivered);
}

namespace {

WireguardKernelEvent kernel_peer_lookup(const PacketInfo& inner, bool encrypt, uint64_t t, bool found = true) {
    WireguardKernelEvent e;
    e.t_ns = t;
    e.netns = kNs;
    e.pkt = inner;
    e.ifindex = kWg0;
    e.action = encrypt ? WgKernelAction::encrypt : WgKernelAction::decrypt;
    e.found = found;
    if (!found && encrypt) e.verdict = WgVerdict::no_peer;
    for (size_t i = 0; i < e.peer_key.size(); ++i) e.peer_key[i] = uint8_t(i + 1);
    return e;
}

std::string kernel_lookup_key() {
    uint8_t key[32];
    for (int i = 0; i < 32; ++i) key[i] = uint8_t(i + 1);
    return key_to_base64(key);
}

} // namespace

TEST_CASE("kernel WireGuard: outer packets pair with their inner packets by packet id, not by order") {
    Collected c;
    c.wireguard[0].implementation = WgImplementation::kernel;
    PacketInfo first = icmp_packet(0x101, "10.0.0.1", "198.51.100.9", 8);
    PacketInfo second = icmp_packet(0x102, "10.0.0.1", "198.51.100.9", 8);
    c.builder.add(egress(first, kWg0, 100));
    c.builder.add(kernel_peer_lookup(first, true, 101));
    c.builder.add(egress(second, kWg0, 110));
    c.builder.add(kernel_peer_lookup(second, true, 111));
    // The second is encrypted and sent first (another CPU): order and length would pair it with the first.
    c.builder.add(egress(outer_out(0x102, outer_payload(84), wg_data(kServerIndex, 8)), kC0, 200));
    c.builder.add(egress(outer_out(0x101, outer_payload(84), wg_data(kServerIndex, 7)), kC0, 210));
    c.builder.flush_all();
    REQUIRE(c.out.size() == 4);
    const PacketTimeline* inner1 = c.by_id(1);
    const PacketTimeline* inner2 = c.by_id(2);
    REQUIRE(inner1);
    REQUIRE(inner2);
    REQUIRE(inner1->encapsulated_in);
    REQUIRE(inner2->encapsulated_in);
    CHECK(c.by_id(*inner1->encapsulated_in)->packet_id == 0x101);
    CHECK(c.by_id(*inner2->encapsulated_in)->packet_id == 0x102);
    auto wg1 = steps_of<WireguardStep>(*inner1);
    REQUIRE(wg1.size() == 1);
    CHECK(wg1[0].counter == 7u);
    CHECK(wg1[0].linked_by == WgLinkedBy::skb);
    CHECK(wg1[0].peer == kernel_lookup_key()); // the peer the kernel chose, not one inferred
    auto outer_wg = steps_of<WireguardStep>(*c.by_id(*inner1->encapsulated_in));
    REQUIRE(outer_wg.size() == 1);
    CHECK(outer_wg[0].peer == kernel_lookup_key());
}

TEST_CASE(
    "kernel WireGuard: an outer packet to an endpoint wgbpf does not know is still linked, with the kernel's peer") {
    Collected c;
    c.wireguard[0].implementation = WgImplementation::kernel;
    PacketInfo inner = icmp_packet(0x201, "10.0.0.1", "198.51.100.9", 8);
    c.builder.add(egress(inner, kWg0, 100));
    c.builder.add(kernel_peer_lookup(inner, true, 101));
    PacketInfo outer = udp_packet(0x201, "192.168.178.48", 51820, "198.18.0.7", 40000, outer_payload(84),
                                  wg_data(kServerIndex, 1)); // the peer roamed
    c.builder.add(egress(outer, kC0, 200));
    c.builder.flush_all();
    REQUIRE(c.out.size() == 2);
    REQUIRE(c.by_id(1)->encapsulated_in == 2u);
    auto wg = steps_of<WireguardStep>(*c.by_id(2));
    REQUIRE(wg.size() == 1);
    CHECK(wg[0].peer == kernel_lookup_key());
    CHECK(wg[0].endpoint == "198.18.0.7:40000");
}

TEST_CASE("kernel WireGuard: the decrypted packet is linked to its outer packet by packet id") {
    Collected c;
    c.wireguard[0].implementation = WgImplementation::kernel;
    PacketInfo outer = outer_in(0x301, outer_payload(84), wg_data(kClientIndex, 5));
    PacketInfo other = outer_in(0x302, outer_payload(84), wg_data(kClientIndex, 6));
    c.builder.add(ingress(outer, kC0, 100));
    c.builder.add(ingress(other, kC0, 105));
    PacketInfo reply = icmp_packet(0x301, "198.51.100.9", "10.0.0.1", 0);
    c.builder.add(kernel_peer_lookup(reply, false, 150));
    c.builder.add(ingress(reply, kWg0, 200));
    c.builder.flush_all();
    const PacketTimeline* inner = nullptr;
    for (const PacketTimeline& t : c.out)
        if (t.packet_id == 0x301 && t.pkt.proto == 1) inner = &t;
    REQUIRE(inner);
    REQUIRE(inner->decapsulated_from);
    CHECK(c.by_id(*inner->decapsulated_from)->packet_id == 0x301);
    auto wg = steps_of<WireguardStep>(*inner);
    REQUIRE(wg.size() == 1);
    CHECK(wg[0].counter == 5u);
    CHECK(wg[0].linked_by == WgLinkedBy::skb);
}

TEST_CASE("kernel WireGuard: a packet no peer's allowed IPs cover says so before its drop") {
    Collected c;
    c.wireguard[0].implementation = WgImplementation::kernel;
    PacketInfo inner = icmp_packet(0x401, "10.0.0.1", "198.51.100.9", 8);
    c.builder.add(egress(inner, kWg0, 100));
    c.builder.add(kernel_peer_lookup(inner, true, 101, false));
    // wg_xmit frees it right after: the same drop, not a new packet.
    DropStep drop;
    drop.t_ns = 102;
    drop.netns = kNs;
    drop.pkt = inner;
    drop.reason = "NOT_SPECIFIED";
    c.builder.add(drop);
    c.builder.flush_all();
    REQUIRE(c.out.size() == 1);
    CHECK(c.out[0].outcome == Outcome::dropped);
    CHECK_FALSE(c.out[0].outcome_inferred);
    auto wg = steps_of<WireguardStep>(c.out[0]);
    REQUIRE(wg.size() == 1);
    CHECK(wg[0].action == WgAction::encrypt);
    CHECK(wg[0].verdict == "no_peer");
    CHECK_FALSE(wg[0].inferred);
    CHECK(wg[0].dropped.find("no peer's allowed IPs contain 198.51.100.9") == 0);
    CHECK(wg[0].interface == "wg0");
}

TEST_CASE("kernel WireGuard: a decrypted packet whose source is not in its sender's allowed IPs ends the outer "
          "packet's timeline as dropped, naming the peer, its allowed IPs, and the peer the source belongs to") {
    Collected c;
    c.wireguard[0].implementation = WgImplementation::kernel;
    WgPeer other;
    other.public_key = "T1RIRVJQRUVSLi4uLi4uLi4uLi4uLi4uLi4uLi4uLi4=";
    other.allowed_ips = {net("10.0.0.2/32")};
    c.wireguard[0].peers.push_back(other);
    PacketInfo outer = outer_in(0x701, outer_payload(84), wg_data(kClientIndex, 9));
    c.builder.add(ingress(outer, kC0, 100));
    PacketInfo inner = icmp_packet(0x701, "10.0.0.2", "10.0.0.1", 8);
    c.wireguard[0].peers[0].public_key = kernel_lookup_key(); // the sender: the key in the event
    WireguardKernelEvent ev = kernel_peer_lookup(inner, false, 120);
    ev.verdict = WgVerdict::src_not_allowed;
    c.builder.add(ev);
    c.builder.flush_all();
    REQUIRE(c.out.size() == 1);
    CHECK(c.out[0].packet_id == 0x701);
    CHECK(c.out[0].outcome == Outcome::dropped);
    auto wg = steps_of<WireguardStep>(c.out[0]);
    REQUIRE(wg.size() == 2);
    CHECK(wg[1].verdict == "src_not_allowed");
    CHECK(wg[1].dropped.find("source 10.0.0.2 is not in the allowed IPs of peer " +
                             c.wireguard[0].peers[0].public_key.substr(0, 8)) == 0);
    CHECK(wg[1].dropped.find("it is in peer T1RIRVJQ...'s") != std::string::npos);
}

TEST_CASE("kernel WireGuard: a handshake initiation refused is the verdict on its outer packet: an invalid MAC, the "
          "flood limit or the timestamp of a known peer's") {
    for (auto [verdict, name, why] :
         {std::tuple{WgVerdict::bad_mac, "bad_mac", "invalid MAC"},
          {WgVerdict::flood, "flood", "within 20 ms of the last initiation accepted from that peer"},
          {WgVerdict::timestamp_refused, "timestamp_refused", "its timestamp is not newer than the last one accepted"},
          {WgVerdict::rejected, "rejected", "not told apart"}}) {
        Collected c;
        c.wireguard[0].implementation = WgImplementation::kernel;
        PacketInfo init = outer_in(0x802, 148, wg_initiation(0x98));
        c.builder.add(ingress(init, kC0, 100));
        WireguardKernelEvent ev = kernel_peer_lookup(init, false, 130, false);
        ev.action = WgKernelAction::handshake;
        ev.verdict = verdict;
        ev.message = 1;
        c.builder.add(ev);
        c.builder.flush_all();
        REQUIRE(c.out.size() == 1);
        check_wireguard_drop(c.out[0], name, false, why);
        CHECK(sole_wireguard_step(c.out[0]).action == WgAction::handshake_initiation);
    }
}

TEST_CASE("user-space WireGuard: a data packet received with no inner packet after it is dropped inside WireGuard, "
          "inferred, with the likely cause from its peer's allowed IPs") {
    Collected c;
    PacketInfo outer = outer_in(kOuterIn, outer_payload(84), wg_data(kClientIndex, 5));
    c.builder.add(ingress(outer, kC0, 100));
    c.builder.flush(100 + 50'000'000);
    c.builder.flush_all();
    REQUIRE(c.out.size() == 1);
    CHECK(c.out[0].outcome == Outcome::dropped);
    CHECK(c.out[0].outcome_inferred);
    auto wg = steps_of<WireguardStep>(c.out[0]);
    REQUIRE(wg.size() == 1);
    CHECK(wg[0].verdict == "not_decrypted");
    CHECK(wg[0].inferred);
    CHECK(wg[0].dropped.find("no inner packet came out of wg0 within 50 ms; likely: its inner source is not in the "
                             "allowed IPs of peer") == 0);
}

TEST_CASE("user-space WireGuard: links say they were paired by peer, order and length") {
    Collected c;
    feed_outgoing_ping(c.builder);
    c.builder.flush_all();
    auto wg = steps_of<WireguardStep>(*c.by_id(1));
    REQUIRE(wg.size() == 1);
    CHECK(wg[0].linked_by == WgLinkedBy::peer_order_length);
}

TEST_CASE("a buffer reused for another packet before the first one's end was seen ends the first timeline") {
    Collected c;
    PacketInfo first = icmp_packet(0x501, "10.0.0.1", "198.51.100.9", 8);
    first.ip_id = 100;
    c.builder.add(filter_output(first, 100)); // its egress was lost
    PacketInfo second = icmp_packet(0x501, "10.0.0.1", "198.51.100.9", 8);
    second.ip_id = 101; // same buffer, the next echo request
    c.builder.add(filter_output(second, 200));
    c.builder.add(egress(second, kC0, 210));
    c.builder.flush_all();
    REQUIRE(c.out.size() == 2);
    CHECK(c.out[0].pkt.ip_id == 100);
    CHECK(c.out[0].steps.size() == 1);
    CHECK(has_gap(c.out[0], "reused for another packet"));
    CHECK(c.out[1].pkt.ip_id == 101);
    CHECK(c.out[1].outcome == Outcome::sent);
}

TEST_CASE("a buffer reused after its packet was delivered locally ends the timeline without a gap") {
    Collected c;
    PacketInfo reply = icmp_packet(0x502, "198.51.100.9", "10.0.0.1", 0);
    reply.ip_id = 300;
    c.builder.add(filter_input(reply, 100)); // accepted at input: delivered; the socket frees it untraced
    PacketInfo next = icmp_packet(0x502, "10.0.0.1", "198.51.100.9", 8);
    next.ip_id = 301;
    c.builder.add(filter_output(next, 200));
    c.builder.add(egress(next, kC0, 210));
    c.builder.flush_all();
    REQUIRE(c.out.size() == 2);
    CHECK(c.out[0].outcome == Outcome::delivered);
    CHECK(c.out[0].gaps.empty());
    CHECK(c.out[1].outcome == Outcome::sent);
}

TEST_CASE("a buffer a device made just now (a NIC's, a TUN's) starts another packet's story, even when it looks "
          "like the packet last seen in it") {
    // Two IPv6 echo requests of one length: IPv6 has no identification, so their contents cannot tell them apart.
    // The first one's end was not seen (freed without a traced free); the second arrives in the same buffer.
    auto v6 = [](uint64_t id) {
        PacketInfo p = icmp_packet(id, "2001:db8::1", "2001:db8::9", 128, 104);
        p.family = Family::ipv6;
        p.proto = 58;
        p.l3_len = 40;
        p.ip_id = 0;
        return p;
    };
    for (bool told : {true, false}) {
        Collected c;
        c.builder.add(filter_output(v6(0x503), 100));
        DeviceEvent arrives = ingress(v6(0x503), kC0, 200);
        arrives.new_buffer = told;
        c.builder.add(arrives);
        c.builder.flush_all();
        if (told) {
            REQUIRE(c.out.size() == 2);
            CHECK(c.out[0].steps.size() == 1);
            CHECK(has_gap(c.out[0], "came back as a new packet"));
            CHECK(c.out[1].steps.size() == 1);
        } else {
            CHECK(c.out.size() == 1); // without the device's word, the contents alone decide: one story
        }
    }
}

TEST_CASE("a timeline keeps at most max_steps steps and says how it was cut") {
    TimelineLimits limits;
    limits.max_steps = 3;
    Collected c(limits);
    PacketInfo p = icmp_packet(0x601, "10.0.0.1", "198.51.100.9", 8);
    for (uint64_t t = 100; t < 110; ++t) c.builder.add(filter_output(p, t));
    c.builder.flush_all();
    REQUIRE(c.out.size() == 1);
    CHECK(c.out[0].steps.size() == 3);
    CHECK(has_gap(c.out[0], "more than 3 steps"));
}

TEST_CASE("user-space WireGuard: an outer packet from an endpoint no peer had yet is linked to its inner packet, "
          "with the peer whose allowed IPs hold the inner source") {
    // A server's peer roaming in: the configuration was read before its first handshake, no endpoint.
    Collected c;
    c.wireguard[0].peers[0].endpoint.reset();
    PacketInfo outer = outer_in(kOuterIn, outer_payload(84), wg_data(kClientIndex, 5));
    c.builder.add(ingress(outer, kC0, 100));
    PacketInfo reply = icmp_packet(kReply, "198.51.100.9", "10.0.0.1", 0);
    c.builder.add(ingress(reply, kWg0, 200));
    c.builder.flush_all();
    REQUIRE(c.out.size() == 2);
    CHECK(c.out[0].outer_of == c.out[1].id);
    CHECK(c.out[1].decapsulated_from == c.out[0].id);
    CHECK(steps_of<WireguardStep>(c.out[0])[0].peer == kServerKey);
    CHECK(steps_of<WireguardStep>(c.out[1])[0].peer == kServerKey);
    CHECK(steps_of<WireguardStep>(c.out[1])[0].linked_by == WgLinkedBy::peer_order_length);

    // The reply goes back to the endpoint it roamed in from: linked to the same peer, learned from the link.
    Collected r;
    r.wireguard[0].peers[0].endpoint.reset();
    r.builder.add(ingress(outer, kC0, 100));
    r.builder.add(ingress(reply, kWg0, 200));
    PacketInfo back = icmp_packet(kRequest, "10.0.0.1", "198.51.100.9", 8);
    r.builder.add(egress(back, kWg0, 300));
    PacketInfo back_outer = outer_out(kOuterOut, outer_payload(84), wg_data(kServerIndex, 7));
    back_outer.dst = outer.src;
    back_outer.dport = outer.sport;
    r.builder.add(egress(back_outer, kC0, 400));
    r.builder.flush_all();
    REQUIRE(r.out.size() == 4);
    auto with_packet = [&](uint64_t id) {
        auto it = std::find_if(r.out.begin(), r.out.end(), [&](const PacketTimeline& t) { return t.pkt.id == id; });
        REQUIRE(it != r.out.end());
        return *it;
    };
    PacketTimeline inner_back = with_packet(kRequest), outer_back = with_packet(kOuterOut);
    CHECK(inner_back.encapsulated_in == outer_back.id);
    CHECK(steps_of<WireguardStep>(outer_back)[0].peer == kServerKey);

    // Outside every peer's allowed IPs: WireGuard would not have accepted it from anyone, no link.
    Collected d;
    d.wireguard[0].peers[0].endpoint.reset();
    d.wireguard[0].peers[0].allowed_ips = {net("10.0.0.254/32")};
    d.builder.add(ingress(outer, kC0, 100));
    d.builder.add(ingress(reply, kWg0, 200));
    d.builder.flush_all();
    REQUIRE(d.out.size() == 2);
    CHECK_FALSE(d.out[0].outer_of);
    CHECK_FALSE(d.out[1].decapsulated_from);
}

TEST_CASE("an ICMP reply no ping socket took after local delivery is delivered, with a note, not a drop") {
    for (bool input_chain : {true, false}) {
        Collected c;
        PacketInfo reply = icmp_packet(kReply, "198.51.100.9", "10.0.0.1", 0);
        c.builder.add(ingress(reply, kWg0, 100));
        c.builder.add(inner_input_route(110, kReply));
        if (input_chain) c.builder.add(filter_input(reply, 120));
        c.builder.add(drop_step(reply, "NO_SOCKET", "icmp_rcv+0x1b1", 130));
        c.builder.flush_all();
        REQUIRE(c.out.size() == 1);
        const PacketTimeline& t = c.out[0];
        CHECK(t.outcome == Outcome::delivered);
        CHECK(steps_of<DropStep>(t).empty());
        CHECK(t.gaps.empty());
        REQUIRE(t.notes.size() == 1);
        CHECK(t.notes[0].find("raw sockets listening for ICMP, if any") != std::string::npos);
    }

    // Freed in ping_rcv, with nothing else of it seen (its buffer followed into another namespace): ping_rcv is
    // reached only after local delivery.
    Collected lone;
    PacketInfo reply = icmp_packet(kReply, "198.51.100.9", "10.0.0.1", 0);
    lone.builder.add(drop_step(reply, "NO_SOCKET", "ping_rcv+0xb3", 130));
    lone.builder.flush_all();
    REQUIRE(lone.out.size() == 1);
    CHECK(lone.out[0].outcome == Outcome::delivered);
    CHECK(steps_of<DropStep>(lone.out[0]).empty());

    // A UDP packet with no socket is a drop.
    Collected u;
    PacketInfo dns = udp_packet(0x77, "198.51.100.9", 53, "10.0.0.1", 40001, 20, {});
    u.builder.add(ingress(dns, kWg0, 100));
    u.builder.add(drop_step(dns, "NO_SOCKET", "__udp4_lib_rcv+0x1", 130));
    u.builder.flush_all();
    REQUIRE(u.out.size() == 1);
    CHECK(u.out[0].outcome == Outcome::dropped);
}

TEST_CASE("loss never becomes fiction: a packet first seen just after a loss says its start may be missing") {
    Collected c;
    c.builder.add(preraw(icmp_packet(1, "198.51.100.9", "10.0.0.1", 0), 10));
    c.builder.lost(ModuleId::device, 4);
    c.builder.add(preraw(icmp_packet(2, "198.51.100.9", "10.0.0.1", 0), 20));              // within 50 ms
    c.builder.add(preraw(icmp_packet(3, "198.51.100.9", "10.0.0.1", 0), 10 + 60'000'000)); // well after
    c.builder.flush_all();
    REQUIRE(c.out.size() == 3);
    CHECK(has_gap(c.out[0], "4 device events lost here"));
    CHECK(has_gap(c.out[1], "4 device events lost just before it was first seen"));
    CHECK_FALSE(has_gap(c.out[2], "events lost"));
}

TEST_CASE("loss never becomes fiction: a stale receive context's decision does not join another packet") {
    // The reply's input decision names buffer X; X is then reused for this host's next echo request, which
    // leaves on c0 (its own ingress and netfilter events lost): the request must not read `forwarded`.
    Collected c;
    PacketInfo request = icmp_packet(kReply, "10.0.0.1", "198.51.100.9", 8);
    c.builder.add(inner_input_route(100, kReply)); // flow 198.51.100.9 -> 10.0.0.1
    c.builder.add(egress(request, kC0, 200));
    // A reverse decision for the same id whose flow is not the open packet's is not attached to it.
    c.builder.flush_all();
    for (const PacketTimeline& t : c.out) {
        CHECK(t.outcome != Outcome::forwarded);
        if (t.pkt.dst == ip("198.51.100.9")) CHECK(steps_of<RouteDecision>(t).empty());
    }

    // A reverse decision whose packet's other events were lost, then the buffer reused for a packet this host
    // sends: the rp_filter step stays with the received packet's flow, the sent packet gets none.
    Collected d;
    PacketInfo other = icmp_packet(kOuterOut, "10.0.0.1", "198.51.100.9", 8);
    d.builder.add(inner_reverse_route(100, kOuterOut));
    d.builder.add(egress(other, kC0, 200));
    d.builder.flush_all();
    REQUIRE_FALSE(d.out.empty());
    for (const PacketTimeline& t : d.out) {
        CHECK(t.outcome != Outcome::forwarded);
        if (t.pkt.src == ip("10.0.0.1")) CHECK(steps_of<RpFilterStep>(t).empty());
    }
}

TEST_CASE("a re-route joins its packet after the chain that caused it; an egress that disagrees with the last "
          "decision says so") {
    // A `type route hook output` chain marks the ping; `ip rule fwmark ... lookup main` then sends it to c0.
    Collected c;
    PacketInfo p = icmp_packet(0xa, "10.0.0.1", "198.51.100.9", 8);
    c.builder.add(inner_request_route(100)); // wg0, table 51820
    NetfilterStep mangle = nf_step(p, NfHook::output, "ip", "rr", "mangle", -150, 200);
    mangle.mark_after = 0x1234;
    c.builder.add(mangle);
    RouteDecision again = inner_request_route(210); // as the probe reports it: then main's default, via c0
    again.mark = 0x1234;
    again.result_oif = "c0";
    again.reroute = true;
    again.rx_packet = 0xa;
    c.builder.add(again);
    c.builder.add(egress(p, kC0, 300));
    c.builder.flush_all();
    REQUIRE(c.out.size() == 1);
    const PacketTimeline& t = c.out[0];
    CHECK(t.outcome == Outcome::sent);
    CHECK(kinds(t) == Kinds{"route", "nf", "route", "dev"});
    auto routes = steps_of<RouteDecision>(t);
    CHECK_FALSE(routes[0].reroute);
    CHECK(routes[1].reroute);
    CHECK(routes[1].result_oif == "c0");
    CHECK_FALSE(has_gap(t, "last route decision"));
    CHECK(c.builder.unattached_routes() == 0);

    // Without the re-route seen, the egress on c0 contradicts the decision for wg0: a gap, not silence.
    Collected d;
    d.builder.add(inner_request_route(100));
    d.builder.add(mangle);
    d.builder.add(egress(p, kC0, 300));
    d.builder.flush_all();
    REQUIRE(d.out.size() == 1);
    CHECK(has_gap(d.out[0], "left on c0, but its last route decision seen sent it to wg0"));

    // The re-route may come before its packet's first netfilter step (that step goes out only when the next
    // hook saw the packet): it opens the packet's timeline, and is never given to another packet.
    Collected e;
    e.builder.add(inner_request_route(100));
    e.builder.add(again);
    PacketInfo other = icmp_packet(0xb, "10.0.0.1", "198.51.100.77", 8);
    e.builder.add(inner_request_route(204, "198.51.100.77"));
    e.builder.add(filter_output(other, 205));
    e.builder.add(egress(other, kWg0, 290));
    e.builder.add(mangle);
    e.builder.add(egress(p, kC0, 300));
    e.builder.flush_all();
    REQUIRE(e.out.size() == 2);
    for (const PacketTimeline& t2 : e.out) {
        if (t2.pkt.id == 0xb) {
            for (const RouteDecision& r : steps_of<RouteDecision>(t2)) CHECK_FALSE(r.reroute);
        } else {
            CHECK(kinds(t2) == Kinds{"route", "nf", "route", "dev"});
            CHECK(steps_of<RouteDecision>(t2)[1].reroute);
            CHECK_FALSE(has_gap(t2, "last route decision"));
        }
    }
}

TEST_CASE("user-space WireGuard: an outer packet not paired while an inner packet of its peer came out after it "
          "(coalesced by GRO) is never called dropped") {
    Collected c;
    PacketInfo outer = outer_in(kOuterIn, outer_payload(84), wg_data(kClientIndex, 5));
    c.builder.add(ingress(outer, kC0, 100));
    // One coalesced inner packet, far longer than the outer could carry: not paired, but its peer's.
    PacketInfo merged = icmp_packet(kReply, "198.51.100.9", "10.0.0.1", 0, 3000);
    c.builder.add(ingress(merged, kWg0, 200));
    c.builder.flush_all();
    for (const PacketTimeline& t : c.out) {
        CHECK_FALSE(t.outcome_inferred);
        for (const WireguardStep& w : steps_of<WireguardStep>(t)) CHECK(w.dropped.empty());
    }
}

TEST_CASE("kernel WireGuard: a packet the kernel found a peer for is not inferred unsent when its outer packet is "
          "not linked") {
    Collected c;
    c.wireguard[0].implementation = WgImplementation::kernel;
    c.wireguard[0].peers[0].endpoint.reset(); // a stale snapshot: the peer roamed in since
    PacketInfo inner = icmp_packet(0x402, "10.0.0.1", "198.51.100.9", 8);
    c.builder.add(egress(inner, kWg0, 100));
    c.builder.add(kernel_peer_lookup(inner, true, 101));
    c.builder.flush_all();
    REQUIRE(c.out.size() == 1);
    CHECK(c.out[0].outcome == Outcome::unknown);
    CHECK_FALSE(c.out[0].outcome_inferred);
    CHECK(has_gap(c.out[0],
                  "(kernel) but its outer packet was not seen in its buffer: segmented (GSO), fragmented "
                  "into new buffers, queued for a handshake, or events lost")); // an old record: no session check

    Collected checked; // the probe checked the session (record version 2): the handshake is out of the causes
    checked.wireguard[0].implementation = WgImplementation::kernel;
    checked.builder.add(egress(inner, kWg0, 100));
    WireguardKernelEvent lookup = kernel_peer_lookup(inner, true, 101);
    lookup.session_checked = true;
    checked.builder.add(lookup);
    checked.builder.flush_all();
    REQUIRE(checked.out.size() == 1);
    CHECK(has_gap(checked.out[0], "(kernel), which had a usable session, but its outer packet was not seen in its "
                                  "buffer: segmented (GSO), fragmented into new buffers, or events lost"));
}

namespace {
// wg_xmit found the peer, which had no session: the packet joins its staged queue behind `ahead` others.
WireguardKernelEvent queued_for_handshake(const PacketInfo& inner, uint64_t t, uint32_t ahead) {
    WireguardKernelEvent ev = kernel_peer_lookup(inner, true, t);
    ev.verdict = WgVerdict::no_session;
    ev.queued = ahead;
    return ev;
}

// Kernel WireGuard took `inner` on wg0 (at 100) for a peer with no session, behind `ahead` queued packets.
void queue_for_handshake(Collected& c, const PacketInfo& inner, uint32_t ahead) {
    c.wireguard[0].implementation = WgImplementation::kernel;
    c.builder.add(egress(inner, kWg0, 100));
    c.builder.add(queued_for_handshake(inner, 101, ahead));
}

WireguardKernelEvent staged_purge(WgVerdict cause, uint32_t dropped, uint64_t t) {
    WireguardKernelEvent ev = kernel_peer_lookup(PacketInfo{}, true, t);
    ev.action = WgKernelAction::purge;
    ev.verdict = cause;
    ev.queued = dropped;
    return ev;
}
} // namespace

TEST_CASE("kernel WireGuard: a packet queued for a handshake and never sent says so, exactly, and is not called "
          "dropped") {
    Collected c;
    PacketInfo inner = icmp_packet(0x411, "10.0.0.1", "198.51.100.9", 8);
    queue_for_handshake(c, inner, 3);
    c.builder.flush_all();
    REQUIRE(c.out.size() == 1);
    CHECK(c.out[0].outcome == Outcome::unknown);
    CHECK(has_gap(c.out[0], "had no session with peer AQIDBAUG"));
    CHECK(has_gap(c.out[0], "queued for a handshake (3 already queued), and no handshake completed"));
    check_no_wireguard_drop(c.out);

    Collected full; // a full queue: the oldest go
    queue_for_handshake(full, inner, 129);
    full.builder.flush_all();
    REQUIRE(full.out.size() == 1);
    CHECK(has_gap(full.out[0], "129 already queued: beyond 128 WireGuard drops the oldest"));
}

TEST_CASE("kernel WireGuard: a packet queued for a handshake that then completed is encapsulated, and a note says it "
          "waited") {
    Collected c;
    PacketInfo inner = icmp_packet(0x412, "10.0.0.1", "198.51.100.9", 8);
    queue_for_handshake(c, inner, 0);
    c.builder.add(egress(outer_out(0x412, outer_payload(84), wg_data(kServerIndex, 0)), kC0, 30'000'000));
    c.builder.flush_all();
    const PacketTimeline* t = c.by_id(1);
    REQUIRE(t);
    CHECK(t->outcome == Outcome::encapsulated);
    REQUIRE(t->notes.size() == 1);
    CHECK(t->notes[0].find("queued for a handshake (the queue read empty then); it was sent once one completed") !=
          std::string::npos);
}

TEST_CASE("kernel WireGuard: the staged queue purged ends the queued packets still followed as dropped, with the "
          "cause the probe read; a later kfree_skb of the purge is told the same cause") {
    for (auto [cause, verdict, why] :
         {std::tuple{WgVerdict::gave_up, "gave_up", "did not complete after 20 attempts"},
          {WgVerdict::device_down, "device_down", "wg0 went down: the 2 packets queued for peer AQIDBAUG"},
          {WgVerdict::peer_removed, "peer_removed", "was removed (or wg0 deleted)"},
          {WgVerdict::ok, "purged", "its cause not read"}}) {
        Collected c;
        PacketInfo inner = icmp_packet(0x413, "10.0.0.1", "198.51.100.9", 8);
        queue_for_handshake(c, inner, 0);
        c.builder.add(staged_purge(cause, 2, 5'000));
        // the purge frees it (the kfree_skb inside it): the same drop, not a new timeline
        c.builder.add(drop_step(inner, "NOT_SPECIFIED", "wg_packet_purge_staged_packets+0x4a", 5'100));
        // another packet of that queue, whose timeline had already gone out (events after its idle end)
        PacketInfo older = icmp_packet(0x414, "10.0.0.1", "198.51.100.9", 8);
        c.builder.add(drop_step(older, "QUEUE_PURGE", "wg_packet_purge_staged_packets+0x4a", 5'200));
        c.builder.flush_all();
        REQUIRE(c.out.size() == 2); // both shown one by one: no record of the rest
        for (const PacketTimeline& t : c.out) {
            CHECK(t.outcome == Outcome::dropped);
            auto wg = steps_of<WireguardStep>(t);
            REQUIRE(wg.size() == 1);
            CHECK(wg[0].verdict == verdict);
            CHECK(wg[0].dropped.find(why) != std::string::npos);
            CHECK_FALSE(wg[0].inferred);
        }
        CHECK(steps_of<DropStep>(*c.by_id(2)).size() == 1);
    }
}

TEST_CASE("kernel WireGuard: a kfree_skb in the purge function with no purge seen before it is a plain drop") {
    Collected c;
    c.wireguard[0].implementation = WgImplementation::kernel;
    PacketInfo older = icmp_packet(0x415, "10.0.0.1", "198.51.100.9", 8);
    c.builder.add(drop_step(older, "QUEUE_PURGE", "wg_packet_purge_staged_packets+0x4a", 5'200));
    c.builder.add(staged_purge(WgVerdict::gave_up, 1, 2'000'000'000)); // later: not its cause
    c.builder.flush_all();
    REQUIRE(c.out.size() == 2);
    CHECK(c.out[0].packet_id == 0x415);
    CHECK(steps_of<WireguardStep>(c.out[0]).empty());
}

TEST_CASE("kernel WireGuard: a purge long after its packets' timelines went out (WireGuard gives up after minutes) is "
          "a record of its own, with the cause and the count") {
    Collected c;
    PacketInfo inner = icmp_packet(0x416, "10.0.0.1", "198.51.100.9", 8);
    queue_for_handshake(c, inner, 0);
    c.builder.flush(5'000'000'000); // the packet's timeline goes out: still queued
    REQUIRE(c.out.size() == 1);
    CHECK(c.out[0].outcome == Outcome::unknown);
    c.builder.add(staged_purge(WgVerdict::gave_up, 4, 100'000'000'000));
    c.builder.flush_all();
    REQUIRE(c.out.size() == 2);
    const PacketTimeline& purge = c.out[1];
    CHECK(purge.packet_id == 0);
    CHECK_FALSE(purge.pkt.is_ip);
    CHECK(purge.outcome == Outcome::dropped);
    WireguardStep w = sole_wireguard_step(purge);
    CHECK(w.verdict == "gave_up");
    CHECK(w.dropped.find("did not complete after 20 attempts, 5 s apart") != std::string::npos);
    CHECK(w.dropped.find("dropped the 4 packets queued for it") != std::string::npos);
    REQUIRE(purge.notes.size() == 1);
    CHECK(purge.notes[0] ==
          "4 of the 4 packets it dropped are not shown dropped one by one: seen queued earlier (their "
          "timelines went out before; a packet's free is reported only within 2 s of its first "
          "sight), or never followed");
}

TEST_CASE("kernel WireGuard: a data message for a receiver index no session has ends its outer packet's timeline "
          "as dropped, naming the index") {
    Collected c;
    c.wireguard[0].implementation = WgImplementation::kernel;
    PacketInfo outer = outer_in(0x901, outer_payload(84), wg_data(0xabcd, 3));
    c.builder.add(ingress(outer, kC0, 100));
    c.builder.add(kernel_verdict(outer, WgKernelAction::receive, WgVerdict::unknown_index, 4, 110));
    c.builder.flush_all();
    REQUIRE(c.out.size() == 1);
    CHECK(c.out[0].outcome == Outcome::dropped);
    auto wg = steps_of<WireguardStep>(c.out[0]);
    REQUIRE(wg.size() == 1);
    CHECK(wg[0].verdict == "unknown_index");
    CHECK(wg[0].dropped.find("no session of wg0 has receiver index 0xabcd") == 0);
}

TEST_CASE("a linked WireGuard step carries the inner length against the tunnel's MTU and the outer length against "
          "the device it left on") {
    Collected c;
    for (Link& l : c.config.links) l.mtu = l.name == "wg0" ? 1420 : 1500;
    feed_outgoing_ping(c.builder);
    c.builder.flush_all();
    auto wg = steps_of<WireguardStep>(*c.by_id(1));
    REQUIRE(wg.size() == 1);
    CHECK(wg[0].inner_len == 84);
    CHECK(wg[0].tunnel_mtu == 1420);
    CHECK(wg[0].outer_len == c.by_id(2)->pkt.len);
    CHECK(wg[0].device == "c0");
    CHECK(wg[0].device_mtu == 1500);
}

TEST_CASE("user-space WireGuard: no drop is inferred for an outer packet events were lost around (its inner packet "
          "may be among them)") {
    Collected c;
    PacketInfo outer = outer_in(kOuterIn, outer_payload(84), wg_data(kClientIndex, 5));
    c.builder.add(ingress(outer, kC0, 100));
    c.builder.lost(ModuleId::device, 12);
    c.builder.flush(100 + 50'000'000);
    c.builder.flush_all();
    REQUIRE(c.out.size() == 1);
    CHECK_FALSE(c.out[0].outcome_inferred);
    CHECK(c.out[0].outcome != Outcome::dropped);
}

namespace {

// wireguard.com/netns: wg0 created in the host namespace (kNs, where its socket stays) and moved into a
// container (kContainer). The inner ping leaves through wg0 there; wireguard-go sends the outer packet from kNs.
struct ContainerTunnel {
    static constexpr uint32_t kContainer = 4026532369u;
    NetnsConfig container = client_config();
    NetnsConfig host = client_config();
    WgInterface wg = client_wg0();
    std::vector<PacketTimeline> out;
    TimelineBuilder builder;

    explicit ContainerTunnel(uint32_t socket_netns)
        : builder(
              [this](uint32_t netns) {
                  if (netns == kContainer) return TimelineContext{&container, {wg}};
                  if (netns == kNs) return TimelineContext{&host, {wg}};
                  return TimelineContext{};
              },
              [this](PacketTimeline&& t) { out.push_back(std::move(t)); }) {
        container.netns_inode = kContainer;
        for (Link& l : container.links) l.mtu = l.name == "wg0" ? 1420 : 9000;
        for (Link& l : host.links) l.mtu = l.name == "c0" ? 1500 : 9000;
        wg.netns = kContainer;
        wg.socket_netns = socket_netns;
    }

    // The inner ping and its outer packet, as timelines (both must be there).
    std::pair<const PacketTimeline&, const PacketTimeline&> ping_timelines() {
        ping();
        const PacketTimeline* inner = with_packet(kRequest);
        const PacketTimeline* outer = with_packet(kOuterOut);
        REQUIRE(inner);
        REQUIRE(outer);
        return {*inner, *outer};
    }
    void ping() {
        PacketInfo req = icmp_packet(kRequest, "10.0.0.1", "198.51.100.9", 8);
        req.oif = kWg0;
        DeviceEvent leaves = egress(req, kWg0, 1'000'000, kPing);
        leaves.netns = kContainer;
        builder.add(leaves);
        PacketInfo outer = outer_out(kOuterOut, outer_payload(req.len), wg_data(kServerIndex, 2));
        builder.add(outer_route(1'100'000));
        builder.add(filter_output(outer, 1'150'000, kWgMark));
        builder.add(egress(outer, kC0, 1'200'000, kWireguardGo));
        builder.flush_all();
    }
    const PacketTimeline* with_packet(uint64_t packet) const {
        for (const PacketTimeline& t : out)
            if (t.packet_id == packet) return &t;
        return nullptr;
    }
};

} // namespace

TEST_CASE("an interface moved into a container pairs with its outer packets in the namespace its socket is in") {
    ContainerTunnel c(kNs);
    auto [in, out] = c.ping_timelines();
    const PacketTimeline* inner = &in;
    const PacketTimeline* outer = &out;
    CHECK(inner->netns == ContainerTunnel::kContainer);
    CHECK(outer->netns == kNs);
    CHECK(inner->outcome == Outcome::encapsulated);
    CHECK(inner->encapsulated_in == outer->id);
    CHECK(outer->outer_of == inner->id);
    auto wg = steps_of<WireguardStep>(*inner);
    REQUIRE(wg.size() == 1);
    CHECK(wg[0].peer == kServerKey);
    CHECK(wg[0].tunnel_mtu == 1420); // where the interface is
    CHECK(wg[0].device == "c0");     // where the outer packet left
    CHECK(wg[0].device_mtu == 1500);
}

TEST_CASE("an interface whose socket is in no watched namespace: its inner packet says so, nothing is paired") {
    ContainerTunnel c(kSocketNotWatched);
    auto [in, out] = c.ping_timelines();
    const PacketTimeline* inner = &in;
    const PacketTimeline* outer = &out;
    CHECK(inner->outcome == Outcome::unknown);
    CHECK_FALSE(inner->encapsulated_in);
    CHECK(has_gap(*inner, "UDP socket is in a namespace that is not watched"));
    CHECK_FALSE(outer->outer_of);
    CHECK(steps_of<WireguardStep>(*outer).empty()); // a UDP packet of the host, not taken for wg0's
}

namespace {

// A data message arrives on c0 at `t` and kernel WireGuard's decryption judges it (`verdict`) at `judged`.
void receive_data(Collected& c, uint64_t packet, WgVerdict verdict, uint64_t t, uint64_t judged) {
    c.wireguard[0].implementation = WgImplementation::kernel;
    PacketInfo outer = outer_in(packet, outer_payload(84), wg_data(kClientIndex, 9));
    c.builder.add(ingress(outer, kC0, t));
    c.builder.add(kernel_verdict(outer, WgKernelAction::receive, verdict, 4, judged));
}

} // namespace

TEST_CASE("kernel WireGuard: a data message that does not decrypt ends its outer packet as dropped, exactly") {
    Collected c;
    receive_data(c, 0x911, WgVerdict::invalid, 100, 110);
    c.builder.flush_all();
    REQUIRE(c.out.size() == 1);
    check_wireguard_drop(c.out[0], "invalid", false, "did not decrypt");
}

namespace {

// Kernel WireGuard decrypted a data message (decrypt_packet returned true) and, unless `delivered` is false, its
// inner packet reached the allowed-IPs check and came out of wg0.
Collected& receive_decrypted(Collected& c, bool delivered, uint64_t t0 = 100'000) {
    receive_data(c, 0x921, WgVerdict::ok, t0, t0 + 10'000);
    if (delivered) {
        PacketInfo inner = icmp_packet(0x921, "198.51.100.9", "10.0.0.1", 0); // decrypted in place
        WireguardKernelEvent src = kernel_verdict(inner, WgKernelAction::decrypt, WgVerdict::ok, 0, t0 + 20'000);
        c.builder.add(src);
        c.builder.add(ingress(inner, kWg0, t0 + 30'000));
    }
    c.builder.flush(t0 + 60'000'000); // past the link window
    c.builder.flush_all();
    return c;
}

} // namespace

TEST_CASE("kernel WireGuard: decrypted, but its inner packet never reached the allowed-IPs check: dropped after "
          "decryption (replayed counter), inferred") {
    Collected c;
    receive_decrypted(c, false);
    REQUIRE(c.out.size() == 1);
    check_wireguard_drop(c.out[0], "not_delivered", true, "replayed or out-of-window counter");
}

TEST_CASE("kernel WireGuard: decrypted and delivered: no drop is inferred") {
    Collected c;
    receive_decrypted(c, true);
    REQUIRE(c.out.size() == 2);
    check_no_wireguard_drop(c.out);
}

TEST_CASE("kernel WireGuard: decrypted, then events lost: no drop is inferred from the absence") {
    Collected c;
    receive_data(c, 0x931, WgVerdict::ok, 100, 200);
    c.builder.lost(ModuleId::wireguard, 3);
    c.builder.flush(60'000'000);
    c.builder.flush_all();
    REQUIRE(c.out.size() == 1);
    check_no_wireguard_drop(c.out);
}

TEST_CASE("kernel WireGuard: events lost while the message's own events still waited in the ring buffer (read after "
          "the count): no drop is inferred, and its timeline says events were lost") {
    Collected c;
    // The count was read at 90 ms; the message's events (at 70 ms, past a route decision's wait after the newest
    // event read then) were still unread.
    c.builder.lost(ModuleId::wireguard, 5, 90'000'000);
    receive_data(c, 0x951, WgVerdict::ok, 70'000'000, 70'000'100);
    c.builder.flush(200'000'000);
    c.builder.flush_all();
    REQUIRE(c.out.size() == 1);
    check_no_wireguard_drop(c.out);
    CHECK(has_gap(c.out[0], "5 wireguard events lost while its first events waited to be read"));
}

TEST_CASE("kernel WireGuard: a message first seen after the loss was known is judged as usual") {
    Collected c;
    c.builder.lost(ModuleId::wireguard, 5, 90'000'000);
    receive_data(c, 0x961, WgVerdict::ok, 100'000'000, 100'000'100);
    c.builder.flush(200'000'000);
    c.builder.flush_all();
    REQUIRE(c.out.size() == 1);
    check_wireguard_drop(c.out[0], "not_delivered", true, "replayed or out-of-window counter");
}

TEST_CASE("kernel WireGuard: decrypted just before the end (its window not passed in the events read): no drop is "
          "inferred") {
    Collected c;
    receive_data(c, 0x941, WgVerdict::ok, 100, 200);
    c.builder.flush_all(); // Ctrl-C, --count, the end of a recording: its lookup may still have been on its way
    REQUIRE(c.out.size() == 1);
    check_no_wireguard_drop(c.out);
}

namespace {
// A fragment of `whole`: the first (its transport header kept) or a later one, of `len` bytes.
PacketInfo fragment_of(const PacketInfo& whole, uint64_t id, uint16_t len, bool first, bool more) {
    PacketInfo f = whole;
    f.id = id;
    f.len = len;
    f.more_fragments = more;
    f.later_fragment = !first;
    if (!first) {
        f.has_l4 = false;
        f.sport = f.dport = 0;
        f.has_udp_payload = false;
    }
    return f;
}
} // namespace

TEST_CASE("fragments: a packet fragmented to leave a device keeps its buffer as the first fragment; the kernel's new "
          "buffers are named its fragments, never packets of their own; nothing is claimed about their routes") {
    Collected c;
    c.config.links[1].mtu = 1500;                                            // c0
    PacketInfo whole = outer_out(kOuterOut, 1532, wg_data(kServerIndex, 3)); // 1560 bytes
    c.builder.add(filter_output(whole, 100, kWgMark));
    c.builder.add(egress(fragment_of(whole, kOuterOut, 1500, true, true), kC0, 200));
    c.builder.add(egress(fragment_of(whole, 0x777, 80, false, false), kC0, 210));
    c.builder.flush_all();
    const PacketTimeline* original = nullptr;
    const PacketTimeline* rest = nullptr;
    for (const PacketTimeline& t : c.out) (t.packet_id == kOuterOut ? original : rest) = &t;
    REQUIRE(original);
    REQUIRE(rest);
    CHECK(std::find(original->notes.begin(), original->notes.end(),
                    "fragmented to leave c0 (MTU 1500): its 1560 bytes went out in fragments; this buffer carried the "
                    "first (1500 bytes), new buffers the rest") != original->notes.end());
    CHECK(rest->outcome == Outcome::sent);
    CHECK(rest->gaps.empty()); // no "no route lookup seen" for a buffer made after routing
    REQUIRE(rest->notes.size() == 1);
    const std::string n = std::to_string(original->id);
    CHECK(rest->notes[0] == "a fragment the kernel made of #" + n +
                                " (a new buffer) to fit c0 (MTU 1500): the steps "
                                "before fragmentation are #" +
                                n + "'s");
    CHECK(steps_of<WireguardStep>(*rest).empty());
}

TEST_CASE("fragments: a packet whose buffer was freed after fragmenting (new buffers for all) is sent, said so") {
    Collected c;
    PacketInfo whole = outer_out(kOuterOut, 1532, wg_data(kServerIndex, 3));
    c.builder.add(filter_output(whole, 100, kWgMark));
    c.builder.add(egress(fragment_of(whole, 0x701, 1500, true, true), kC0, 200));
    c.builder.add(egress(fragment_of(whole, 0x702, 80, false, false), kC0, 210));
    c.builder.flush_all();
    const PacketTimeline* original = nullptr;
    for (const PacketTimeline& t : c.out)
        if (t.packet_id == kOuterOut) original = &t;
    REQUIRE(original);
    CHECK(original->outcome == Outcome::sent);
    REQUIRE(original->notes.size() == 1);
    CHECK(original->notes[0].find("fragmented to leave c0: its 1560 bytes went out in new buffers (#") == 0);
    for (const PacketTimeline& t : c.out)
        if (t.packet_id != kOuterOut) CHECK(t.notes[0].find("a fragment the kernel made of #1") == 0);
}

TEST_CASE("fragments: received fragments reassembled here: the one whose buffer goes on is seen whole (its packet "
          "updated), the other says where its data went; an unrelated datagram's fragment is not claimed") {
    Collected c;
    PacketInfo reply = icmp_packet(0x901, "198.51.100.9", "10.0.0.1", 0, 1500);
    PacketInfo first = fragment_of(reply, 0x901, 1420, true, true);
    PacketInfo last = fragment_of(reply, 0x902, 100, false, false);
    PacketInfo stranger = fragment_of(icmp_packet(0x903, "198.51.100.7", "10.0.0.1", 0, 1500), 0x903, 1420, true, true);
    c.builder.add(ingress(first, kWg0, 100));
    c.builder.add(ingress(stranger, kWg0, 105));
    c.builder.add(ingress(last, kWg0, 110));
    PacketInfo whole = reply;
    whole.id = 0x902;
    c.builder.add(preraw(whole, 120)); // after conntrack's defrag: whole, in the last fragment's buffer
    c.builder.flush_all();
    const PacketTimeline *held = nullptr, *carried = nullptr, *other = nullptr;
    for (const PacketTimeline& t : c.out) {
        if (t.packet_id == 0x901) held = &t;
        if (t.packet_id == 0x902) carried = &t;
        if (t.packet_id == 0x903) other = &t;
    }
    REQUIRE(held);
    REQUIRE(carried);
    REQUIRE(other);
    CHECK(held->outcome == Outcome::reassembled);
    CHECK(held->reassembled_into == carried->id);
    CHECK(carried->pkt.len == 1500);
    CHECK_FALSE(carried->pkt.is_fragment());
    CHECK(carried->notes[0] == "reassembled here: it arrived as a fragment of 100 bytes, and this buffer carries the "
                               "whole packet (1500 bytes) on");
    CHECK(other->outcome == Outcome::unknown);
    CHECK_FALSE(other->reassembled_into);
    REQUIRE(other->gaps.size() == 1);
    CHECK(other->gaps[0].find("a fragment, idle for 200 ms: held for reassembly") == 0);
}

TEST_CASE("a forwarded packet dropped as too big says how big, the MTU of the device its route chose, and the ICMP "
          "the kernel sent back (only where forwarding dropped it)") {
    Collected c;
    c.config.links[2].mtu = 1420; // wg0
    PacketInfo big = icmp_packet(0xa01, "192.168.178.77", "198.51.100.9", 8, 1500);
    big.dont_fragment = true;
    c.builder.add(ingress(big, kC0, 100));
    Flow f = input_flow("192.168.178.77", "198.51.100.9", kC0);
    c.builder.add(decide({f.miss(255), f.hit(254, kC0, "192.168.178.1"), f.hit(kWgTable, kWg0)}, 110, 0, 0xa01));
    c.builder.add(drop_step(big, "PKT_TOO_BIG", "ip_forward+0x1c5", 130));
    PacketInfo other = big; // no route decision seen for this one
    other.id = 0xa02;
    c.builder.add(ingress(other, kC0, 140));
    c.builder.add(drop_step(other, "PKT_TOO_BIG", "ip_forward+0x1c5", 150));
    c.builder.flush_all();
    REQUIRE(c.out.size() == 2);
    CHECK(c.out[0].outcome == Outcome::dropped);
    auto drops = steps_of<DropStep>(c.out[0]);
    REQUIRE(drops.size() == 1);
    CHECK(drops[0].explanation == "1500 bytes, larger than the MTU of wg0 (1420), or of its route, with DF set: the "
                                  "kernel sent 192.168.178.77 ICMP fragmentation needed with that MTU");
    auto unrouted = steps_of<DropStep>(c.out[1]);
    REQUIRE(unrouted.size() == 1);
    CHECK(unrouted[0].explanation == "1500 bytes, larger than the MTU of its route, with DF set: the kernel sent "
                                     "192.168.178.77 ICMP fragmentation needed with that MTU");

    Collected ovs; // dropped as too big elsewhere than in forwarding (Open vSwitch): no ICMP claimed
    ovs.builder.add(ingress(big, kC0, 100));
    ovs.builder.add(drop_step(big, "PKT_TOO_BIG", "do_output+0x2a", 130));
    ovs.builder.flush_all();
    REQUIRE(ovs.out.size() == 1);
    CHECK(steps_of<DropStep>(ovs.out[0])[0].explanation == "1500 bytes, larger than the MTU the kernel checked");
}

TEST_CASE(
    "fragments, IPv6: a fragment seen whole later in its buffer is reassembled there, never 'its buffer reused'") {
    Collected c;
    PacketInfo reply = icmp_packet(0x911, "198.51.100.9", "10.0.0.1", 0, 1648);
    reply.family = Family::ipv6;
    reply.proto = 58;
    reply.src = ip("fd51::9");
    reply.dst = ip("fd10::1");
    reply.ip_id = 0; // a whole IPv6 packet has no identification
    PacketInfo first = fragment_of(reply, 0x911, 1416, true, true);
    first.ip_id = 0x1234;
    PacketInfo last = fragment_of(reply, 0x912, 288, false, false);
    last.ip_id = 0x1234;
    c.builder.add(ingress(first, kWg0, 100));
    c.builder.add(ingress(last, kWg0, 110));
    PacketInfo whole = reply;
    whole.id = 0x912;
    c.builder.add(preraw(whole, 120));
    c.builder.flush_all();
    REQUIRE(c.out.size() == 2);
    const PacketTimeline& held = c.out[0].packet_id == 0x911 ? c.out[0] : c.out[1];
    const PacketTimeline& carried = c.out[0].packet_id == 0x912 ? c.out[0] : c.out[1];
    CHECK(held.outcome == Outcome::reassembled);
    CHECK(held.reassembled_into == carried.id);
    CHECK(carried.pkt.len == 1648);
    for (const PacketTimeline& t : c.out)
        for (const std::string& g : t.gaps) CHECK(g.find("reused") == std::string::npos);
}

TEST_CASE("fragments: a packet whose source NAT changed before it was fragmented is still the fragments' origin") {
    Collected c;
    PacketInfo whole = udp_packet(0x921, "10.0.0.2", 40000, "203.0.113.50", 5000, 1572, {}); // 1600 bytes
    c.builder.add(ingress(whole, kWg0, 100));
    c.builder.add(postmangle(whole, 110)); // chains see it before source NAT (priority 100) changes it
    PacketInfo natted = whole;
    natted.src = ip("192.168.178.48");
    c.builder.add(egress(fragment_of(natted, 0x921, 1500, true, true), kC0, 120));
    c.builder.add(egress(fragment_of(natted, 0x922, 120, false, false), kC0, 125));
    c.builder.flush_all();
    const PacketTimeline* original = nullptr;
    const PacketTimeline* rest = nullptr;
    for (const PacketTimeline& t : c.out) (t.packet_id == 0x921 ? original : rest) = &t;
    REQUIRE(original);
    REQUIRE(rest);
    CHECK(std::any_of(original->notes.begin(), original->notes.end(),
                      [](const std::string& n) { return n.starts_with("fragmented to leave c0"); }));
    REQUIRE(rest->notes.size() == 1);
    CHECK(rest->notes[0].starts_with("a fragment the kernel made of #" + std::to_string(original->id)));
    CHECK(rest->outcome == Outcome::forwarded);
}

TEST_CASE("fragments: a later fragment whose packet was not followed is not claimed: unknown, with a gap") {
    Collected c;
    PacketInfo whole = udp_packet(0x931, "192.168.178.48", 40000, "203.0.113.50", 5000, 1472, {});
    c.builder.add(egress(fragment_of(whole, 0x932, 40, false, false), kC0, 120));
    c.builder.flush_all();
    REQUIRE(c.out.size() == 1);
    CHECK(c.out[0].outcome == Outcome::unknown);
    CHECK(c.out[0].notes.empty());
    REQUIRE(c.out[0].gaps.size() == 1);
    CHECK(c.out[0].gaps[0].starts_with("a later fragment first seen leaving c0: the packet it was cut from was not "
                                       "seen whole or as its first fragment here"));
}

TEST_CASE("kernel WireGuard: an outer packet first seen as its first fragment (no netfilter chain) is still linked "
          "to its inner packet by buffer") {
    Collected c;
    c.wireguard[0].implementation = WgImplementation::kernel;
    PacketInfo inner = icmp_packet(0x941, "10.0.0.1", "198.51.100.9", 8, 1420);
    c.builder.add(egress(inner, kWg0, 100));
    c.builder.add(kernel_peer_lookup(inner, true, 101));
    PacketInfo outer = outer_out(0x941, outer_payload(1420), wg_data(kServerIndex, 4));
    c.builder.add(egress(fragment_of(outer, 0x941, 1400, true, true), kC0, 200));
    c.builder.flush_all();
    const PacketTimeline* in = c.by_id(1);
    REQUIRE(in);
    CHECK(in->outcome == Outcome::encapsulated);
    REQUIRE(in->encapsulated_in);
    CHECK(c.by_id(*in->encapsulated_in)->packet_id == 0x941);
}

TEST_CASE("fragments: a first fragment first seen leaving (no watched hook before) is the original buffer: the later "
          "ones are named its fragments") {
    Collected c;
    PacketInfo whole = udp_packet(0x951, "192.168.178.48", 40000, "203.0.113.50", 5000, 1572, {});
    c.builder.add(egress(fragment_of(whole, 0x951, 1500, true, true), kC0, 100));
    c.builder.add(egress(fragment_of(whole, 0x952, 120, false, false), kC0, 105));
    c.builder.flush_all();
    REQUIRE(c.out.size() == 2);
    const PacketTimeline& first = c.out[0].packet_id == 0x951 ? c.out[0] : c.out[1];
    const PacketTimeline& later = c.out[0].packet_id == 0x952 ? c.out[0] : c.out[1];
    CHECK(later.outcome == Outcome::sent);
    REQUIRE(later.notes.size() == 1);
    CHECK(later.notes[0].starts_with("a fragment the kernel made of #" + std::to_string(first.id)));
}

TEST_CASE("fragments: an old fragmentation of the same IP id is not taken for this one's origin (time bound)") {
    Collected c;
    PacketInfo whole = udp_packet(0x961, "192.168.178.48", 40000, "203.0.113.50", 5000, 1572, {});
    c.builder.add(egress(fragment_of(whole, 0x961, 1500, true, true), kC0, 100));
    c.builder.add(egress(fragment_of(whole, 0x962, 120, false, false), kC0, 5'000'000'000)); // 5 s later
    c.builder.flush_all();
    const PacketTimeline* later = nullptr;
    for (const PacketTimeline& t : c.out)
        if (t.packet_id == 0x962) later = &t;
    REQUIRE(later);
    CHECK(later->outcome == Outcome::unknown);
    CHECK(later->notes.empty());
}

TEST_CASE("fragments: a received fragment whose buffer is reused after reassembly into another is reassembled, not "
          "'events lost'; one reassembled long before it arrived is not") {
    Collected c;
    PacketInfo reply = icmp_packet(0x971, "198.51.100.9", "10.0.0.1", 0, 1500);
    c.builder.add(ingress(fragment_of(reply, 0x971, 1420, true, true), kWg0, 100));
    c.builder.add(ingress(fragment_of(reply, 0x972, 100, false, false), kWg0, 110));
    PacketInfo whole = reply;
    whole.id = 0x972;
    c.builder.add(preraw(whole, 120));
    PacketInfo stranger =
        udp_packet(0x971, "192.168.178.9", 1000, "192.168.178.48", 2000, 20, {}); // its buffer, reused
    c.builder.add(ingress(stranger, kC0, 130));
    c.builder.flush_all();
    const PacketTimeline* held = nullptr;
    for (const PacketTimeline& t : c.out)
        if (t.packet_id == 0x971 && t.pkt.proto == 1) held = &t;
    REQUIRE(held);
    CHECK(held->outcome == Outcome::reassembled);
    CHECK(held->gaps.empty());

    Collected late; // the reassembly it could be taken for came before it arrived
    late.builder.add(ingress(fragment_of(reply, 0x981, 100, false, false), kWg0, 100));
    PacketInfo w2 = reply;
    w2.id = 0x981;
    late.builder.add(preraw(w2, 110));
    late.builder.add(ingress(fragment_of(reply, 0x982, 1420, true, true), kWg0, 5'000'000'000));
    late.builder.flush_all();
    for (const PacketTimeline& t : late.out)
        if (t.packet_id == 0x982) CHECK(t.outcome == Outcome::unknown);
}

TEST_CASE("kernel WireGuard: a received outer fragment whose buffer comes back decrypted through wg0 was reassembled "
          "there and delivered to WireGuard; a fragment back through another device is not claimed") {
    Collected c;
    c.wireguard[0].implementation = WgImplementation::kernel;
    PacketInfo outer = outer_in(0x991, outer_payload(1420), wg_data(kClientIndex, 9));
    c.builder.add(ingress(fragment_of(outer, 0x991, 100, false, false), kC0, 100));
    PacketInfo inner = icmp_packet(0x991, "198.51.100.9", "10.0.0.1", 0, 1420);
    c.builder.add(ingress(inner, kWg0, 200));
    c.builder.flush_all();
    const PacketTimeline* frag = nullptr;
    for (const PacketTimeline& t : c.out)
        if (t.pkt.proto == 17) frag = &t;
    REQUIRE(frag);
    CHECK(frag->outcome == Outcome::delivered);
    CHECK(std::find(frag->notes.begin(), frag->notes.end(),
                    "reassembled in this buffer: the whole datagram went on in it to WireGuard (it came back "
                    "decrypted through wg0)") != frag->notes.end());
    CHECK(frag->gaps.empty());

    Collected go; // wireguard-go: its TUN device's new buffer at the fragment's address is no decryption in place
    PacketInfo outer_go = outer_in(0x993, outer_payload(1420), wg_data(kClientIndex, 10));
    go.builder.add(ingress(fragment_of(outer_go, 0x993, 100, false, false), kC0, 100));
    DeviceEvent written = ingress(icmp_packet(0x993, "198.51.100.9", "10.0.0.1", 0, 1420), kWg0, 200);
    written.new_buffer = true;
    go.builder.add(written);
    go.builder.flush_all();
    for (const PacketTimeline& t : go.out)
        for (const std::string& n : t.notes) CHECK(n.find("reassembled") == std::string::npos);

    Collected bridge; // the same buffer in again through another device: nothing claimed
    bridge.builder.add(ingress(fragment_of(outer, 0x992, 100, false, false), kC0, 100));
    PacketInfo again = fragment_of(outer, 0x992, 100, false, false);
    bridge.builder.add(ingress(again, kC0, 150));
    bridge.builder.flush_all();
    for (const PacketTimeline& t : bridge.out)
        for (const std::string& n : t.notes) CHECK(n.find("reassembled") == std::string::npos);
}

TEST_CASE("a drop of a packet id WireGuard ended more than a second before is a new packet's, never swallowed") {
    Collected c;
    c.wireguard[0].implementation = WgImplementation::kernel;
    PacketInfo inner = icmp_packet(0x9a1, "10.0.0.1", "198.51.100.9", 8);
    c.builder.add(egress(inner, kWg0, 100));
    c.builder.add(kernel_peer_lookup(inner, true, 101, false)); // no peer: WireGuard drops it
    // (its kfree_skb was not reported: the buffer's next drop, much later, is another packet's)
    PacketInfo later = icmp_packet(0x9a1, "10.0.0.1", "198.51.100.7", 8);
    later.ip_id = 1;
    c.builder.add(drop_step(later, "NO_SOCKET", "__udp4_lib_rcv+0x1", 3'000'000'000)); // a buffer reused much later
    c.builder.flush_all();
    REQUIRE(c.out.size() == 2);
}

TEST_CASE("a packet sent through a veth lives on in its peer's namespace: the buffer's drop there, not watched, "
          "carrying another packet (decrypted in place) is not a drop here; the same packet's drop there, or one in "
          "the namespace it left, still is") {
    enum class Where { beyond_other_packet, beyond_same_packet, beyond_unknown_netns, same_netns };
    for (Where where :
         {Where::beyond_other_packet, Where::beyond_same_packet, Where::beyond_unknown_netns, Where::same_netns}) {
        Collected c;
        feed_outgoing_ping(c.builder);
        // the far end's kernel WireGuard decrypts the same buffer in place, and it is freed there
        PacketInfo inner_there = icmp_packet(kOuterOut, "198.51.100.9", "10.0.0.1", 0);
        PacketInfo outer = outer_out(kOuterOut, outer_payload(84), wg_data(kServerIndex, 2));
        DropStep d = where == Where::beyond_same_packet
                         ? drop_step(outer, "NETFILTER_DROP", "nft_do_chain+0x1", 1'000'400'000)
                         : drop_step(inner_there, "NO_SOCKET", "icmp_rcv+0x1b1", 1'000'400'000);
        if (where == Where::beyond_other_packet || where == Where::beyond_same_packet) d.netns = kNs + 7;
        if (where == Where::beyond_unknown_netns) d.netns = 0; // the probe could not tell
        c.builder.add(d);
        c.builder.flush_all();
        INFO(int(where));
        const PacketTimeline* sent = nullptr;
        size_t dropped = 0;
        for (const PacketTimeline& t : c.out) {
            if (t.packet_id == kOuterOut && !steps_of<DeviceStep>(t).empty()) sent = &t;
            dropped += t.outcome == Outcome::dropped;
        }
        REQUIRE(sent);
        CHECK(sent->outcome == Outcome::sent);
        CHECK(dropped == (where == Where::beyond_other_packet ? 0u : 1u));
    }
}

TEST_CASE("a decrypted packet dropped by a chain on the tunnel keeps its decryption: only a message WireGuard never "
          "took is 'dropped before decryption'") {
    Collected c;
    const uint64_t t0 = 1'022'000'000;
    PacketInfo reply = icmp_packet(kReply, "198.51.100.9", "10.0.0.1", 0);
    reply.iif = kWg0;
    reply.ip_id = 43561;
    PacketInfo outer = outer_in(kOuterIn, outer_payload(reply.len), wg_data(kClientIndex, 5));
    c.builder.add(ingress(outer, kC0, t0));
    c.builder.add(outer_input_route(t0 + 12'000, kOuterIn));
    c.builder.add(filter_input(outer, t0 + 20'000, kWgMark));
    c.builder.add(ingress(reply, kWg0, t0 + 130'000));
    c.builder.add(inner_input_route(t0 + 139'000, kReply));
    NetfilterStep refused = filter_input(reply, t0 + 147'000);
    refused.verdict = NfVerdict::drop;
    c.builder.add(refused);
    c.builder.add(drop_step(reply, "NETFILTER_DROP", "nft_do_chain+0x1", t0 + 148'000));
    c.builder.flush_all();
    const PacketTimeline* inner = nullptr;
    const PacketTimeline* outer_tl = nullptr;
    for (const PacketTimeline& t : c.out) {
        if (t.packet_id == kReply) inner = &t;
        if (t.packet_id == kOuterIn) outer_tl = &t;
    }
    REQUIRE(inner);
    REQUIRE(outer_tl);
    CHECK(inner->outcome == Outcome::dropped);
    REQUIRE(inner->decapsulated_from);
    auto wg = steps_of<WireguardStep>(*inner);
    REQUIRE(wg.size() == 1);
    CHECK_FALSE(dropped_before_decryption(wg[0], *inner));
    CHECK_FALSE(not_taken_by_wireguard(wg[0], *inner));
    // the outer packet's own step: after its input chain, where the decryption showed
    CHECK(kinds(*outer_tl) == Kinds{"dev", "route", "nf", "wg"});
}
