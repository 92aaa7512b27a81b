#include "timeline/packet_timeline.hpp"

#include <algorithm>

namespace wgbpf {

uint64_t step_time(const TimelineStep& s) {
    return std::visit([](const auto& step) { return step.t_ns; }, s);
}

bool dropped_before_decryption(const WireguardStep& w, const PacketTimeline& t) {
    return w.action == WgAction::decrypt && not_taken_by_wireguard(w, t);
}

bool not_taken_by_wireguard(const WireguardStep& w, const PacketTimeline& t) {
    if (w.direction != WgDirection::in || t.outcome != Outcome::dropped || t.decapsulated_from) return false;
    return std::none_of(t.steps.begin(), t.steps.end(), [](const TimelineStep& s) {
        const WireguardStep* v = std::get_if<WireguardStep>(&s);
        return v && !v->dropped.empty(); // WireGuard's own drop: it took the message
    });
}

} // namespace wgbpf
