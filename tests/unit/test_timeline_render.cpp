#include <catch2/catch_test_macros.hpp>

#include "golden.hpp"
#include "timeline_fixtures.hpp"
#include "render_json.hpp"
#include "render/timeline_render.hpp"

using namespace wgbpf;
using namespace wgbpf::test;

namespace {

std::string link_name(int ifindex) {
    switch (ifindex) {
    case kLo: return "lo";
    case kC0: return "c0";
    case kWg0: return "wg0";
    }
    return "";
}

std::string render(const std::vector<PacketTimeline>& timelines, bool json) {
    std::string out;
    for (const PacketTimeline& t : timelines)
        out += json ? json_text([&](JsonWriter& w) { write_timeline_json(w, t, link_name); }) + "\n"
                    : render_timeline_text(t, TextStyle{});
    return out;
}

// Figures 2 and 3 of the seed article, then the reply again with src_valid_mark=0.
std::vector<PacketTimeline> seed_timelines() {
    Collected ok;
    feed_outgoing_ping(ok.builder);
    feed_incoming_reply(ok.builder);
    ok.builder.flush_all();
    Collected failing({}, false);
    feed_rp_filter_failure(failing.builder);
    failing.builder.flush_all();
    std::vector<PacketTimeline> out = std::move(ok.out);
    for (PacketTimeline& t : failing.out) {
        t.id += 4; // as if one run
        out.push_back(std::move(t));
    }
    return out;
}

// The odd ones: a handshake, a send that never became a packet, lost events, an eviction.
std::vector<PacketTimeline> other_timelines() {
    TimelineLimits limits;
    limits.max_open = 2;
    Collected c(limits);
    PacketInfo init = outer_out(0x10, 148, wg_initiation(0x42));
    c.builder.add(outer_route(100));
    c.builder.add(filter_output(init, 110, kWgMark));
    c.builder.add(egress(init, kC0, 120));

    RouteDecision unreachable = inner_request_route(200, "198.51.100.77");
    unreachable.lookups.back().result = LookupResult::unreachable;
    unreachable.result = LookupResult::unreachable;
    unreachable.result_oif.clear();
    c.builder.add(unreachable);

    c.builder.add(preraw(icmp_packet(0x20, "198.51.100.9", "10.0.0.1", 0), 300));
    c.builder.lost(ModuleId::netfilter, 3);
    c.builder.add(preraw(icmp_packet(0x21, "198.51.100.9", "10.0.0.1", 0), 310));
    c.builder.add(preraw(icmp_packet(0x22, "198.51.100.9", "10.0.0.1", 0), 320)); // evicts 0x20
    c.builder.flush_all();
    return c.out;
}

// WireGuard's own verdicts: the kernel's (exact) and a user-space implementation's (inferred).
std::vector<PacketTimeline> verdict_timelines() {
    Collected kernel;
    kernel.wireguard[0].implementation = WgImplementation::kernel;
    kernel.wireguard[0].peers[0].allowed_ips = {net("10.0.0.99/32")};
    std::array<uint8_t, 32> sender{};
    for (size_t i = 0; i < sender.size(); ++i) sender[i] = uint8_t(i + 1);
    kernel.wireguard[0].peers[0].public_key = key_to_base64(sender.data());
    PacketInfo outer = outer_in(0x31, outer_payload(84), wg_data(kClientIndex, 7));
    kernel.builder.add(ingress(outer, kC0, 100));
    WireguardKernelEvent ev;
    ev.t_ns = 140;
    ev.netns = kNs;
    ev.pkt = icmp_packet(0x31, "10.0.0.1", "198.51.100.9", 8);
    ev.ifindex = kWg0;
    ev.action = WgKernelAction::decrypt;
    ev.verdict = WgVerdict::src_not_allowed;
    ev.found = true;
    ev.peer_key = sender;
    kernel.builder.add(ev);
    kernel.builder.flush_all();

    Collected user;
    user.wireguard[0].peers[0].endpoint.reset();
    user.builder.add(egress(icmp_packet(0x32, "10.0.0.1", "198.51.100.9", 8), kWg0, 200));
    user.builder.add(ingress(outer_in(0x33, outer_payload(84), wg_data(kClientIndex, 8)), kC0, 300));
    user.builder.flush_all();
    std::vector<PacketTimeline> out = std::move(kernel.out);
    for (PacketTimeline& t : user.out) {
        t.id += 1;
        out.push_back(std::move(t));
    }
    return out;
}

} // namespace

TEST_CASE("WireGuard's verdicts render, exact and inferred (golden)") {
    auto timelines = verdict_timelines();
    check_golden("timeline_verdicts.txt", render(timelines, false));
    check_golden("timeline_verdicts.jsonl", render(timelines, true));
}

