#include "loader/shared_maps.hpp"

#include <bpf/bpf.h>
#include <fcntl.h>
#include <sys/random.h>

#include <vector>

#include <cerrno>
#include <cstring>
#include <string>

namespace wgbpf {
namespace {

Result<void> reuse(bpf_map* map, const UniqueFd& fd, const char* what) {
    if (!fd.valid() || !map) return {};
    if (int err = bpf_map__reuse_fd(map, fd.get()))
        return Error{std::string("cannot share the ") + what + ": " + std::strerror(-err)};
    return {};
}

// A copy of `fd` this process owns, for a shared map none holds yet.
Result<void> adopt(UniqueFd& mine, int fd, const char* what) {
    if (mine.valid() || fd < 0) return {};
    int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (copy < 0) return Error{std::string("cannot keep the ") + what + ": " + std::strerror(errno)};
    mine.reset(copy);
    return {};
}

} // namespace

Result<void> SharedMaps::reuse_in(const Of& maps, uint32_t ringbuf_bytes) {
    if (maps.events) bpf_map__set_max_entries(maps.events, ringbuf_bytes);
    if (auto r = reuse(maps.events, events, "ring buffer"); !r) return r;
    if (auto r = reuse(maps.losses, losses, "loss counters"); !r) return r;
    if (auto r = reuse(maps.watched, watched, "watched-packet table"); !r) return r;
    if (auto r = reuse(maps.watch_clock, watch_clock, "watched-packet clock"); !r) return r;
    if (auto r = reuse(maps.hook_contexts, hook_contexts, "output-hook context"); !r) return r;
    return reuse(maps.tunnel_expects, tunnel_expects, "expected tunnel packets");
}

Result<void> SharedMaps::adopt_from(const Of& maps) {
    auto fd = [](const bpf_map* map) { return map ? bpf_map__fd(map) : -1; };
    return adopt_fds(fd(maps.events), fd(maps.losses), fd(maps.watched), fd(maps.watch_clock), fd(maps.hook_contexts),
                     fd(maps.tunnel_expects));
}

Result<void> SharedMaps::adopt_fds(int events_fd, int losses_fd, int watched_fd, int watch_clock_fd,
                                   int hook_contexts_fd, int tunnel_expects_fd) {
    if (auto r = adopt(events, events_fd, "ring buffer"); !r) return r;
    if (auto r = adopt(losses, losses_fd, "loss counters"); !r) return r;
    if (auto r = adopt(watched, watched_fd, "watched-packet table"); !r) return r;
    if (auto r = adopt(watch_clock, watch_clock_fd, "watched-packet clock"); !r) return r;
    if (auto r = adopt(hook_contexts, hook_contexts_fd, "output-hook context"); !r) return r;
    return adopt(tunnel_expects, tunnel_expects_fd, "expected tunnel packets");
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

const std::array<uint64_t, 2>& packet_id_key() {
    static const std::array<uint64_t, 2> key = [] {
        std::array<uint64_t, 2> k{};
        if (getrandom(k.data(), sizeof k, 0) != ssize_t(sizeof k))
            throw FatalError(std::string("no random key for packet ids: getrandom: ") + std::strerror(errno));
        return k;
    }();
    return key;
}

} // namespace wgbpf
