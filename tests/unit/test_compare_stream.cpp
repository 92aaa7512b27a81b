// Comparing as the input comes: the trace text read piece by piece, traces compared in chunks against a
// bounded window of timelines.
#include <catch2/catch_test_macros.hpp>

#include "test_data.hpp"
#include "timeline_fixtures.hpp"
#include "nftrace/compare_stream.hpp"
#include "nftrace/trace_text_parser.hpp"

using namespace wgbpf;
using namespace wgbpf::test;

namespace {

std::string lab_trace() { return read_test_data("nftrace/lab_ping.txt"); }

std::vector<PacketTimeline> lab_timelines() {
    std::vector<PacketTimeline> t = lab_ping_timelines();
    REQUIRE(t.size() == 4);
    return t;
}

std::vector<NftraceTrace> stream_traces(const std::string& text, size_t piece, NftraceStreamLimits limits = {}) {
    std::vector<NftraceTrace> out;
    NftraceTextStream s([&](NftraceTrace&& t) { out.push_back(std::move(t)); }, "test", limits);
    for (size_t at = 0; at < text.size(); at += piece) s.feed(std::string_view(text).substr(at, piece));
    REQUIRE(s.finish());
    return out;
}

// The same packets again, later, under other ids (as a long capture repeats a ping).
PacketTimeline shifted(PacketTimeline t, uint64_t copy) {
    const uint64_t ids = 100 * copy, ns = 1'000'000'000ull * copy;
    t.id += ids;
    for (auto* link : {&t.encapsulated_in, &t.decapsulated_from, &t.outer_of})
        if (*link) **link += ids;
    for (TimelineStep& s : t.steps) std::visit([&](auto& step) { step.t_ns += ns; }, s);
    return t;
}

// A stream that keeps the ids of the traces it hands out.
struct TraceIds {
    std::vector<uint32_t> out;
    NftraceTextStream stream;
    explicit TraceIds(NftraceStreamLimits limits)
        : stream([this](NftraceTrace&& t) { out.push_back(t.id); }, "test", limits) {}
};

NftraceStreamLimits limits_with(size_t NftraceStreamLimits::*field, size_t value) {
    NftraceStreamLimits l;
    l.*field = value;
    return l;
}

// Chunks of 4 traces (one copy of the lab's ping) and room for `max_timelines`.
CompareWindow small_window(size_t max_timelines) {
    CompareWindow w;
    w.chunk = 4;
    w.max_timelines = max_timelines;
    return w;
}

} // namespace

TEST_CASE("trace text stream: pieces split anywhere give the traces of the whole text") {
    auto whole = parse_nftrace_text(lab_trace(), "test");
    REQUIRE(whole);
    for (size_t piece : {1u, 7u, 100u, 1u << 20}) {
        INFO("pieces of " << piece);
        std::vector<NftraceTrace> traces = stream_traces(lab_trace(), piece);
        REQUIRE(traces.size() == whole->traces.size());
        for (size_t i = 0; i < traces.size(); ++i) {
            CHECK(traces[i].id == whole->traces[i].id);
            REQUIRE(traces[i].events.size() == whole->traces[i].events.size());
            CHECK(traces[i].events.back().line == whole->traces[i].events.back().line);
        }
    }
}

TEST_CASE("trace text stream: a trace idle for idle_records trace lines goes out before the text ends") {
    TraceIds ids(limits_with(&NftraceStreamLimits::idle_records, 2));
    auto& [out, s] = ids;
    s.feed("trace id 1 inet filter output packet: oif \"wg0\" ip saddr 10.0.0.1 ip daddr 10.0.0.2\n");
    for (int id = 2; id <= 5; ++id)
        s.feed("trace id " + std::to_string(id) +
               " inet filter output packet: oif \"wg0\" ip saddr 10.0.0.1 ip daddr 10.0.0.2\n");
    // A line is read once the next one shows it is not continued: four of the five were read, and trace 1
    // has had no event for three of them.
    CHECK(out == std::vector<uint32_t>{1});
    REQUIRE(s.finish());
    CHECK(out == std::vector<uint32_t>{1, 2, 3, 4, 5});
    CHECK(s.stats().traces == 5);
}

TEST_CASE("trace text stream: at most max_open traces open, an endless line cut, warnings counted beyond those kept") {
    NftraceStreamLimits limits;
    limits.max_open = 3;
    limits.max_warnings = 2;
    limits.max_line = 1000;
    TraceIds ids(limits);
    auto& [out, s] = ids;
    for (int id = 1; id <= 10; ++id)
        s.feed("trace id " + std::to_string(id) + " inet filter output packet: oif \"wg0\" ip saddr 10.0.0.1\n");
    CHECK(out.size() == 6);         // nine lines read (the tenth may go on), three open
    s.feed(std::string(5000, 'x')); // no newline: not kept beyond max_line
    s.feed("\n");
    for (int i = 0; i < 5; ++i) s.feed("trace id zz inet filter output policy accept\n");
    REQUIRE(s.finish());
    CHECK(out.size() == 10);
    CHECK(s.stats().warnings.size() == 2);
    CHECK(s.stats().warning_count == 5);
}

