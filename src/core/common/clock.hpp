#pragma once
// A clock read in nanoseconds: CLOCK_MONOTONIC for event times and deadlines, CLOCK_REALTIME for wall time.
#include <cstdint>
#include <ctime>

namespace wgbpf {

inline uint64_t clock_ns(clockid_t clock = CLOCK_MONOTONIC) {
    timespec ts{};
    clock_gettime(clock, &ts);
    return uint64_t(ts.tv_sec) * 1'000'000'000 + uint64_t(ts.tv_nsec);
}

} // namespace wgbpf
