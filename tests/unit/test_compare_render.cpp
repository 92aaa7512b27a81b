#include <catch2/catch_test_macros.hpp>

#include "golden.hpp"
#include "test_data.hpp"
#include "timeline_fixtures.hpp"
#include "render/compare_render.hpp"

using namespace wgbpf;
using namespace wgbpf::test;

namespace {

// Every kind of row: the lab's trace without the outer packet's trace (the encapsulation gap), the request's
// output chain said to drop (a verdict disagreement), the reply's premangle with another mark, and a trace
// of a packet wgbpf never saw.
struct Scenario {
    NftraceLog log;
    std::vector<PacketTimeline> timelines;
    Comparison comparison;

    Scenario() {
        std::string text = without_trace(read_test_data("nftrace/lab_ping.txt"), "2988acd2");
        text = replaced(text, "inet filter output policy accept", "inet filter output policy drop");
        text = replaced(text, "premangle policy accept meta mark 0x0000ca6c",
                        "premangle policy accept meta mark 0x0000beef");
        text += read_test_data("nftrace/nft_1.1.txt");
        auto parsed = parse_nftrace_text(text, "scenario");
        REQUIRE(parsed);
        log = std::move(parsed.value());

        Collected c;
        feed_outgoing_ping(c.builder);
        feed_incoming_reply(c.builder);
        c.builder.flush_all();
        timelines = c.out;
        comparison = compare_traces(log, timelines, [](int i) { return i == kC0 ? "c0" : i == kWg0 ? "wg0" : ""; });
    }
};

} // namespace

TEST_CASE("compare render: text, side by side") {
    Scenario s;
    check_golden("compare_lab.txt", render_compare_text(s.comparison));
}

TEST_CASE("compare render: JSON lines, one per trace, then the summary") {
    Scenario s;
    check_golden("compare_lab.jsonl", render_compare_json(s.comparison));
    nlohmann::json summary = compare_summary_json(s.comparison);

    CHECK(summary["kind"] == "summary");
    CHECK(summary["traces"] == 5);
    CHECK(summary["matched"] == 3);
    CHECK(summary["only_nftrace"] == 2);
    CHECK(summary["only_wgbpf"] == 1);
    REQUIRE(summary["disagreements"].size() == 2);
    CHECK(summary["disagreements"][0] == nlohmann::json{{"trace_id", "6ca3695d"},
                                                        {"packet", 1},
                                                        {"chain", "inet filter output"},
                                                        {"what", "verdict"},
                                                        {"nftrace", "drop"},
                                                        {"wgbpf", "accept"}});
}

TEST_CASE("compare render: JSON from a trace file that is not UTF-8") {
    auto log = parse_nftrace_text("trace id 1 inet filter out\xff packet: ip saddr 10.0.0.1\n", "latin1");
    REQUIRE(log);
    std::string json = render_compare_json(compare_traces(*log, {}));
    CHECK(json.find("\"chain\":\"inet filter out\xef\xbf\xbd\"") != std::string::npos);
}

TEST_CASE("compare render: the packet as nftrace printed it") {
    NftracePacket p;
    p.family = Family::ipv6;
    p.saddr = IpAddress::parse("2001:db8::1");
    p.l4proto = 17;
    p.dport = 53;
    CHECK(nftrace_packet_text(p) == "udp [2001:db8::1]:? -> [?]:53");
    NftracePacket icmp;
    icmp.l4proto = 1;
    icmp.icmp_type = 8;
    icmp.saddr = IpAddress::parse("10.0.0.1");
    icmp.daddr = IpAddress::parse("198.51.100.9");
    CHECK(nftrace_packet_text(icmp) == "icmp 10.0.0.1 -> 198.51.100.9 echo-request");
}