TEST_CASE("compare stream: with less than a window of input, the totals of compare_traces()") {
    auto timelines = lab_timelines();
    auto log = parse_nftrace_text(lab_trace(), "test");
    REQUIRE(log);
    CompareTotals whole = totals_of(compare_traces(*log, timelines, lab_interface));

    size_t chunks = 0;
    CompareStream stream([&](const Comparison&) { ++chunks; }, lab_interface);
    for (const PacketTimeline& t : timelines) stream.add_timeline(t);
    for (NftraceTrace& t : stream_traces(lab_trace(), 64)) stream.add_trace(std::move(t));
    stream.finish();
    CHECK(chunks == 1);
    CHECK(stream.totals().traces == whole.traces);
    CHECK(stream.totals().matched == whole.matched);
    CHECK(stream.totals().matched == 4);
    CHECK(stream.totals().only_nftrace == whole.only_nftrace);
    CHECK(stream.totals().only_wgbpf == whole.only_wgbpf);
    CHECK(stream.totals().disagreement_count == whole.disagreement_count);
}

TEST_CASE("compare stream: a long capture in a small window: every trace still finds its packet") {
    auto timelines = lab_timelines();
    std::vector<NftraceTrace> traces = stream_traces(lab_trace(), 1 << 20);
    const CompareWindow window = small_window(16);
    size_t chunks = 0, largest = 0;
    CompareStream stream(
        [&](const Comparison& c) {
            ++chunks;
            largest = std::max(largest, c.traces.size());
        },
        lab_interface, window);
    constexpr uint64_t kCopies = 50;
    for (uint64_t copy = 0; copy < kCopies; ++copy) {
        for (const PacketTimeline& t : timelines) stream.add_timeline(shifted(t, copy));
        for (const NftraceTrace& t : traces) stream.add_trace(t);
    }
    stream.finish();
    CHECK(chunks > 10);
    CHECK(largest <= 2 * window.chunk);
    CHECK(stream.totals().traces == kCopies * traces.size());
    CHECK(stream.totals().matched == kCopies * 4);
    CHECK(stream.totals().not_compared == 0);
}

TEST_CASE("compare stream: timelines no trace comes for fall out of the window, counted") {
    auto timelines = lab_timelines();
    CompareWindow window;
    window.max_timelines = 16;
    CompareStream stream([](const Comparison&) {}, lab_interface, window);
    for (uint64_t copy = 0; copy < 30; ++copy)
        for (const PacketTimeline& t : timelines) stream.add_timeline(shifted(t, copy));
    stream.finish();
    CHECK(stream.totals().not_compared >= 120 - 16);
    CHECK(stream.totals().not_compared <= 120 - 12);
}

TEST_CASE("compare stream: a file read only as far as the comparison wants, beside a replay, matches every packet") {
    auto timelines = lab_timelines();
    std::vector<NftraceTrace> traces = stream_traces(lab_trace(), 1 << 20);
    const CompareWindow window = small_window(32);
    CompareStream stream([](const Comparison&) {}, lab_interface, window);
    constexpr uint64_t kCopies = 40;
    std::vector<NftraceTrace> file; // the trace file, in order
    for (uint64_t copy = 0; copy < kCopies; ++copy) file.insert(file.end(), traces.begin(), traces.end());
    size_t next = 0;
    for (uint64_t copy = 0; copy < kCopies; ++copy)
        for (const PacketTimeline& t : timelines) {
            while (next < file.size() && stream.wants_traces()) stream.add_trace(file[next++]); // the reader
            stream.add_timeline(shifted(t, copy));                                              // the replay
        }
    while (next < file.size()) stream.add_trace(file[next++]);
    stream.finish();
    CHECK(stream.totals().matched == kCopies * 4);
    CHECK(stream.totals().only_nftrace == 0);
    CHECK(stream.totals().only_wgbpf == 0);
    CHECK(stream.totals().not_compared == 0);
}

TEST_CASE("compare stream: a packet whose trace comes in a later chunk is not reported as missed by the trace") {
    auto timelines = lab_timelines();
    std::vector<NftraceTrace> traces = stream_traces(lab_trace(), 1 << 20);
    const CompareWindow window = small_window(8);
    CompareStream stream([](const Comparison&) {}, lab_interface, window);
    // Copy 1's packets are all there before copy 0's traces are compared; copy 1's traces come a chunk later.
    for (uint64_t copy = 0; copy < 2; ++copy)
        for (const PacketTimeline& t : timelines) stream.add_timeline(shifted(t, copy));
    for (int copy = 0; copy < 2; ++copy)
        for (const NftraceTrace& t : traces) stream.add_trace(t);
    stream.finish();
    CHECK(stream.totals().matched == 8);
    CHECK(stream.totals().only_wgbpf == 0);
    CHECK(stream.totals().only_nftrace == 0);
}

TEST_CASE("trace text stream: a line longer than max_line is dropped to its newline, whatever its pieces say") {
    TraceIds ids(limits_with(&NftraceStreamLimits::max_line, 100));
    auto& [out, s] = ids;
    s.feed("trace id 1 inet filter output packet: oif \"wg0\" ip saddr 10.0.0.1\n");
    s.feed(std::string(150, 'x'));
    s.feed("trace id 2 inet filter output packet: oif \"wg0\" ip saddr 10.0.0.1"); // still the same long line
    s.feed("\ntrace id 3 inet filter output packet: oif \"wg0\" ip saddr 10.0.0.1\n");
    REQUIRE(s.finish());
    CHECK(out == std::vector<uint32_t>{1, 3});
}
