#include <catch2/catch_test_macros.hpp>
#include <fmt/format.h>

#include "test_data.hpp"
#include "timeline_fixtures.hpp"
#include "nftrace/trace_matcher.hpp"

using namespace wgbpf;
using namespace wgbpf::test;

namespace {

std::string lab_trace() { return read_test_data("nftrace/lab_ping.txt"); }

NftraceLog parse(const std::string& text) {
    auto log = parse_nftrace_text(text, "test");
    REQUIRE(log);
    return std::move(log.value());
}

std::vector<PacketTimeline> lab_timelines() {
    std::vector<PacketTimeline> t = lab_ping_timelines();
    REQUIRE(t.size() == 4);
    return t;
}

std::vector<std::string> sides(const TraceMatch& m) {
    std::vector<std::string> out;
    for (const ChainAlignment& row : m.chains) {
        std::string side = row.side == ChainSide::both           ? "both"
                           : row.side == ChainSide::only_nftrace ? "nftrace"
                                                                 : "wgbpf";
        out.push_back(side + " " + row.chain + (row.disagree.empty() ? "" : " !"));
    }
    return out;
}

using Rows = std::vector<std::string>;

} // namespace

TEST_CASE("trace matcher: chain visits read the base chain's verdict and the mark after it") {
    NftraceLog log = parse(lab_trace());
    auto outer = chain_visits(log.traces[1]);
    REQUIRE(outer.size() == 2);
    CHECK(outer[0].name() == "inet filter output");
    CHECK(outer[0].verdict == "accept");
    CHECK(outer[0].mark_after == 0xca6cu);
    CHECK(outer[0].line == 15);
    auto input = chain_visits(log.traces[2]);
    REQUIRE(input.size() == 3);
    CHECK(input[2].name() == "inet filter input");
    CHECK(input[2].verdict == "accept"); // from `inet filter global`, jumped to
    CHECK_FALSE(input[2].mark_after);    // a rule line carries no mark
    auto request = chain_visits(log.traces[0]);
    CHECK(request[1].mark_after == 0u); // policy without a mark: 0
}

TEST_CASE("trace matcher: the lab's trace lines up with wgbpf's four packets, chain by chain") {
    auto timelines = lab_timelines();
    NftraceLog log = parse(lab_trace());
    Comparison c = compare_traces(log, timelines, lab_interface);
    CHECK(c.matched == 4);
    CHECK(c.only_nftrace == 0);
    CHECK(c.only_wgbpf_packets == 0);
    CHECK(c.only_wgbpf.empty());
    CHECK(c.disagreements.empty());
    REQUIRE(c.traces.size() == 4);
    CHECK(c.traces[0].timeline->id == 1);
    CHECK(c.traces[1].timeline->id == 2);
    CHECK(c.traces[2].timeline->id == 3);
    CHECK(c.traces[3].timeline->id == 4);
    CHECK(sides(c.traces[0]) == Rows{"both inet filter output", "both ip wg-quick-wg0 postmangle"});
    CHECK(sides(c.traces[2]) ==
          Rows{"both ip wg-quick-wg0 preraw", "both ip wg-quick-wg0 premangle", "both inet filter input"});
    REQUIRE(c.traces[0].notes.size() == 1);
    CHECK(c.traces[0].notes[0] == "nftrace lost the packet at WireGuard encapsulation; wgbpf follows it as outer "
                                  "packet #2 (traced separately as 2988acd2)");
    REQUIRE(c.traces[3].notes.size() == 1);
    CHECK(c.traces[3].notes[0] == "wgbpf: decrypted from outer packet #3; nftrace starts a new trace there");
    // premangle: both saw the mark restored from conntrack.
    const ChainAlignment& premangle = c.traces[2].chains[1];
    CHECK(premangle.nftrace->mark_after == 0xca6cu);
    CHECK(premangle.wgbpf->mark_after == 0xca6cu);
}

