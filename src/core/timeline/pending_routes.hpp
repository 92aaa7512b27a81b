#pragma once
// Output route decisions waiting for their packet (TimelineBuilder): kept in arrival order and found by
// (namespace, destination). A packet looks only at the decisions for its own destination: under a flood
// with lost events thousands wait, nearly all of them for other destinations.
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

#include "common/ip_address.hpp"
#include "route/route_decision.hpp"

namespace wgbpf {

class PendingRoutes {
public:
    // What a packet makes of one candidate: not for it, for it (but keep looking for a better one), or
    // the one.
    enum class Fit { no, maybe, yes };

    void push(RouteDecision d);
    size_t size() const { return live_; }
    bool empty() const { return live_ == 0; }

    // The oldest waiting decision (nullptr when none), and taking it out.
    const RouteDecision* oldest();
    RouteDecision pop_oldest(); // not empty()

    // Among the decisions for (netns, dst), oldest first: the first `fit` calls `yes`, else the first it
    // calls `maybe`; taken out.
    std::optional<RouteDecision> take(uint32_t netns, const IpAddress& dst,
                                      const std::function<Fit(const RouteDecision&)>& fit);

    // Every decision `expired` says yes to, taken out, oldest first.
    std::vector<RouteDecision> take_all(const std::function<bool(const RouteDecision&)>& expired);

private:
    struct Key {
        uint32_t netns;
        IpAddress dst;
        bool operator==(const Key& o) const { return netns == o.netns && dst == o.dst; }
    };
    struct KeyHash {
        size_t operator()(const Key& k) const;
    };
    struct Slot {
        Key key;
        std::unique_ptr<RouteDecision> decision; // null once taken
    };

    Slot& slot(uint64_t seq) { return slots_[seq - first_seq_]; }
    void forget(const Key& key, uint64_t seq); // out of the key's list
    void drop_taken_front();

    std::deque<Slot> slots_; // arrival order; slots_[i] has sequence number first_seq_ + i
    uint64_t first_seq_ = 0;
    std::unordered_map<Key, std::deque<uint64_t>, KeyHash> by_key_; // sequence numbers, arrival order
    size_t live_ = 0;
};

} // namespace wgbpf
