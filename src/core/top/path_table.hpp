#pragma once
// `wgbpf top`'s counts: every finished packet timeline counted under its path, with packets, bytes, the
// rate over the last interval and when it was last seen. Bounded: at most `max_paths` paths are told
// apart; packets of further paths are counted together as "other paths", never dropped from the totals.
#include <cstddef>
#include <cstdint>
#include <map>
#include <vector>

#include "event/packet_info.hpp"
#include "top/path_signature.hpp"

namespace wgbpf {

struct PacketTimeline;

struct PathCounts {
    uint64_t packets = 0;
    uint64_t bytes = 0; // IP lengths
    uint64_t last_seen_ns = 0;
    double rate_pps = 0; // over the last closed interval
    double rate_bps = 0; // bytes per second, likewise
    PacketInfo example;  // the first packet seen on this path
    uint64_t example_id = 0; // its timeline's number (#N)
};

struct PathRow {
    const PathSignature* path = nullptr; // valid until the table is changed
    PathCounts counts;
};

struct TopSnapshot {
    uint64_t now_ns = 0;
    double interval_s = 0;
    uint64_t packets = 0; // every packet counted, "other paths" included
    uint64_t bytes = 0;
    uint64_t incomplete_packets = 0; // counted under a path whose story had gaps
    size_t paths = 0;
    size_t max_paths = 0;
    PathCounts other; // packets of paths beyond max_paths
    std::vector<PathRow> rows; // by rate, then packets, highest first
};

class PathTable {
public:
    static constexpr size_t kDefaultMaxPaths = 4096; // ~1 KiB each: the memory ceiling stays a few MiB
    explicit PathTable(size_t max_paths = kDefaultMaxPaths) : max_paths_(max_paths) {}

    void add(const PacketTimeline& t);
    // Closes the interval that ended at `now_ns` (`interval_s` long): rates are its packets over its length.
    [[nodiscard]] TopSnapshot snapshot(uint64_t now_ns, double interval_s);

private:
    struct Entry {
        PathCounts counts;
        uint64_t window_packets = 0;
        uint64_t window_bytes = 0;
    };
    static void count(Entry& e, const PacketTimeline& t);
    size_t max_paths_;
    std::map<PathSignature, Entry> paths_;
    Entry other_;
    uint64_t packets_ = 0;
    uint64_t bytes_ = 0;
    uint64_t incomplete_ = 0;
};

} // namespace wgbpf
