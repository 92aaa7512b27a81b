// End to end without root: the recording in tests/data/recordings replayed into timelines, compared with
// `nft monitor trace` text written for the same two packets (tests/data/nftrace/recording_seed_v1.txt).
#include <catch2/catch_test_macros.hpp>

#include <fstream>
#include <sstream>

#include "nftrace/trace_matcher.hpp"
#include "record/recording_reader.hpp"
#include "record/replay_session.hpp"

using namespace wgbpf;

TEST_CASE("compare: a recording's packets against nftrace text of the same packets") {
    auto reader = RecordingReader::open(std::string(WGBPF_TEST_DATA) + "/recordings/seed_v1.wgbpf");
    REQUIRE(reader);
    std::vector<PacketTimeline> timelines;
    PipelineSinks sinks;
    sinks.timeline = [&](const PacketTimeline& t) { timelines.push_back(t); };
    ReplaySession session(sinks);
    ReplayOutcome outcome = session.run(*reader);
    REQUIRE(outcome.problem.empty());
    REQUIRE(timelines.size() == 2);

    std::ifstream in(std::string(WGBPF_TEST_DATA) + "/nftrace/recording_seed_v1.txt");
    auto log = parse_nftrace_text(in, "recording_seed_v1.txt");
    REQUIRE(log);
    REQUIRE(log->traces.size() == 2);

    Comparison c = compare_traces(*log, timelines, [&](int ifindex) { return session.link_name(ifindex); });
    CHECK(c.matched == 2);
    CHECK(c.disagreements.empty());
    CHECK(c.only_wgbpf_packets == 0);
    // #1: wgbpf missed its output chain (3 route events lost); postmangle agrees, mark 0xca6c on both sides.
    const TraceMatch& sent = c.traces[0];
    REQUIRE(sent.timeline);
    CHECK(sent.timeline->id == 1);
    REQUIRE(sent.chains.size() == 2);
    CHECK(sent.chains[0].side == ChainSide::only_nftrace);
    CHECK(sent.chains[0].chain == "inet filter output");
    CHECK(sent.chains[1].side == ChainSide::both);
    CHECK(sent.chains[1].nftrace->mark_after == 0xca6cu);
    CHECK(sent.chains[1].wgbpf->mark_after == 0xca6cu);
    // #2: dropped in inet filter output, as both say.
    const TraceMatch& dropped = c.traces[1];
    REQUIRE(dropped.timeline);
    CHECK(dropped.timeline->id == 2);
    REQUIRE(dropped.chains.size() == 1);
    CHECK(dropped.chains[0].side == ChainSide::both);
    CHECK(dropped.chains[0].nftrace->verdict == "drop");
    CHECK(dropped.chains[0].wgbpf->verdict == NfVerdict::drop);
}