TEST_CASE("trace matcher: nftrace loses the packet at encapsulation, wgbpf follows the outer packet") {
    auto timelines = lab_timelines();
    NftraceLog log = parse(without_trace(lab_trace(), "2988acd2"));
    Comparison c = compare_traces(log, timelines, lab_interface);
    CHECK(c.matched == 3);
    CHECK(c.only_wgbpf_packets == 1);
    CHECK(c.only_wgbpf.empty()); // shown after the inner packet's trace instead
    const TraceMatch& request = c.traces[0];
    CHECK(sides(request) == Rows{"both inet filter output", "both ip wg-quick-wg0 postmangle",
                                 "wgbpf inet filter output", "wgbpf ip wg-quick-wg0 postmangle"});
    CHECK(request.chains[2].packet == 2);
    REQUIRE(request.notes.size() == 1);
    CHECK(request.notes[0] ==
          "nftrace lost the packet at WireGuard encapsulation; wgbpf follows it as outer packet #2");
}

TEST_CASE("trace matcher: a verdict and a mark the two sides disagree on") {
    auto timelines = lab_timelines();
    std::string text = replaced(lab_trace(), "trace id 6ca3695d inet filter output policy accept",
                                "trace id 6ca3695d inet filter output policy drop");
    text = replaced(text, "trace id ae8f7320 ip wg-quick-wg0 premangle policy accept meta mark 0x0000ca6c",
                    "trace id ae8f7320 ip wg-quick-wg0 premangle policy accept meta mark 0x0000beef");
    Comparison c = compare_traces(parse(text), timelines, lab_interface);
    CHECK(c.matched == 4);
    REQUIRE(c.disagreements.size() == 2);
    auto said = [](const Disagreement& d) {
        return fmt::format("{:08x} #{} {}: {} {} / {}", d.trace_id, d.packet, d.chain, d.what, d.nftrace, d.wgbpf);
    };
    CHECK(said(c.disagreements[0]) == "6ca3695d #1 inet filter output: verdict drop / accept");
    CHECK(said(c.disagreements[1]) == "ae8f7320 #3 ip wg-quick-wg0 premangle: mark 0xbeef / 0xca6c");
    CHECK(sides(c.traces[0])[0] == "both inet filter output !");
}

TEST_CASE("trace matcher: a trace of a packet wgbpf did not see, and wgbpf packets no trace covered") {
    auto timelines = lab_timelines();
    // Another IP id: not the request wgbpf saw. And no trace for the reply (#3, #4).
    std::string text = replaced(lab_trace(), "ip id 44121 ip protocol icmp", "ip id 1 ip protocol icmp");
    text = replaced(text, "ip id 44121 ip length 84", "ip id 1 ip length 84");
    text = without_trace(without_trace(text, "ae8f7320"), "8f0cd96a");
    Comparison c = compare_traces(parse(text), timelines, lab_interface);
    CHECK(c.matched == 1);
    CHECK(c.only_nftrace == 1);
    CHECK_FALSE(c.traces[0].timeline);
    CHECK(sides(c.traces[0]) == Rows{"nftrace inet filter output", "nftrace ip wg-quick-wg0 postmangle"});
    // #1 happened within the matched trace's time; #3 and #4 came 22 ms later: out of scope.
    REQUIRE(c.only_wgbpf.size() == 1);
    CHECK(c.only_wgbpf[0].timeline->id == 1);
    CHECK(c.only_wgbpf_packets == 1);

    // Interfaces count when they can be resolved: the outer packet did not leave through eth0.
    std::string elsewhere = replaced(without_trace(lab_trace(), "6ca3695d"), "oif \"c0\"", "oif \"eth0\"");
    Comparison d = compare_traces(parse(elsewhere), timelines, lab_interface);
    CHECK(d.traces[0].timeline->id == 2); // still matched through postmangle, whose packet line says c0
    CHECK(sides(d.traces[0]) ==
          Rows{"nftrace inet filter output", "wgbpf inet filter output", "both ip wg-quick-wg0 postmangle"});
}

TEST_CASE("trace matcher: identical packets go to timelines in time order, each once") {
    Collected c;
    feed_outgoing_ping(c.builder, 1'000'000'000);
    feed_outgoing_ping(c.builder, 3'000'000'000); // the same bytes again (same ip id): a retransmission
    c.builder.flush_all();
    std::string request = without_trace(without_trace(without_trace(lab_trace(), "2988acd2"), "ae8f7320"), "8f0cd96a");
    Comparison cmp = compare_traces(parse(request + request), c.out); // the kernel reused the trace id
    REQUIRE(cmp.traces.size() == 2);
    CHECK(cmp.traces[0].timeline->id == 1);
    CHECK(cmp.traces[1].timeline->id == 3);
}
