#pragma once
// Stitches steps into packet timelines (pure). Packet identity: the keyed skb hash while the packet
// lives; a timeline completes on delivery, egress to a real device, a drop, encapsulation, or when idle,
// and a hash seen again after that starts a new packet. Route decisions join the packet they were made
// for: input and reverse lookups by the received packet's id, output lookups the next packet the same
// task sends to that destination. WireGuard's inner and outer packets are linked by packet id (the kernel's
// WireGuard encrypts the skb in place) or by peer, order and length (user-space WireGuard over TUN); the
// kernel WireGuard probe names the peer the kernel chose. Memory is bounded: at most `max_open` open timelines, oldest out first,
// counted and marked.
//
// Output decisions carry no packet id: each waits (at most route_ns) for the next packet step of its
// namespace going to the same destination (same proto when the decision knows it, same mark when the step
// shows it; the sender's tgid preferred where the step carries one, else the oldest decision). One that no
// packet takes is counted in unattached_routes(); only a failed one (a send that failed before the packet
// existed) becomes a timeline of its own, outcome "unknown" with a note. A successful one (`ip route get`,
// a connect(), ping choosing its source address) describes no packet.
//
// WireGuard links need both timelines: an inner packet that completed (egressed on the tunnel) while its
// outer packet is not seen yet is held back, at most link_ns, so that both get their link
// (`encapsulated_in` / `outer_of`, `decapsulated_from` / `outer_of`) before they reach the sink. Links are
// made from device events (egress on / ingress from a WireGuard interface) and the outer packets' UDP
// payload; without the device module there are none.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "event/module_id.hpp"
#include "config/netns_config.hpp"
#include "event/netfilter_events.hpp"
#include "event/wireguard_event.hpp"
#include "netfilter/netfilter_step.hpp"
#include "route/route_decision.hpp"
#include "timeline/packet_timeline.hpp"
#include "wireguard/wg_config.hpp"

namespace wgbpf {

struct TimelineLimits {
    uint64_t idle_ns = 200'000'000; // a timeline with no new step for this long completes
    size_t max_open = 4096;         // open timelines kept at most (documented in README)
    uint64_t route_ns = 50'000'000; // an output route decision waits this long for its packet
    uint64_t link_ns = 50'000'000;  // inner and outer WireGuard packets wait this long for each other
    size_t max_steps = 64;          // steps kept per timeline (documented in README); more are counted as a gap
    // Packets were picked by a tcpdump expression or sampled (docs/filters.md): a lookup or a tunnel packet not
    // seen may not have been picked, so nothing is inferred from its absence that the filter could explain.
    bool selective = false;
};

struct TimelineContext {
    const NetnsConfig* config = nullptr; // links, sysctls (rp_filter, src_valid_mark), routes
    std::vector<WgInterface> wireguard;  // WireGuard interfaces of the namespace (peers, allowed IPs)
};

class TimelineBuilder {
public:
    // A namespace's context is asked for once and kept until the next flush() (its NetnsConfig must stay at the
    // same address while the builder lives: it is refreshed in place).
    using ContextFor = std::function<TimelineContext(uint32_t netns)>;
    using Sink = std::function<void(PacketTimeline&&)>;

    TimelineBuilder(ContextFor context, Sink sink, TimelineLimits limits = {});
    ~TimelineBuilder();

    void add(const RouteDecision& d);
    void add(const NetfilterStep& s);
    void add(const DropStep& d);
    void add(const DeviceEvent& e);
    void add(const WireguardKernelEvent& e);
    // Marks a gap in every open timeline, and in those whose first events are still unread then: events up to
    // `known_at_ns` (when the count was read; 0: not known) may be theirs.
    void lost(ModuleId module, uint64_t count, uint64_t known_at_ns = 0);
    void flush(uint64_t now_ns);
    void flush_all();

    uint64_t evicted() const;           // timelines pushed out by max_open before they completed
    uint64_t unattached_routes() const; // route decisions no packet took (successful ones are not shown)
    size_t open() const;                // open timelines (not counting completed ones held for a link)

private:
    struct State;
    std::unique_ptr<State> state_;
};

} // namespace wgbpf