TEST_CASE("seed timelines render as text (golden)") {
    check_golden("timeline_seed.txt", render(seed_timelines(), false));
}

TEST_CASE("seed timelines render as JSON lines (golden)") {
    check_golden("timeline_seed.jsonl", render(seed_timelines(), true));
}

TEST_CASE("handshakes, lone route decisions, gaps and evictions render (golden)") {
    auto timelines = other_timelines();
    check_golden("timeline_cases.txt", render(timelines, false));
    check_golden("timeline_cases.jsonl", render(timelines, true));
}

TEST_CASE("timeline text: the header names the links, one line per step") {
    auto timelines = seed_timelines();
    REQUIRE(timelines.size() == 5);
    std::string inner = render_timeline_text(timelines[0], TextStyle{});
    CHECK(inner.starts_with(
        "#1 icmp 10.0.0.1 -> 198.51.100.9 echo-request  netns 4026531840  => encapsulated in #2  at "));
    CHECK(inner.find(
              "\n   route    output: rule 0 local: miss; rule 32764 main: default via 192.168.178.1 dev c0 suppressed "
              "(prefix /0 <= suppress_prefixlength 0); rule 32765 table 51820: default dev wg0\n") !=
          std::string::npos);
    CHECK(inner.find("\n   nf       output      inet filter output (prio 0): accept\n") != std::string::npos);
    CHECK(inner.find("\n   nf       postrouting ip wg-quick-wg0 postmangle (prio -150): accept\n") !=
          std::string::npos);
    CHECK(inner.find("\n   dev      egress wg0\n") != std::string::npos);
    CHECK(
        inner.find(
            "\n   wg       encrypt -> peer IoYF4p... endpoint 203.0.113.123:51820, receiver 0x9b11b4, counter 2  => #2\n") !=
        std::string::npos);

    std::string outer = render_timeline_text(timelines[1], TextStyle{});
    CHECK(outer.starts_with(
        "#2 udp 192.168.178.48:51820 -> 203.0.113.123:51820 (outer of #1)  netns 4026531840  mark 0xca6c  => sent"));
    CHECK(outer.find(
              "rule 32765 skipped (fwmark 0xca6c matches, and the rule says 'not fwmark 0xca6c'); rule 32766 main: "
              "default via 192.168.178.1 dev c0\n") != std::string::npos);
    CHECK(outer.find("postmangle (prio -150): accept, ct mark 0x0 -> 0xca6c\n            set by: meta l4proto udp") !=
          std::string::npos);

    std::string reply_outer = render_timeline_text(timelines[2], TextStyle{});
    CHECK(reply_outer.find("=> decapsulated into #4") != std::string::npos);
    CHECK(reply_outer.find(
              "\n   rp_filter strict: pass: reverse route to 203.0.113.123 via c0 = iif c0 (mark 0xca6c used: "
              "src_valid_mark=1)\n") != std::string::npos);
    CHECK(reply_outer.find("premangle (prio -150): accept, mark 0x0 -> 0xca6c, ct established reply") !=
          std::string::npos);
    CHECK(reply_outer.find(
              "decrypt <- peer IoYF4p... endpoint 203.0.113.123:51820, receiver 0x5c0ffee, counter 5  => #4") !=
          std::string::npos);
    std::string reply = render_timeline_text(timelines[3], TextStyle{});
    CHECK(reply.find("(decapsulated from #3)") != std::string::npos);
    CHECK(reply.find("  <= #3\n") != std::string::npos);

    std::string failed = render_timeline_text(timelines[4], TextStyle{});
    CHECK(failed.find("=> dropped") != std::string::npos);
    CHECK(failed.find(
              "\n   rp_filter strict: fail: reverse route to 203.0.113.123 goes via wg0, not c0 where the packet came "
              "in: mark 0xca6c was not used (src_valid_mark=0)\n            reverse lookup: rule 0 local: miss;") !=
          std::string::npos);
    CHECK(failed.find("\n   drop     IP_RPFILTER at ip_rcv_finish_core+0x2c5\n") != std::string::npos);
    CHECK(failed.find("data (dropped before decryption) <- peer") != std::string::npos);

    CHECK(inner.find('\033') == std::string::npos);
    std::string coloured = render_timeline_text(timelines[4], TextStyle{true, 0});
    CHECK(coloured.find("\033[31mfail") != std::string::npos);
    CHECK(coloured.find("\033[31mdropped") != std::string::npos);
}

