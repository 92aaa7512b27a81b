#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace wgbpf {

struct PacketTimeline;
struct NetnsConfig;
struct WgInterface;
struct ModuleStatus;

struct WatchOptions {
    std::string iface;              // "" = every interface
    std::vector<std::string> netns; // none: the caller's; several: each (inner and outer packets linked across
                                    // them); {"all"}: every namespace of the host
    bool json = false;
    bool steps = false;   // one line per step instead of packet timelines
    bool nftrace = false; // trace table + NFNLGRP_NFTRACE: the deciding rule of each chain
    std::optional<double> duration_s;
    std::optional<uint64_t> count; // stop after this many output records
    uint32_t ringbuf_kib = 4096;
    bool colour = false;
    bool no_fexit = false;                 // --no-fexit: kprobes and tracepoints only, no BPF trampolines
    std::string record_path;               // -w FILE: also write a recording (wgbpf replay FILE)
    std::vector<std::string> command_line; // recorded in the recording's header
    std::string expression;                // tcpdump syntax: the packets the places above choose must match it
    uint16_t sample_every = 1;             // --sample N: 1 flow in N (1: all)
    std::string metrics_address;           // --metrics ADDR:PORT: Prometheus counters served there ("": none)
    std::string pcapng_path;               // --pcapng FILE: the packets' bytes with their timelines ("": none)
    uint16_t snaplen = 0;                  // bytes captured per device crossing (--snaplen; 0: none)
};

// For commands that watch on behalf of their own (`compare` and `diagnose` live): timelines go to
// timeline_sink instead of stdout, and the watch also ends as soon as keep_going() says false (polled every
// 100 ms).
struct WatchHooks {
    std::function<void(const PacketTimeline&)> timeline_sink;
    std::function<bool()> keep_going;
    std::function<void(const NetnsConfig&)>
        config_sink; // the watched namespace's configuration: at start, on each change, at the end
    std::function<void(const std::vector<WgInterface>&)> wireguard_sink; // its WireGuard interface, with config_sink
    std::function<void(const std::vector<ModuleStatus>&, double seconds)> end_sink; // the modules' state at the end
    // Once per wake-up of the watch loop (at most every 100 ms), after that wake-up's timelines went to
    // timeline_sink; `final` once more at the end, after the last timelines and before the summary.
    // `lost_events`: what the kernel lost so far.
    std::function<void(uint64_t now_ns, uint64_t lost_events, bool final)> tick;
};

// Runs until Ctrl-C/SIGTERM, the duration or the count; returns the exit code. Throws FatalError.
int run_watch(const WatchOptions& options, const WatchHooks& hooks = {});

} // namespace wgbpf
