#include "wgbpf/bpf/shared_maps.hpp"

#include <bpf/bpf.h>
#include <sys/random.h>

#include <vector>

#include <cstring>

namespace wgbpf {
namespace {

Result<void> reuse(bpf_map* map, int fd, const char* what) {
    if (fd < 0 || !map) return {};
    if (int err = bpf_map__reuse_fd(map, fd)) return Error{std::string("cannot share the ") + what + ": " + std::strerror(-err)};
    return {};
}

} // namespace

Result<void> SharedMaps::reuse_in(bpf_map* events_map, bpf_map* losses_map, bpf_map* watched_map,
                                  uint32_t ringbuf_bytes) {
    if (events_map) bpf_map__set_max_entries(events_map, ringbuf_bytes);
    if (auto r = reuse(events_map, events, "ring buffer"); !r) return r;
    if (auto r = reuse(losses_map, losses, "loss counters"); !r) return r;
    return reuse(watched_map, watched, "watched-packet table");
}

void SharedMaps::adopt_from(const bpf_map* events_map, const bpf_map* losses_map, const bpf_map* watched_map) {
    if (events < 0 && events_map) events = bpf_map__fd(events_map);
    if (losses < 0 && losses_map) losses = bpf_map__fd(losses_map);
    if (watched < 0 && watched_map) watched = bpf_map__fd(watched_map);
}

uint64_t read_losses(int losses_fd, uint32_t module) {
    int ncpu = libbpf_num_possible_cpus();
    if (losses_fd < 0 || ncpu <= 0) return 0;
    std::vector<uint64_t> per_cpu(ncpu);
    if (bpf_map_lookup_elem(losses_fd, &module, per_cpu.data()) != 0) return 0;
    uint64_t sum = 0;
    for (uint64_t n : per_cpu) sum += n;
    return sum;
}

uint64_t packet_id_key() {
    static const uint64_t key = [] {
        uint64_t k = 0;
        if (getrandom(&k, sizeof k, 0) != sizeof k) k = reinterpret_cast<uintptr_t>(&k) * 0x9e3779b97f4a7c15ULL;
        return k;
    }();
    return key;
}

} // namespace wgbpf
