#include "top/path_table.hpp"

#include <algorithm>

#include "timeline/packet_timeline.hpp"

namespace wgbpf {

namespace {

uint64_t last_time(const PacketTimeline& t) {
    uint64_t last = 0;
    for (const TimelineStep& s : t.steps) last = std::max(last, step_time(s));
    return last;
}

void close_interval(PathCounts& c, uint64_t& window_packets, uint64_t& window_bytes, double interval_s) {
    c.rate_pps = interval_s > 0 ? double(window_packets) / interval_s : 0;
    c.rate_bps = interval_s > 0 ? double(window_bytes) / interval_s : 0;
    window_packets = window_bytes = 0;
}

} // namespace

void PathTable::count(Entry& e, const PacketTimeline& t) {
    const uint64_t len = t.pkt.is_ip ? t.pkt.len : 0;
    if (e.counts.packets == 0) {
        e.counts.example = t.pkt;
        e.counts.example_id = t.id;
    }
    ++e.counts.packets;
    e.counts.bytes += len;
    ++e.window_packets;
    e.window_bytes += len;
    e.counts.last_seen_ns = std::max(e.counts.last_seen_ns, last_time(t));
}

void PathTable::add(const PacketTimeline& t) {
    PathSignature path = path_of(t);
    ++packets_;
    bytes_ += t.pkt.is_ip ? t.pkt.len : 0;
    if (path.incomplete) ++incomplete_;
    auto it = paths_.find(path);
    if (it == paths_.end()) {
        const size_t size = approx_bytes(path);
        if (paths_.size() >= max_paths_ || bytes_held_ + size > max_bytes_) return count(other_, t);
        bytes_held_ += size;
        it = paths_.emplace(std::move(path), Entry{}).first;
    }
    count(it->second, t);
}

TopSnapshot PathTable::snapshot(uint64_t now_ns, double interval_s) {
    TopSnapshot s;
    s.now_ns = now_ns;
    s.interval_s = interval_s;
    s.packets = packets_;
    s.bytes = bytes_;
    s.incomplete_packets = incomplete_;
    s.paths = paths_.size();
    s.max_paths = max_paths_;
    s.full = other_.counts.packets > 0;
    s.rows.reserve(paths_.size());
    for (auto& [path, e] : paths_) {
        close_interval(e.counts, e.window_packets, e.window_bytes, interval_s);
        s.rows.push_back({&path, e.counts});
    }
    close_interval(other_.counts, other_.window_packets, other_.window_bytes, interval_s);
    s.other = other_.counts;
    std::stable_sort(s.rows.begin(), s.rows.end(), [](const PathRow& a, const PathRow& b) {
        if (a.counts.rate_pps != b.counts.rate_pps) return a.counts.rate_pps > b.counts.rate_pps;
        return a.counts.packets > b.counts.packets;
    });
    return s;
}

} // namespace wgbpf
