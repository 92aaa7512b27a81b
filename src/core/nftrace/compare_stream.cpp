#include "nftrace/compare_stream.hpp"

#include <algorithm>
#include <set>

namespace wgbpf {
namespace {

bool has_netfilter_step(const PacketTimeline& t) {
    return std::any_of(t.steps.begin(), t.steps.end(),
                       [](const TimelineStep& s) { return std::holds_alternative<NetfilterStep>(s); });
}

void add(CompareTotals& totals, const Comparison& c, size_t max_disagreements) {
    totals.traces += c.traces.size();
    totals.matched += c.matched;
    totals.only_nftrace += c.only_nftrace;
    totals.only_wgbpf += c.only_wgbpf_packets;
    totals.disagreement_count += c.disagreements.size();
    for (const Disagreement& d : c.disagreements)
        if (totals.disagreements.size() < max_disagreements) totals.disagreements.push_back(d);
}

// The timelines a comparison showed: matched, shown under their inner packet, or shown as only wgbpf's.
std::set<uint64_t> shown_timelines(const Comparison& c) {
    std::set<uint64_t> ids;
    for (const auto* list : {&c.traces, &c.only_wgbpf})
        for (const TraceMatch& m : *list) {
            if (m.timeline) ids.insert(m.timeline->id);
            for (const ChainAlignment& row : m.chains)
                if (row.packet) ids.insert(row.packet);
        }
    return ids;
}

} // namespace

CompareTotals totals_of(const Comparison& c) {
    CompareTotals t;
    add(t, c, SIZE_MAX);
    return t;
}

CompareStream::CompareStream(ChunkSink sink, std::function<std::string(int)> interface_name, CompareWindow window)
    : sink_(std::move(sink)), interface_name_(std::move(interface_name)), window_(window) {
    totals_.window = window_.max_timelines;
}

void CompareStream::add_trace(NftraceTrace trace) {
    traces_.push_back(std::move(trace));
    // Compared once their packets have likely come (the window half full), or, when wgbpf sees few of the
    // traced packets, once four chunks wait: traces stay bounded too.
    bool ready = traces_.size() >= 2 * window_.chunk && timelines_.size() >= window_.max_timelines / 2;
    if (ready || traces_.size() >= 4 * window_.chunk) compare(window_.chunk, false);
}

void CompareStream::add_timeline(const PacketTimeline& timeline) {
    if (!has_netfilter_step(timeline)) return;
    timelines_.push_back(timeline);
    if (timelines_.size() <= window_.max_timelines) return;
    compare(traces_.size(), false); // the traces waiting may still take the oldest
    if (timelines_.size() <= window_.max_timelines) return;
    // Still too many: the oldest fall out, uncompared (counted).
    size_t out = timelines_.size() - window_.max_timelines * 3 / 4;
    totals_.not_compared += out;
    timelines_.erase(timelines_.begin(), timelines_.begin() + std::ptrdiff_t(out));
}

void CompareStream::finish() { compare(traces_.size(), true); }

void CompareStream::compare(size_t count, bool last) {
    if (count == 0 && !last) return;
    NftraceLog log;
    for (size_t i = 0; i < count && !traces_.empty(); ++i) {
        log.traces.push_back(std::move(traces_.front()));
        traces_.pop_front();
    }
    std::set<uint64_t> done;
    {
        Comparison c = compare_traces(log, timelines_, interface_name_, MatchOptions{last, &scope_});
        scope_.widen(c.scope);
        add(totals_, c, window_.max_disagreements);
        done = shown_timelines(c);
        sink_(c); // before the timelines it points into go
    }
    std::erase_if(timelines_, [&](const PacketTimeline& t) { return done.count(t.id) > 0; });
}

} // namespace wgbpf
