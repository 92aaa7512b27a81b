#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace wgbpf {

struct WatchOptions {
    std::string iface;                 // "" = every interface
    std::string netns;                 // "" = the caller's
    bool json = false;
    bool steps = false;                // one line per step instead of packet timelines
    bool nftrace = false;              // trace table + NFNLGRP_NFTRACE: the deciding rule of each chain
    std::optional<double> duration_s;
    std::optional<uint64_t> count;     // stop after this many output records
    uint32_t ringbuf_kib = 4096;
    bool colour = false;
    std::string record_path;           // -w FILE: also write a recording (wgbpf replay FILE)
    std::vector<std::string> command_line; // recorded in the recording's header
};

// Runs until Ctrl-C/SIGTERM, the duration or the count; returns the exit code. Throws FatalError.
int run_watch(const WatchOptions& options);

} // namespace wgbpf
