#include "timeline/packet_timeline.hpp"

#include <algorithm>

namespace wgbpf {

uint64_t step_time(const TimelineStep& s) {
    return std::visit([](const auto& step) { return step.t_ns; }, s);
}

bool dropped_before_decryption(const WireguardStep& w, const PacketTimeline& t) {
    if (w.action != WgAction::decrypt || t.outcome != Outcome::dropped) return false;
    return std::none_of(t.steps.begin(), t.steps.end(), [](const TimelineStep& s) {
        const WireguardStep* v = std::get_if<WireguardStep>(&s);
        return v && !v->dropped.empty(); // WireGuard's own drop: it took the message
    });
}

} // namespace wgbpf
