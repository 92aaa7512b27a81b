#pragma once
// `wgbpf top`'s counts: every finished packet timeline counted under its path, with packets, bytes, the
// rate over the last interval and when it was last seen. Bounded: at most `max_paths` paths, holding at most
// `max_bytes`, are told apart; packets of further paths are counted together as "other paths", never dropped
// from the totals.
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
    bool full = false; // the table reached its ceiling: new paths went to `other`
    PathCounts other; // packets of paths beyond max_paths
    std::vector<PathRow> rows; // by rate, then packets, highest first
};

class PathTable {
public:
    static constexpr size_t kDefaultMaxPaths = 4096;
    static constexpr size_t kDefaultMaxBytes = 32u << 20; // the signatures' own size (a chain name is up to 256 B)
    explicit PathTable(size_t max_paths = kDefaultMaxPaths, size_t max_bytes = kDefaultMaxBytes)
        : max_paths_(max_paths), max_bytes_(max_bytes) {}

    void add(const PacketTimeline& t);
    // Closes the interval that ended at `now_ns` (`interval_s` long): rates are its packets over its length.
    // (The map's nodes and the strings' own overhead make the resident size ~2x `max_bytes` at most.)
    [[nodiscard]] TopSnapshot snapshot(uint64_t now_ns, double interval_s);

private:
    struct Entry {
        PathCounts counts;
        uint64_t window_packets = 0;
        uint64_t window_bytes = 0;
    };
    static void count(Entry& e, const PacketTimeline& t);
    size_t max_paths_;
    size_t max_bytes_;
    size_t bytes_held_ = 0;
    std::map<PathSignature, Entry> paths_;
    Entry other_;
    uint64_t packets_ = 0;
    uint64_t bytes_ = 0;
    uint64_t incomplete_ = 0;
};

} // namespace wgbpf
