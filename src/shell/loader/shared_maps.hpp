#pragma once
// Maps every probe object shares: one ring buffer (one ordered stream), the loss counters, the
// watched-packet table and its clock, the per-CPU output-hook context (re-routes), and the outer or inner
// packets a user-space WireGuard is expected to make of watched ones. The first object to load
// creates them; the others reuse them. Held by duplicated fds of their own: an object that fails after loading
// (an attach refused) closes its fds, never the shared maps.
#include <bpf/libbpf.h>

#include <array>
#include <cstdint>

#include "common/result.hpp"
#include "common/unique_fd.hpp"
#include "filter/bpf_code.hpp"

namespace wgbpf {

struct SharedMaps {
    UniqueFd events;
    UniqueFd losses;
    UniqueFd watched;
    UniqueFd watch_clock;
    UniqueFd hook_contexts;
    UniqueFd tunnel_expects;
    // Not a map, but what every object gets at load the same way: the user's expression in eBPF (empty: none).
    EbpfProgram packet_filter;

    // One object's maps of these names.
    struct Of {
        bpf_map* events;
        bpf_map* losses;
        bpf_map* watched;
        bpf_map* watch_clock;
        bpf_map* hook_contexts;
        bpf_map* tunnel_expects;
    };
    // Before load: reuse what exists (and size the ring buffer).
    [[nodiscard]] Result<void> reuse_in(const Of& maps, uint32_t ringbuf_bytes);
    // After load: adopt what this object created (duplicated fds; -1 or a map not in the object: none).
    [[nodiscard]] Result<void> adopt_from(const Of& maps);
    [[nodiscard]] Result<void> adopt_fds(int events_fd, int losses_fd, int watched_fd, int watch_clock_fd,
                                         int hook_contexts_fd, int tunnel_expects_fd);
};

// Sum of one module's per-CPU loss counters (records the kernel could not reserve).
uint64_t read_losses(int losses_fd, uint32_t module);

// The SipHash key that turns skb addresses into packet ids, one per run (set into each object's rodata).
const std::array<uint64_t, 2>& packet_id_key();

} // namespace wgbpf
