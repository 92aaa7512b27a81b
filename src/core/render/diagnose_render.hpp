#pragma once
// `wgbpf diagnose` on a terminal and as one JSON object (docs/diagnose.md).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "diagnose/finding.hpp"
#include "diagnose/timeline_evidence.hpp"

namespace wgbpf {

struct DiagnoseReport {
    std::string interface;
    std::string netns;                 // as given ("" = the caller's)
    std::string implementation;        // "kernel" | "user space (uapi)" | "" when not a WireGuard interface
    std::string source;                // "live" or the recording's path
    double seconds = 0;                // watched (or recorded) for
    size_t checks = 0;                 // configuration checks run
    uint64_t timelines = 0;            // packets read
    uint64_t routes_compared = 0;      // route decisions compared with the prediction
    uint64_t now_ns = 0;               // the watch's clock at its end ("handshake 12 s ago")
    std::optional<int64_t> now_unix_s; // live: the wall clock at the end, for WireGuard's own handshake times
    std::vector<Finding> findings;     // configuration first, then the packets'
    std::vector<PeerHealth> health;
    std::vector<std::string> limits; // what could not be checked, and why
    size_t problems() const;         // findings that are not notes
};

std::string diagnose_text(const DiagnoseReport& r);
std::string diagnose_json(const DiagnoseReport& r); // one line

} // namespace wgbpf
