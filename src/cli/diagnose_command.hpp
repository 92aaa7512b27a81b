#pragma once
// `wgbpf diagnose`: checks the configuration, watches (or replays a recording), then says what is wrong, with
// the evidence and one change to make for each finding (docs/diagnose.md). Exit codes: 0 no finding, 5
// findings, the rest as watch.
#include <optional>
#include <string>

#include "watch_command.hpp"

namespace wgbpf {

struct DiagnoseOptions {
    WatchOptions watch;    // iface, netns, duration (default 10 s), no_fexit
    std::string recording; // -r FILE: read a recording instead of watching
    bool json = false;
};

int run_diagnose(DiagnoseOptions options);

} // namespace wgbpf
