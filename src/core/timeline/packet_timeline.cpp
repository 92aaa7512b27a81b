#include "timeline/packet_timeline.hpp"

namespace wgbpf {

uint64_t step_time(const TimelineStep& s) {
    return std::visit([](const auto& step) { return step.t_ns; }, s);
}

} // namespace wgbpf
