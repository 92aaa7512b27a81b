#pragma once
// `wgbpf replay FILE`: renders a recording made by `wgbpf watch -w FILE` as watch would have shown it live.
// Needs no privileges and no particular host. Exit codes: 0 read to its end; 4 the file does not exist;
// 1 not a recording, or cut short / corrupted (after rendering everything before the problem).
#include <string>

#include "record/recording_reader.hpp"

namespace wgbpf {

struct ReplayOptions {
    std::string path;
    bool json = false;  // JSON lines (docs/json-schema.md)
    bool steps = false; // one line per step instead of packet timelines
    bool colour = false;
    std::string pcapng_path; // --pcapng FILE: the recorded packets' bytes ("": none)
};

// Opens a recording for replay; FatalError when it does not exist (not_found) or is not one (failure).
RecordingReader open_recording(const std::string& path);

// Returns the exit code; throws FatalError when the file cannot be replayed at all.
int run_replay(const ReplayOptions& options);

} // namespace wgbpf
