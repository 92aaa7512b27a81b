#pragma once
// `wgbpf compare` as the trace text and the timelines come, in a bounded window, so that memory stays bounded
// whatever the input size (a live `nft monitor trace` never ends). Traces are compared in chunks of the oldest,
// once twice a chunk waits and the timeline window is half full (or four chunks wait), each against the
// timelines waiting then. A timeline no trace took stays for later traces; it is reported (`only wgbpf`) at the
// end, or counted when it falls out of the window (at most `max_timelines` wait). With less than a window of
// input, the result is compare_traces()'s.
#include <cstddef>
#include <deque>
#include <functional>
#include <string>
#include <vector>

#include "nftrace/trace_matcher.hpp"

namespace wgbpf {

struct CompareWindow {
    size_t chunk = 2048;             // traces compared at once, once twice as many wait
    size_t max_timelines = 8192;     // timelines with netfilter steps waiting for their trace
    size_t max_disagreements = 1000; // listed in the summary; all are counted
};

struct CompareTotals {
    size_t traces = 0, matched = 0, only_nftrace = 0, only_wgbpf = 0;
    size_t not_compared = 0;                 // timelines that fell out of the window before a trace came
    std::vector<Disagreement> disagreements; // the first max_disagreements
    size_t disagreement_count = 0;
    size_t window = 0; // max_timelines, for the summary's words
};

// The totals of one whole comparison (compare_traces() of everything at once).
CompareTotals totals_of(const Comparison& c);

class CompareStream {
public:
    using ChunkSink = std::function<void(const Comparison&)>; // each chunk's matches, to be shown at once
    CompareStream(ChunkSink sink, std::function<std::string(int ifindex)> interface_name, CompareWindow window = {});

    void add_trace(NftraceTrace trace);
    // How many more traces the comparison can take before it must compare (a reader of a file reads that far).
    bool wants_traces() const { return traces_.size() < 2 * window_.chunk; }
    void add_timeline(const PacketTimeline& timeline); // kept only with netfilter steps: no trace can match others
    void finish();                                     // compares what is left
    size_t waiting_traces() const { return traces_.size(); }
    const CompareWindow& window() const { return window_; }
    const CompareTotals& totals() const { return totals_; }

private:
    void compare(size_t traces, bool last);
    ChunkSink sink_;
    std::function<std::string(int)> interface_name_;
    CompareWindow window_;
    CompareTotals totals_;
    MatchScope scope_; // of every match so far
    std::deque<NftraceTrace> traces_;
    std::vector<PacketTimeline> timelines_; // in the order they completed
};

} // namespace wgbpf