TEST_CASE("timeline JSON carries the contract's fields") {
    auto timelines = seed_timelines();
    auto inner = timeline_to_json(timelines[0], link_name);
    CHECK(inner["kind"] == "timeline");
    CHECK(inner["id"] == 1);
    CHECK(inner["netns"] == kNs);
    CHECK(inner["family"] == "ipv4");
    CHECK(inner["proto"] == "icmp");
    CHECK(inner["src"] == "10.0.0.1");
    CHECK(inner["dst"] == "198.51.100.9");
    CHECK(inner["icmp_type"] == 8);
    CHECK(inner["icmp_code"] == 0);
    CHECK_FALSE(inner.contains("sport"));
    CHECK(inner["len"] == 84);
    CHECK(inner["mark"] == 0);
    CHECK(inner["outcome"] == "encapsulated");
    CHECK(inner["encapsulated_in"] == 2);
    CHECK(inner["decapsulated_from"].is_null());
    CHECK(inner["outer_of"].is_null());
    CHECK(inner["packet_id"] == "1e9d5b0a7c3f0001");
    CHECK(inner["gaps"].is_array());
    const auto& steps = inner["steps"];
    REQUIRE(steps.size() == 5);
    CHECK(steps[0]["kind"] == "route");
    CHECK(steps[0]["direction"] == "output");
    CHECK(steps[1]["kind"] == "netfilter");
    CHECK(steps[1]["oif"] == "wg0");
    CHECK(steps[3] ==
          nlohmann::json{{"kind", "device"}, {"direction", "egress"}, {"dev", "wg0"}, {"t_ns", 1'000'031'000}});
    CHECK(steps[4]["kind"] == "wireguard");
    CHECK(steps[4]["action"] == "encrypt");
    CHECK(steps[4]["direction"] == "out");
    CHECK(steps[4]["interface"] == "wg0");
    CHECK(steps[4]["peer"] == kServerKey);
    CHECK(steps[4]["endpoint"] == "203.0.113.123:51820");
    CHECK(steps[4]["receiver_index"] == kServerIndex);
    CHECK(steps[4]["sender_index"].is_null());
    CHECK(steps[4]["counter"] == 2);

    auto outer = timeline_to_json(timelines[1], link_name);
    CHECK(outer["sport"] == 51820);
    CHECK(outer["dport"] == 51820);
    CHECK(outer["outer_of"] == 1);
    CHECK(outer["mark"] == kWgMark);

    auto failed = timeline_to_json(timelines[4], link_name);
    const auto& rp = failed["steps"][5];
    CHECK(rp["kind"] == "rp_filter");
    CHECK(rp["mode"] == "strict");
    CHECK(rp["result"] == "fail");
    CHECK(rp["iif"] == "c0");
    CHECK(rp["reverse_oif"] == "wg0");
    CHECK(rp["mark"] == 0);
    CHECK(rp["src_valid_mark"] == false);
    CHECK(rp["reverse"]["kind"] == "route");
    CHECK(rp["reverse"]["direction"] == "reverse");
    CHECK(rp["t_ns"].is_number());
    CHECK(failed["steps"][6]["kind"] == "drop");
    CHECK(failed["steps"][6]["reason"] == "IP_RPFILTER");
}

TEST_CASE("route summaries: fast path, local delivery, rejects, incomplete walks") {
    RouteDecision local = outer_input_route(5, 1);
    CHECK(route_summary_text(local) ==
          "input iif c0 mark 0xca6c: rule 0 local: 192.168.178.48 dev c0 => local delivery");

    RouteDecision fast;
    fast.direction = RouteDirection::output;
    fast.fast_path = true;
    fast.lookups = {{0, 254, LookupResult::hit, net("0.0.0.0/0"), ip("192.168.1.1"), "eth0", ""}};
    fast.result = LookupResult::hit;
    CHECK(route_summary_text(fast) == "output: main: default via 192.168.1.1 dev eth0");

    RouteDecision rejected;
    rejected.lookups = {{0, 255, LookupResult::miss, {}, {}, "", ""},
                        {200, 300, LookupResult::unreachable, {}, {}, "", ""}};
    rejected.result = LookupResult::unreachable;
    rejected.complete = false;
    CHECK(route_summary_text(rejected) ==
          "output: rule 0 local: miss; rule 200 table 300: unreachable => unreachable [walk not seen to its end]");

    RouteDecision nothing;
    CHECK(route_summary_text(nothing) == "output: => no decision seen");
}

TEST_CASE("event times: a recording's crafted clock offset never overflows nor prints a negative time") {
    TextStyle style;
    style.realtime_offset_ns = INT64_MAX;
    CHECK(event_clock_text(5'000'000'000, style) == "5.000000");
    style.realtime_offset_ns = INT64_MIN;
    CHECK(event_clock_text(5'000'000'000, style) == "5.000000");
    style.realtime_offset_ns = -6'000'000'000;
    CHECK(event_clock_text(5'000'000'000, style) == "5.000000");
    CHECK(event_clock_text(UINT64_MAX, style).find('-') == std::string::npos);
    style.realtime_offset_ns = 1'000'000'000;
    CHECK(event_clock_text(5'000'000'000, style).size() == std::string("00:00:06.000000").size());
}
