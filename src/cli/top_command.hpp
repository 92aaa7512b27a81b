#pragma once
#include <cstddef>

#include "watch_command.hpp"

namespace wgbpf {

struct TopOptions {
    WatchOptions watch;      // what is watched: interface, namespaces, expression, sampling, duration, --json
    double interval_s = 1;   // a snapshot every this often
    std::optional<size_t> rows; // at most this many paths per snapshot (default: 20 as text, all as JSON)
    bool examples = false;   // each path's first packet
};

// `wgbpf top`: every watched packet counted by the path it took, a snapshot per interval. Returns the exit
// code; throws FatalError.
int run_top(const TopOptions& options);

} // namespace wgbpf
