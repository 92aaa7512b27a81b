#include "timeline/pending_routes.hpp"

#include <algorithm>

namespace wgbpf {

size_t PendingRoutes::KeyHash::operator()(const Key& k) const {
    // FNV-1a over the namespace and the address bytes: cheap, and destinations differ in few bytes.
    uint64_t h = 1469598103934665603ull;
    auto mix = [&](uint8_t b) { h = (h ^ b) * 1099511628211ull; };
    for (int i = 0; i < 4; ++i) mix(static_cast<uint8_t>(k.netns >> (8 * i)));
    mix(static_cast<uint8_t>(k.dst.family));
    for (uint8_t b : k.dst.bytes) mix(b);
    return static_cast<size_t>(h);
}

void PendingRoutes::push(RouteDecision d) {
    Key key{d.netns, d.dst};
    uint64_t seq = first_seq_ + slots_.size();
    slots_.push_back(Slot{key, std::make_unique<RouteDecision>(std::move(d))});
    by_key_[key].push_back(seq);
    ++live_;
}

void PendingRoutes::forget(const Key& key, uint64_t seq) {
    auto it = by_key_.find(key);
    if (it == by_key_.end()) return;
    std::deque<uint64_t>& seqs = it->second;
    if (auto pos = std::find(seqs.begin(), seqs.end(), seq); pos != seqs.end()) seqs.erase(pos);
    if (seqs.empty()) by_key_.erase(it);
}

void PendingRoutes::drop_taken_front() {
    while (!slots_.empty() && !slots_.front().decision) {
        slots_.pop_front();
        ++first_seq_;
    }
}

const RouteDecision* PendingRoutes::oldest() {
    drop_taken_front();
    return slots_.empty() ? nullptr : slots_.front().decision.get();
}

RouteDecision PendingRoutes::pop_oldest() {
    drop_taken_front();
    Slot& s = slots_.front();
    RouteDecision d = std::move(*s.decision);
    forget(s.key, first_seq_);
    s.decision.reset();
    --live_;
    drop_taken_front();
    return d;
}

std::optional<RouteDecision> PendingRoutes::take(uint32_t netns, const IpAddress& dst,
                                                 const std::function<Fit(const RouteDecision&)>& fit) {
    auto it = by_key_.find(Key{netns, dst});
    if (it == by_key_.end()) return std::nullopt;
    std::optional<uint64_t> chosen;
    for (uint64_t seq : it->second) {
        Fit f = fit(*slot(seq).decision);
        if (f == Fit::no) continue;
        if (!chosen) chosen = seq;
        if (f == Fit::yes) {
            chosen = seq;
            break;
        }
    }
    if (!chosen) return std::nullopt;
    Slot& s = slot(*chosen);
    RouteDecision d = std::move(*s.decision);
    s.decision.reset();
    --live_;
    forget(s.key, *chosen); // invalidates `it`
    drop_taken_front();
    return d;
}

std::vector<RouteDecision> PendingRoutes::take_all(const std::function<bool(const RouteDecision&)>& expired) {
    std::vector<RouteDecision> out;
    for (size_t i = 0; i < slots_.size(); ++i) {
        Slot& s = slots_[i];
        if (!s.decision || !expired(*s.decision)) continue;
        out.push_back(std::move(*s.decision));
        s.decision.reset();
        --live_;
        forget(s.key, first_seq_ + i);
    }
    drop_taken_front();
    return out;
}

} // namespace wgbpf
