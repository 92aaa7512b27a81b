#include "timeline/timeline_builder.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <deque>
#include <map>
#include <set>
#include <tuple>
#include <memory>
#include <unordered_map>
#include <unordered_set>

#include "timeline/pending_routes.hpp"
#include "timeline/rp_filter.hpp"
#include "timeline/wireguard_link.hpp"

namespace wgbpf {
namespace {

// A timeline while the builder has it: open, or completed and held back for a WireGuard link.
struct Entry {
    PacketTimeline tl;
    uint64_t first_ns = 0;
    uint64_t last_ns = 0;
    bool open = true;
    bool pkt_seen = false;         // tl.pkt comes from a packet step, not from a route decision's flow
    bool flow_known = false;       // tl.pkt comes from a route decision's flow (addresses known)
    bool wg_seen = false;          // its UDP payload was looked at for a WireGuard message
    uint64_t steps_dropped = 0;    // beyond limits.max_steps
    std::string fragmented_on;     // left this device as fragments in new buffers (its own buffer was not sent)
    bool reassembled_here = false; // a fragment whose buffer went on with the whole datagram (seen again after)
    uint16_t tunnel_len = 0;       // its IP length as it crossed a WireGuard interface (a fragment's, when fragmented)
};

// The fields every fragment of one datagram shares: (netns, src, dst, proto, IP id). IPv6 whole packets carry no
// identification: theirs is 0, and only fragments compare by it.
using FragmentKey = std::tuple<uint32_t, IpAddress, IpAddress, uint8_t, uint16_t>;

FragmentKey fragment_key(uint32_t netns, const PacketInfo& p) { return {netns, p.src, p.dst, p.proto, p.ip_id}; }

// Whether a whole packet is the datagram these fragments came from. Address translation changes one side, never
// both: IPv4 by identification and protocol with one address the same; IPv6 (no identification on a whole
// packet) by protocol and both addresses.
bool same_datagram(const PacketInfo& whole, const PacketInfo& fragment) {
    if (whole.proto != fragment.proto || whole.family != fragment.family) return false;
    if (whole.family == Family::ipv6) return whole.src == fragment.src && whole.dst == fragment.dst;
    return whole.ip_id == fragment.ip_id && (whole.src == fragment.src || whole.dst == fragment.dst);
}

template <typename T>
const T* last_step(const PacketTimeline& tl) {
    for (auto it = tl.steps.rbegin(); it != tl.steps.rend(); ++it)
        if (const T* s = std::get_if<T>(&*it)) return s;
    return nullptr;
}

// Whether the packet's own route decision of this direction is there (a re-route does not count: it
// comes after the decision that sent the packet on its way).
bool has_route(const PacketTimeline& tl, RouteDirection dir) {
    return std::any_of(tl.steps.begin(), tl.steps.end(), [&](const TimelineStep& s) {
        const RouteDecision* d = std::get_if<RouteDecision>(&s);
        return d && d->direction == dir && !d->reroute;
    });
}

// The packet's last output decision (a re-route, if there was one).
const RouteDecision* last_output_route(const PacketTimeline& tl) {
    for (auto it = tl.steps.rbegin(); it != tl.steps.rend(); ++it)
        if (const RouteDecision* d = std::get_if<RouteDecision>(&*it); d && d->direction == RouteDirection::output)
            return d;
    return nullptr;
}

bool came_in(const PacketTimeline& tl) {
    return std::any_of(tl.steps.begin(), tl.steps.end(), [](const TimelineStep& s) {
        if (const DeviceStep* d = std::get_if<DeviceStep>(&s)) return d->direction == DeviceDirection::ingress;
        if (const NetfilterStep* n = std::get_if<NetfilterStep>(&s))
            return n->hook == NfHook::prerouting || n->hook == NfHook::input || n->hook == NfHook::forward ||
                   n->hook == NfHook::ingress;
        if (const RouteDecision* r = std::get_if<RouteDecision>(&s)) return r->direction != RouteDirection::output;
        return std::holds_alternative<RpFilterStep>(s);
    });
}

// A packet this host sent: nothing shows it was received.
bool locally_generated(const Entry& e) { return !came_in(e.tl); }

// The packet's arrival on a device was seen.
bool arrival_seen(const PacketTimeline& tl) {
    return std::any_of(tl.steps.begin(), tl.steps.end(), [](const TimelineStep& s) {
        const DeviceStep* d = std::get_if<DeviceStep>(&s);
        return d && d->direction == DeviceDirection::ingress;
    });
}

// What shows a packet was forwarded, not only received: the forward hook, a route to somewhere else than
// this host, or its arrival on a device. An rp_filter step alone does not: it may belong to another packet.
bool forwarding_seen(const PacketTimeline& tl) {
    return arrival_seen(tl) || std::any_of(tl.steps.begin(), tl.steps.end(), [](const TimelineStep& s) {
               if (const NetfilterStep* n = std::get_if<NetfilterStep>(&s)) return n->hook == NfHook::forward;
               if (const RouteDecision* r = std::get_if<RouteDecision>(&s))
                   return r->direction == RouteDirection::input && r->result == LookupResult::hit &&
                          r->route_type != RouteType::local;
               return false;
           });
}

// The packet a route decision was made for, as far as its flow tells (until a packet step shows it).
PacketInfo flow_packet(const RouteDecision& d, uint64_t id) {
    PacketInfo p;
    p.id = id;
    p.is_ip = true;
    p.family = d.family;
    p.proto = d.proto;
    bool reverse = d.direction == RouteDirection::reverse;
    p.src = reverse ? d.dst : d.src;
    p.dst = reverse ? d.src : d.dst;
    p.sport = reverse ? d.dport : d.sport;
    p.dport = reverse ? d.sport : d.dport;
    p.has_l4 = d.proto != 0 && (p.sport != 0 || p.dport != 0);
    return p;
}

// Would an output decision fit this packet? Source only when the lookup had one already.
bool route_fits(const RouteDecision& d, const PacketInfo& pkt, std::optional<uint32_t> mark) {
    if (d.dst != pkt.dst) return false;
    if (!d.src.is_unspecified() && d.src != pkt.src) return false;
    if (d.proto != 0 && d.proto != pkt.proto) return false;
    return !mark || d.mark == *mark;
}

// The mark a locally generated packet had at its first netfilter step (what its route lookup saw).
std::optional<uint32_t> first_output_mark(const PacketTimeline& tl) {
    for (const TimelineStep& s : tl.steps)
        if (const NetfilterStep* n = std::get_if<NetfilterStep>(&s)) return n->mark_before;
    return std::nullopt;
}

} // namespace

struct TimelineBuilder::State {
    ContextFor context;
    Sink sink;
    TimelineLimits limits;
    std::map<uint64_t, Entry> entries;           // by timeline id, i.e. in order of creation
    std::unordered_map<uint64_t, uint64_t> open; // packet id -> timeline id, open timelines only
    std::set<uint64_t> open_ids;                 // timeline ids of the open ones: the oldest in O(log n)
    PendingRoutes pending;                       // output decisions waiting for their packet
    std::map<uint32_t, TimelineContext> contexts;
    WireguardLinker linker;
    // What kernel WireGuard chose for an inner packet on its way out, by packet id, until its link.
    struct KernelChoice {
        std::string peer;   // public key
        uint32_t netns = 0; // the interface's
        std::string dev;
        bool queued = false;          // the peer had no session: the packet waits in its staged queue for a handshake
        uint32_t ahead = 0;           // packets already in that queue
        bool session_checked = false; // the probe looked (record version 2): not queued means it had a session
    };
    std::unordered_map<uint64_t, KernelChoice> kernel_peers;
    // The latest purge of a peer's staged queue, by the interface's namespace: the kfree_skb of each packet
    // it drops follows it.
    struct Purge {
        uint64_t t_ns = 0;
        std::string dev, peer, verdict, why;
        uint32_t queued = 0;   // packets the purge dropped
        uint32_t shown = 0;    // of them, shown dropped in their own timelines
        bool recorded = false; // the rest were given a record of their own
    };
    std::map<uint32_t, Purge> purges;
    // Fragments: the timeline whose buffer carries the reassembled datagram on, and the one a local fragmentation
    // came from (its first fragment kept its buffer). Bounded: cleared when full.
    struct Reassembled {
        uint64_t timeline = 0;
        uint64_t t_ns = 0;
    };
    std::map<FragmentKey, Reassembled> reassembled_in;
    struct Fragmented {
        uint64_t timeline = 0;
        bool forwarded = false;
        uint64_t t_ns = 0;
    };
    std::map<FragmentKey, Fragmented> fragmented_from;
    // (interface, endpoint) -> peer, learned from an authenticated packet of a peer that roamed there after
    // the configuration was read: WireGuard itself sends that peer's packets to it from then on.
    std::map<std::pair<std::string, std::string>, std::string> roamed;
    // Packet ids kernel WireGuard dropped (its verdict ended their timelines): the kfree_skb that follows is
    // the same drop, not a new packet.
    std::unordered_map<uint64_t, uint64_t> ended_by_wireguard; // packet id -> when
    // Packets whose timeline ended leaving through a device (sent, forwarded), by packet id. A veth takes the same
    // buffer into its peer's namespace, where it lives on: another host's WireGuard may decrypt it in place, and the
    // buffer's drop there, in a namespace not watched, is then another packet's. (The same packet's drop there is
    // still shown.) Bounded: the oldest go first; older than the BPF watch's life, an entry says nothing.
    struct Left {
        uint32_t netns = 0;
        uint64_t t_ns = 0;
        PacketInfo pkt;
    };
    std::unordered_map<uint64_t, Left> left_namespace;
    std::deque<std::pair<uint64_t, uint64_t>> left_order; // (packet id, when), oldest first

    void remember_left(const Entry& e, uint64_t t_ns) {
        while (left_order.size() >= limits.max_open) {
            auto [id, t] = left_order.front();
            left_order.pop_front();
            if (auto it = left_namespace.find(id); it != left_namespace.end() && it->second.t_ns == t)
                left_namespace.erase(it);
        }
        left_namespace[e.tl.packet_id] = Left{e.tl.netns, t_ns, current_packet(e)};
        left_order.emplace_back(e.tl.packet_id, t_ns);
    }

    // The drop of a buffer that left a watched namespace and carries another packet now, in a namespace not watched.
    bool dropped_beyond(const DropStep& d) {
        auto it = left_namespace.find(d.pkt.id);
        if (it == left_namespace.end() || open.contains(d.pkt.id)) return false;
        const Left left = it->second;
        left_namespace.erase(it);
        constexpr uint64_t kWatchLife = 2'000'000'000; // WGBPF_WATCH_TTL_NS
        return d.netns != 0 && d.netns != left.netns && !ctx(d.netns).config && d.t_ns >= left.t_ns &&
               d.t_ns - left.t_ns <= kWatchLife && another_packet(left.pkt, d.pkt);
    }
    // Handed to a WireGuard device and waiting for its outer packet: packet id -> (timeline id, when). A device
    // that drops it right away (a TUN device's queue full) frees it with a drop reason: that ends this timeline.
    std::unordered_map<uint64_t, std::pair<uint64_t, uint64_t>> in_tunnel_device;
    // (netns, interface, peer) -> when this host last sent that peer a handshake initiation.
    std::map<std::tuple<uint32_t, std::string, std::string>, uint64_t> initiations;
    // (netns, interface, peer) -> when an inner packet of that peer last came out of the tunnel.
    std::map<std::tuple<uint32_t, std::string, std::string>, uint64_t> inner_in;
    // Kernel WireGuard: received data messages that decrypted, by packet id, until their inner packet reaches the
    // allowed-IPs check (then they are erased); the ones that never do were dropped in between.
    struct Decrypted {
        uint64_t t_ns = 0;
        uint64_t timeline = 0; // the outer packet's, when the message decrypted (its buffer may be reused later)
        std::string dev;
    };
    std::unordered_map<uint64_t, Decrypted> decrypted;
    uint64_t next_id = 1;
    uint64_t evicted = 0;
    uint64_t unattached = 0;
    uint64_t latest_ns = 0;       // the newest step time seen
    uint64_t loss_until_ns = 0;   // timelines first seen up to this time may miss their first events
    uint64_t unread_until_ns = 0; // timelines first seen up to this time were unread at a loss: may miss later ones
    std::string loss_text;        // what was lost then

    State(ContextFor c, Sink s, TimelineLimits l)
        : context(std::move(c)), sink(std::move(s)), limits(l), linker(l.link_ns, l.max_open) {}

    const TimelineContext& ctx(uint32_t netns) {
        auto [it, fresh] = contexts.try_emplace(netns);
        if (fresh && context) it->second = context(netns);
        return it->second;
    }

    std::string link_name(uint32_t netns, int ifindex) {
        const NetnsConfig* cfg = ctx(netns).config;
        return cfg ? cfg->link_name(ifindex) : fmt::format("if{}", ifindex);
    }

    // The WireGuard interface `dev` of namespace `netns`: the device of its inner packets.
    const WgInterface* wireguard_interface(uint32_t netns, const std::string& dev) {
        for (const WgInterface& w : ctx(netns).wireguard)
            if (w.name == dev && lives_in(w, netns)) return &w;
        return nullptr;
    }
    // The WireGuard interface named in a step of an outer packet of namespace `netns`: the one whose socket
    // is there (it may live in another namespace), else the namespace's own.
    const WgInterface* outer_interface(uint32_t netns, const std::string& dev) {
        for (const WgInterface& w : ctx(netns).wireguard)
            if (w.name == dev && sends_from(w, netns)) return &w;
        return wireguard_interface(netns, dev);
    }
    // Inner and outer packets of one interface meet under the namespace of the interface.
    uint32_t tunnel_netns(uint32_t netns, const std::string& dev) {
        const WgInterface* w = outer_interface(netns, dev);
        return w ? home_netns(*w, netns) : netns;
    }

    Entry* find(uint64_t id) {
        auto it = entries.find(id);
        return it == entries.end() ? nullptr : &it->second;
    }

    Entry& create(uint32_t netns, uint64_t packet, uint64_t t_ns) {
        if (packet != 0 && open.size() >= limits.max_open) evict_oldest();
        uint64_t id = next_id++;
        Entry& e = entries[id];
        e.tl.id = id;
        e.tl.packet_id = packet;
        e.tl.netns = netns;
        e.first_ns = e.last_ns = t_ns;
        open_ids.insert(id);
        if (packet != 0) open[packet] = id;
        if (packet != 0 && t_ns <= loss_until_ns)
            e.tl.gaps.push_back(loss_text + " just before it was first seen: its first steps may be missing");
        else if (packet != 0 && t_ns <= unread_until_ns)
            e.tl.gaps.push_back(loss_text + " while its first events waited to be read: later steps may be missing");
        return e;
    }

    Entry* open_entry(uint64_t packet) {
        auto it = open.find(packet);
        return it == open.end() ? nullptr : &entries.at(it->second);
    }

    // The timeline of the packet a route decision names (`rx_packet`: received, or re-routed), opened from the
    // decision's flow when nothing else showed the packet yet (its own steps may still be on their way). The
    // flow is the packet's (a reverse lookup's is swapped back).
    Entry& timeline_named_by(const RouteDecision& d) {
        Entry& e = timeline_for(d.rx_packet, d.netns, d.t_ns);
        if (!e.pkt_seen && e.tl.steps.empty()) {
            e.tl.pkt = flow_packet(d, d.rx_packet);
            e.flow_known = true;
        }
        return e;
    }

    Entry& timeline_for(uint64_t packet, uint32_t netns, uint64_t t_ns) {
        if (auto it = open.find(packet); it != open.end()) return entries.at(it->second);
        return create(netns, packet, t_ns);
    }

    // The timeline of a packet step. The packet id is the buffer's: when the kernel reuses a buffer for
    // another packet, the step shows a different packet, and the first timeline ends there instead of
    // growing with strangers' steps. After a local delivery that is normal (a socket took the packet and
    // freed the buffer without a traced free); before it, the first packet's last events were lost.
    // `new_buffer`: the kernel made this buffer just now (DeviceEvent::new_buffer): another packet whatever it shows.
    Entry& timeline_for(const PacketInfo& pkt, uint32_t netns, uint64_t t_ns, bool new_buffer = false) {
        if (auto it = open.find(pkt.id); it != open.end()) {
            Entry& e = entries.at(it->second);
            bool other = new_buffer ||
                         (e.pkt_seen ? another_packet(e.tl.pkt, pkt) : e.flow_known && another_flow(e.tl.pkt, pkt));
            if (!other) {
                if (!e.pkt_seen) e.flow_known = false; // the packet step now tells
                return e;
            }
            Outcome outcome = last_known_outcome(e);
            if (outcome == Outcome::unknown && e.tl.pkt.is_fragment() && arrival_seen(e.tl))
                outcome = fragment_end(e, "its buffer reused since"); // reassembly frees the fragments it merges
            else if (outcome == Outcome::unknown && new_buffer)
                e.tl.gaps.push_back("its end was not seen: its buffer came back as a new packet (freed without a "
                                    "traced free, or events lost)");
            else if (outcome == Outcome::unknown)
                e.tl.gaps.push_back("its buffer was reused for another packet before wgbpf saw where it went "
                                    "(events lost?)");
            complete(e, outcome);
        }
        return create(netns, pkt.id, t_ns);
    }

    // Another packet than the flow a route decision was made for? Address translation changes one side of
    // a packet (the destination before routing, the source after), never both: a flow that differs on both
    // sides (or in protocol) is another packet's.
    static bool another_flow(const PacketInfo& flow, const PacketInfo& now) {
        if (!flow.is_ip || !now.is_ip) return false;
        if (flow.family != now.family) return true;
        if (flow.proto != 0 && now.proto != 0 && flow.proto != now.proto) return true;
        bool src_differs = !flow.src.is_unspecified() && flow.src != now.src; // no source chosen yet: any
        return src_differs && flow.dst != now.dst;
    }

    static bool another_packet(const PacketInfo& first, const PacketInfo& now) {
        if (!first.is_ip || !now.is_ip) return false;
        if (first.family != now.family || first.proto != now.proto) return true;
        // Fragmented or reassembled in this buffer: the same datagram, whatever its length now (IPv6 has no
        // identification on a whole packet: address translation changes one side, never both).
        if (first.is_fragment() != now.is_fragment() && now.family == Family::ipv6) {
            bool grows = first.is_fragment() ? now.len > first.len : now.len < first.len;
            return !grows || !(first.is_fragment() ? same_datagram(now, first) : same_datagram(first, now));
        }
        return now.family == Family::ipv4 ? first.ip_id != now.ip_id : first.len != now.len;
    }

    // Completed timelines waiting for a link sit among the open ones: the open set, not the entries, is
    // searched, else a flood makes every new packet walk thousands of them.
    void evict_oldest() {
        if (open_ids.empty()) return;
        uint64_t id = *open_ids.begin();
        Entry& e = entries.at(id);
        e.tl.gaps.push_back(fmt::format("evicted before completion (more than {} packets open)", limits.max_open));
        ++evicted;
        linker.forget(id); // no room to wait for a link either
        complete(e, Outcome::unknown);
    }

    // Steps stay in time order; `before_equal` puts a step ahead of others at the same time.
    void add_step(Entry& e, TimelineStep step, bool before_equal = false) {
        if (e.tl.steps.size() >= limits.max_steps) { // memory stays bounded whatever the kernel sends
            if (e.steps_dropped++ == 0)
                e.tl.gaps.push_back(fmt::format("more than {} steps: the rest were not kept", limits.max_steps));
            return;
        }
        uint64_t t = step_time(step);
        auto& steps = e.tl.steps;
        auto later = [](uint64_t t, const TimelineStep& s) { return t < step_time(s); };
        auto not_earlier = [](const TimelineStep& s, uint64_t t) { return step_time(s) < t; };
        auto at = before_equal ? std::lower_bound(steps.begin(), steps.end(), t, not_earlier)
                               : std::upper_bound(steps.begin(), steps.end(), t, later);
        steps.insert(at, std::move(step));
        e.first_ns = std::min(e.first_ns, t);
        e.last_ns = std::max(e.last_ns, t);
        latest_ns = std::max(latest_ns, t);
    }

    void see_packet(Entry& e, const PacketInfo& pkt) {
        if (!pkt.is_ip) return;
        if (!e.pkt_seen) {
            e.tl.pkt = pkt;
            e.pkt_seen = true;
        } else if (e.tl.pkt.is_fragment() && !pkt.is_fragment() && same_datagram(pkt, e.tl.pkt)) {
            reassembled(e, pkt);
        }
    }

    // A fragment seen whole afterwards: the kernel reassembled the datagram into this buffer (ip_defrag keeps the
    // buffer of the fragment that completed it), and it goes on as the whole packet.
    void reassembled(Entry& e, const PacketInfo& whole) {
        put_bounded(reassembled_in, fragment_key(e.tl.netns, e.tl.pkt), Reassembled{e.tl.id, latest_ns});
        e.tl.notes.push_back(
            fmt::format("reassembled here: it arrived as a fragment of {} bytes, and this buffer carries "
                        "the whole packet ({} bytes) on",
                        e.tl.pkt.len, whole.len));
        PacketInfo pkt = whole;
        if (!pkt.iif) pkt.iif = e.tl.pkt.iif;
        e.tl.pkt = pkt;
        e.wg_seen = false; // its UDP payload is whole now
    }

    // A received fragment that went quiet (or whose buffer was taken for another packet): reassembled into another
    // fragment's buffer after it arrived (within the kernel's ipfrag_time), or not known.
    Outcome fragment_end(Entry& e, const std::string& why_quiet) {
        // net.ipv4.ipfrag_time's default; IPv6's (ip6frag_time, conntrack's frag6_timeout) is 60 s
        const uint64_t kIpfragTime = e.tl.pkt.family == Family::ipv6 ? 60'000'000'000 : 30'000'000'000;
        if (auto it = reassembled_in.find(fragment_key(e.tl.netns, e.tl.pkt)); it != reassembled_in.end()) {
            const Reassembled& r = it->second;
            if (r.timeline != e.tl.id && r.t_ns >= e.first_ns && r.t_ns - e.first_ns <= kIpfragTime) {
                e.tl.reassembled_into = r.timeline;
                e.tl.notes.push_back(
                    fmt::format("held for reassembly: the whole packet went on in #{}'s buffer", r.timeline));
                return Outcome::reassembled;
            }
        }
        e.tl.gaps.push_back(
            "a fragment, " + why_quiet +
            ": held for reassembly (conntrack's defrag in prerouting, or "
            "local delivery) with the whole packet not seen going on, or its other fragments never came "
            "(freed after the reassembly timeout)");
        return Outcome::unknown;
    }

    // A device's MTU as the configuration knows it (0: not known).
    uint32_t link_mtu(uint32_t netns, const std::string& dev) {
        const NetnsConfig* cfg = dev.empty() ? nullptr : ctx(netns).config;
        const Link* link = cfg ? cfg->link_by_name(dev) : nullptr;
        return link ? link->mtu : 0;
    }

    std::string mtu_text(uint32_t netns, const std::string& dev) {
        uint32_t mtu = link_mtu(netns, dev);
        return mtu ? fmt::format(" (MTU {})", mtu) : std::string();
    }

    // The fragment maps are bounded like the other per-packet maps: when full, they start again.
    template <typename Map, typename Value>
    void put_bounded(Map& map, const FragmentKey& key, Value value) {
        if (map.size() >= limits.max_open) map.clear();
        map[key] = std::move(value);
    }

    // A packet handed to a device as its first fragment, after it was seen whole: fragmented here, and this buffer
    // is the first fragment (ip_do_fragment's fast path); new buffers carry the rest.
    void fragmented_in_place(Entry& e, const PacketInfo& first, const std::string& dev, uint64_t t) {
        put_bounded(fragmented_from, fragment_key(e.tl.netns, first), Fragmented{e.tl.id, !locally_generated(e), t});
        e.tl.notes.push_back(fmt::format("fragmented to leave {}{}: its {} bytes went out in fragments; this buffer "
                                         "carried the first ({} bytes), new buffers the rest",
                                         dev, mtu_text(e.tl.netns, dev), e.tl.pkt.len, first.len));
    }

    // A first fragment seen first as it leaves: with no watched hook before fragmentation, this is the original
    // buffer (ip_do_fragment's fast path keeps it for the first fragment): the later ones are cut from it.
    void fragment_first_seen(Entry& e, const PacketInfo& first, uint64_t t) {
        put_bounded(fragmented_from, fragment_key(e.tl.netns, first), Fragmented{e.tl.id, false, t});
    }

    // The whole packet a fragment leaving now came from: the one whose first fragment kept its buffer just before
    // (its timeline may be out already), else the newest whole packet of that datagram, as its latest step shows it
    // (after address translation), among the last timelines (ip_do_fragment's slow path frees it).
    std::optional<Fragmented> fragment_origin(const Entry& fragment, uint64_t t, Entry** open_origin) {
        constexpr uint64_t kSameBurst = 1'000'000'000; // fragments leave together: an older one is another datagram
        const PacketInfo& f = fragment.tl.pkt;
        *open_origin = nullptr;
        if (auto it = fragmented_from.find(fragment_key(fragment.tl.netns, f));
            it != fragmented_from.end() && t >= it->second.t_ns && t - it->second.t_ns <= kSameBurst)
            return it->second;
        int looked = 0;
        for (auto it = entries.rbegin(); it != entries.rend() && looked < 64; ++it, ++looked) {
            Entry& e = it->second;
            if (&e == &fragment || e.tl.netns != fragment.tl.netns || !e.pkt_seen || e.tl.pkt.is_fragment()) continue;
            if (t < e.last_ns || t - e.last_ns > kSameBurst) continue;
            PacketInfo now = current_packet(e);
            if (same_datagram(now, f) && now.len > f.len) {
                *open_origin = &e;
                return Fragmented{e.tl.id, !locally_generated(e), t};
            }
        }
        return std::nullopt;
    }

    // A fragment first seen leaving a device, made of a packet followed here (or a later fragment, which never
    // is the original buffer): a new buffer the kernel made when it fragmented it.
    void fragment_made_here(Entry& e, const std::optional<Fragmented>& origin, Entry* freed, const std::string& dev) {
        if (!origin) {
            e.tl.gaps.push_back("a later fragment first seen leaving " + dev +
                                ": the packet it was cut from was not "
                                "seen whole or as its first fragment here (no watched hook before fragmentation, "
                                "filtered out, or events lost)");
            complete(e, Outcome::unknown);
            return;
        }
        note_made_of(e, *origin, freed, dev);
        complete(e, origin->forwarded ? Outcome::forwarded : Outcome::sent);
    }

    void note_made_of(Entry& e, const Fragmented& origin, Entry* freed, const std::string& dev) {
        e.tl.notes.push_back(fmt::format("a fragment the kernel made of #{} (a new buffer) to fit {}{}: the steps "
                                         "before fragmentation are #{}'s",
                                         origin.timeline, dev, mtu_text(e.tl.netns, dev), origin.timeline));
        if (freed && freed->open && freed->fragmented_on.empty()) {
            freed->fragmented_on = dev;
            freed->tl.notes.push_back(fmt::format("fragmented to leave {}{}: its {} bytes went out in new buffers (#{} "
                                                  "is one), and this buffer was freed",
                                                  dev, mtu_text(e.tl.netns, dev), current_packet(*freed).len, e.tl.id));
        }
    }

    // The output decision made for this packet: the oldest waiting one that fits, the sender's own if the
    // step names the sender (`tgid`).
    void attach_pending_route(Entry& e, const PacketInfo& pkt, std::optional<uint32_t> mark, uint32_t tgid,
                              uint64_t t) {
        // Those too old for any packet now leave first (as flush() would let them): under a flood of decisions
        // whose packets were lost, the scan would otherwise walk all of them for every packet.
        for (const RouteDecision* d = pending.oldest(); d && too_old(d->t_ns, t); d = pending.oldest())
            route_unmatched(pending.pop_oldest());
        // The first that fits; with a process known, the first of that process.
        std::optional<RouteDecision> best = pending.take(e.tl.netns, pkt.dst, [&](const RouteDecision& d) {
            if (d.t_ns > t || too_old(d.t_ns, t) || !route_fits(d, pkt, mark)) return PendingRoutes::Fit::no;
            return tgid == 0 || d.tgid == tgid ? PendingRoutes::Fit::yes : PendingRoutes::Fit::maybe;
        });
        if (!best) return;
        if (e.tl.mark == 0) e.tl.mark = best->mark;
        add_step(e, std::move(*best));
    }

    // An output decision that arrives after its packet's first step (a walk finished late): the earliest
    // packet first seen after it that has no output decision yet. Creation order follows time closely
    // enough to stop at the first timeline older than the decision.
    bool attach_late_route(const RouteDecision& d) {
        Entry* found = nullptr;
        for (auto it = entries.rbegin(); it != entries.rend(); ++it) {
            Entry& e = it->second;
            if (e.first_ns < d.t_ns) break;
            if (e.tl.netns != d.netns || !e.pkt_seen || e.first_ns - d.t_ns > limits.route_ns) continue;
            if (!locally_generated(e) || has_route(e.tl, RouteDirection::output)) continue;
            if (route_fits(d, e.tl.pkt, first_output_mark(e.tl))) found = &e;
        }
        if (!found) return false;
        add_step(*found, d);
        return true;
    }

    // A decision made at `t_ns` is too old for a packet seen at `t`.
    bool too_old(uint64_t t_ns, uint64_t t) const { return t > t_ns && t - t_ns > limits.route_ns; }

    void route_unmatched(const RouteDecision& d) {
        route_alone(d, fmt::format("no packet followed this route decision within {} ms (`ip route get`, a "
                                   "connect(), or a send that failed)",
                                   limits.route_ns / 1'000'000));
    }

    // A route decision no packet took. A failed one is shown on its own (a send that failed: no packet
    // will ever exist); a successful one (`ip route get`, connect() or ping choosing a source address)
    // describes no packet: only counted (--steps shows every decision).
    void route_alone(const RouteDecision& d, const std::string& why) {
        ++unattached;
        if (d.result == LookupResult::hit) return;
        Entry& e = create(d.netns, 0, d.t_ns);
        e.tl.pkt = flow_packet(d, 0);
        e.tl.mark = d.mark;
        add_step(e, d);
        e.tl.gaps.push_back(why);
        complete(e, Outcome::unknown);
    }

    std::string iif_of(Entry& e) {
        for (const TimelineStep& s : e.tl.steps)
            if (const DeviceStep* d = std::get_if<DeviceStep>(&s); d && d->direction == DeviceDirection::ingress)
                return d->dev;
        for (const TimelineStep& s : e.tl.steps)
            if (const NetfilterStep* n = std::get_if<NetfilterStep>(&s); n && n->pkt.iif)
                return link_name(e.tl.netns, n->pkt.iif);
        for (const TimelineStep& s : e.tl.steps)
            if (const RouteDecision* r = std::get_if<RouteDecision>(&s);
                r && r->direction == RouteDirection::input && !r->iif.empty())
                return r->iif;
        return e.tl.pkt.iif ? link_name(e.tl.netns, e.tl.pkt.iif) : std::string();
    }

    // An outer packet: its WireGuard message becomes a step (sent: first, since encryption came before the
    // packet existed; received: where it was first seen, moved to its inner packet's arrival once linked: link_in),
    // and transport data goes looking for its inner packet.
    void look_for_wireguard(Entry& e, const PacketInfo& pkt, bool outgoing, uint64_t t) {
        if (e.wg_seen || !pkt.has_udp_payload || pkt.later_fragment) return;
        const TimelineContext& c = ctx(e.tl.netns);
        auto match = match_outer_packet(pkt, outgoing, c.wireguard, e.tl.netns);
        // A first fragment's length is not its message's: user space pairs by length, so it waits for the whole
        // packet; the kernel pairs by buffer.
        if (pkt.more_fragments && match && (!outgoing || !pairs_by_packet_id(*match->interface))) return;
        e.wg_seen = true;
        if (!match) return;
        auto msg = parse_wg_message(pkt);
        if (!msg) return; // on WireGuard's port but not a WireGuard message: an ordinary UDP packet
        WireguardStep step = wireguard_step(*msg, *match, pkt, outgoing, outgoing ? e.first_ns : t);
        if (!match->peer && outgoing)
            if (auto it = roamed.find({match->interface->name, step.endpoint}); it != roamed.end())
                step.peer = it->second;
        add_step(e, step, outgoing);
        if (outgoing && msg->type == WgMessageType::handshake_initiation && !step.peer.empty()) {
            if (initiations.size() >= limits.max_open) initiations.clear();
            initiations[{home_netns(*match->interface, e.tl.netns), match->interface->name, step.peer}] = t;
        }
        bool by_id = pairs_by_packet_id(*match->interface);
        if (msg->type != WgMessageType::transport_data || msg->keepalive()) return;
        const std::string& peer = step.peer;
        // Sent to an endpoint no peer had (not read yet, not learned): which peer encrypted it is not known.
        if (peer.empty() && !by_id && outgoing) return;

        WgLinkKey key = link_key(home_netns(*match->interface, e.tl.netns), *match->interface, peer, outgoing);
        auto inner = linker.add_outer(key, WgLinkEnd{e.tl.id, t, msg->length, step, e.tl.packet_id});
        if (!inner) return;
        if (outgoing) link_out(inner->timeline, e.tl.id, step, t);
        else link_in(e.tl.id, inner->timeline, step, inner->t_ns);
    }

    // An inner packet handed to (outgoing) or received from (incoming) WireGuard interface `wg`.
    // Leaving with another source than its steps showed: source NAT ran in postrouting. Where brackets saw
    // it, the NAT chain's step says so already; the exact flavour reads packets as chains start.
    void note_source_nat(Entry& e, const PacketInfo& leaving) {
        PacketInfo before = current_packet(e);
        if (!leaving.is_ip || !before.is_ip || leaving.src == before.src) return;
        for (const TimelineStep& st : e.tl.steps)
            if (const NetfilterStep* n = std::get_if<NetfilterStep>(&st))
                for (const std::string& note : n->notes)
                    if (note.starts_with("src rewritten")) return;
        e.tl.notes.push_back("src rewritten after routing: " + before.src.to_string() + " -> " +
                             leaving.src.to_string() + " (source NAT in postrouting: masquerade or SNAT)");
    }

    // The packet's addresses now: as its latest routing or netfilter step shows them (address translation
    // may have changed them since it was first seen).
    static PacketInfo current_packet(const Entry& e) {
        PacketInfo p = e.tl.pkt;
        for (auto it = e.tl.steps.rbegin(); it != e.tl.steps.rend(); ++it) {
            if (const RouteDecision* r = std::get_if<RouteDecision>(&*it);
                r && r->direction != RouteDirection::reverse) {
                PacketInfo f = flow_packet(*r, 0);
                p.dst = f.dst;
                if (!f.src.is_unspecified()) p.src = f.src;
                return p;
            }
            if (const NetfilterStep* n = std::get_if<NetfilterStep>(&*it); n && n->pkt.is_ip) {
                p.src = n->pkt.src;
                p.dst = n->pkt.dst;
                return p;
            }
        }
        return p;
    }

    // `len`: the inner packet's IP length on the WireGuard interface (the fragment's when it was fragmented there).
    void look_for_outer(Entry& e, const WgInterface& wg, bool outgoing, uint64_t t, uint16_t len) {
        e.tunnel_len = len;
        if (socket_unplaced(wg)) { // nothing to wait for: its outer packets cannot be told
            if (!outgoing) e.tl.gaps.push_back(socket_elsewhere(wg) + ": the outer packet it came in is not shown");
            return;
        }
        const PacketInfo now = current_packet(e);
        const WgPeer* peer = peer_for_address(wg, outgoing ? now.dst : now.src);
        if (!outgoing && peer) {
            if (inner_in.size() >= limits.max_open) inner_in.clear();
            inner_in[{e.tl.netns, wg.name, peer->public_key}] = t;
        }
        if (!e.pkt_seen || (!peer && !pairs_by_packet_id(wg))) return;
        WgLinkKey key = link_key(e.tl.netns, wg, peer ? peer->public_key : std::string(), outgoing);
        WgLinkEnd end{e.tl.id, t, len, {}, e.tl.packet_id};
        std::optional<WgLinkEnd> outer = linker.take_outer(key, end);
        if (!outer && !outgoing && !pairs_by_packet_id(wg)) {
            // Received from an endpoint no peer had when the configuration was read (a server's peer roaming
            // in): WireGuard accepts a decrypted packet only from the peer whose allowed IPs hold its source,
            // so that peer sent the outer packet.
            outer = linker.take_outer(link_key(e.tl.netns, wg, "", outgoing), end);
            if (outer) {
                outer->step.peer = peer->public_key;
                if (roamed.size() >= limits.max_open) roamed.clear();
                roamed[{wg.name, outer->step.endpoint}] = peer->public_key;
            }
        }
        if (!outer) outer = linker.add_inner(key, end);
        if (!outer) return;
        if (outgoing) link_out(e.tl.id, outer->timeline, outer->step, outer->t_ns);
        else link_in(outer->timeline, e.tl.id, outer->step, t);
    }

    // The kernel's WireGuard turns the inner packet's skb into the outer one (and back): pair by packet
    // id. A user-space implementation makes new packets: pair by peer, order and length.
    static bool pairs_by_packet_id(const WgInterface& wg) { return wg.implementation == WgImplementation::kernel; }

    // `peer`: its public key; "" for packets received from an endpoint no known peer has.
    static WgLinkKey link_key(uint32_t netns, const WgInterface& wg, const std::string& peer, bool outgoing) {
        if (pairs_by_packet_id(wg)) return WgLinkKey{netns, wg.name, "", outgoing, true};
        return WgLinkKey{netns, wg.name, peer, outgoing, false};
    }

    // The link step both timelines show: the outer packet's message, with the peer the kernel chose
    // when its WireGuard probe said so, and how the two were paired.
    WireguardStep link_step(Entry& inner, Entry& outer, const WireguardStep& outer_step) {
        WireguardStep s = outer_step;
        // Not by comparing ids: a user-space implementation's new skb may well reuse the freed inner's address.
        const WgInterface* wg = outer_interface(outer.tl.netns, outer_step.interface);
        s.linked_by = wg && pairs_by_packet_id(*wg) ? WgLinkedBy::skb : WgLinkedBy::peer_order_length;
        if (auto it = kernel_peers.find(inner.tl.packet_id); it != kernel_peers.end()) {
            s.peer = it->second.peer;
            if (it->second.queued)
                inner.tl.notes.push_back(queued_text(it->second) + "; it was sent once one completed");
            kernel_peers.erase(it);
        }
        measure(s, inner, outer);
        for (TimelineStep& st : outer.tl.steps)
            if (WireguardStep* w = std::get_if<WireguardStep>(&st)) {
                w->peer = s.peer;
                w->linked_by = s.linked_by;
                measure(*w, inner, outer);
            }
        return s;
    }

    // The inner length against the tunnel's MTU, the outer against the device it crossed (where known).
    void measure(WireguardStep& s, const Entry& inner, const Entry& outer) {
        s.inner_len = inner.tunnel_len ? inner.tunnel_len : inner.tl.pkt.len;
        s.outer_len = outer.tl.pkt.is_fragment() ? 0 : outer.tl.pkt.len; // a first fragment's is not the packet's
        if (const NetnsConfig* own = ctx(inner.tl.netns).config)         // the tunnel lives where its inner packets do
            if (const Link* tunnel = own->link_by_name(s.interface)) s.tunnel_mtu = tunnel->mtu;
        const NetnsConfig* cfg = ctx(outer.tl.netns).config;
        if (!cfg) return;
        s.device.clear();
        for (const TimelineStep& st : outer.tl.steps) {
            if (const DeviceStep* d = std::get_if<DeviceStep>(&st)) s.device = d->dev;
            if (const NetfilterStep* n = std::get_if<NetfilterStep>(&st); n && s.device.empty()) {
                int dev = s.direction == WgDirection::out ? n->pkt.oif : n->pkt.iif;
                if (dev) s.device = cfg->link_name(dev);
            }
        }
        const Link* link = s.device.empty() ? nullptr : cfg->link_by_name(s.device);
        s.device_mtu = link ? link->mtu : 0;
    }

    // Peers kernel WireGuard chose, by packet id, until the link that names them (bounded, oldest out).
    void remember_kernel_peer(uint64_t packet, KernelChoice choice) {
        if (kernel_peers.size() >= limits.max_open) kernel_peers.clear(); // stale: their links never came
        kernel_peers[packet] = std::move(choice);
    }

    // wg_xmit's staged queue keeps at most MAX_STAGED_PACKETS; beyond, the oldest are dropped as new ones come.
    static constexpr uint32_t kMaxStaged = 128;

    static std::string queued_text(const KernelChoice& c) {
        // Read without the queue's lock, and the queue may hold WireGuard's own keepalive: a count as read then.
        std::string ahead =
            c.ahead == 0 ? std::string("the queue read empty then")
            : c.ahead > kMaxStaged
                ? fmt::format("{} already queued: beyond {} WireGuard drops the oldest", c.ahead, kMaxStaged)
                : fmt::format("{} already queued", c.ahead);
        return fmt::format("WireGuard had no session with peer {} when it took the packet: it was queued for a "
                           "handshake ({})",
                           short_key(c.peer), ahead);
    }

    static std::string purge_text(const WireguardKernelEvent& ev, const std::string& dev, const std::string& peer) {
        std::string n = fmt::format("{} packet{}", ev.queued, ev.queued == 1 ? "" : "s");
        switch (ev.verdict) {
        case WgVerdict::gave_up:
            return fmt::format("the handshake with peer {} did not complete after 20 attempts, 5 s apart (a new "
                               "packet to it starts the count again): WireGuard gave up and dropped the {} queued for "
                               "it (tx_dropped)",
                               short_key(peer), n);
        case WgVerdict::peer_removed:
            return fmt::format("peer {} was removed (or {} deleted): the {} queued for its handshake were dropped "
                               "(tx_dropped)",
                               short_key(peer), dev, n);
        case WgVerdict::device_down:
            return fmt::format("{} went down: the {} queued for peer {}'s handshake were dropped (tx_dropped)", dev, n,
                               short_key(peer));
        default:
            return fmt::format("WireGuard dropped the {} queued for peer {}'s handshake (wg_packet_purge_staged_"
                               "packets; its cause not read)",
                               n, short_key(peer));
        }
    }

    // The step a purged packet's timeline ends with.
    static WireguardStep purge_step(uint64_t t_ns, const Purge& p) {
        WireguardStep step;
        step.t_ns = t_ns;
        step.action = WgAction::encrypt;
        step.direction = WgDirection::out;
        step.interface = p.dev;
        step.peer = p.peer;
        step.verdict = p.verdict;
        step.dropped = p.why;
        return step;
    }

    // Kernel WireGuard dropped a peer's staged queue: the packets wgbpf saw queued there end here; the kfree_skb
    // of the others (their timelines already out) is told the same cause.
    void staged_queue_purged(const WireguardKernelEvent& ev, const std::string& dev, const std::string& peer) {
        Purge p{ev.t_ns, dev, peer,
                ev.verdict == WgVerdict::ok ? std::string("purged") : std::string(verdict_name(ev.verdict)),
                purge_text(ev, dev, peer)};
        for (auto it = kernel_peers.begin(); it != kernel_peers.end();) {
            const KernelChoice& c = it->second;
            if (!c.queued || c.netns != ev.netns || c.dev != dev || c.peer != peer) {
                ++it;
                continue;
            }
            uint64_t packet = it->first;
            it = kernel_peers.erase(it);
            Entry* e = newest_for_packet(packet);
            if (!e || e->tl.encapsulated_in) continue;
            add_step(*e, purge_step(ev.t_ns, p));
            end_by_wireguard(*e);
            ++p.shown;
        }
        p.queued = ev.queued;
        if (auto older = purges.find(ev.netns); older != purges.end()) purge_record(ev.netns, older->second);
        purges[ev.netns] = std::move(p);
    }

    // Dropped as too big: larger than the MTU the kernel checked (the device's, or its route's mtu metric). In
    // ip_forward (IPv4, only with DF set) and ip6_forward the kernel first sent the sender ICMP fragmentation
    // needed / ICMPv6 packet too big with that MTU (not rate-limited: fragmentation needed never is, packet too big
    // with the default icmp ratemask); elsewhere (e.g. Open vSwitch) no ICMP and no route involved.
    std::string too_big_text(const Entry& e, const DropStep& d) {
        std::string dev;
        for (const TimelineStep& st : e.tl.steps)
            if (const RouteDecision* r = std::get_if<RouteDecision>(&st);
                r && r->result == LookupResult::hit && !r->result_oif.empty())
                dev = r->result_oif;
        const PacketInfo p = e.pkt_seen ? current_packet(e) : d.pkt;
        bool v4 = p.family == Family::ipv4;
        uint32_t known = link_mtu(e.tl.netns, dev);
        std::string mtu = known ? fmt::format(" ({})", known) : std::string();
        bool forwarding = d.location.starts_with(v4 ? "ip_forward+" : "ip6_forward+");
        if (!forwarding) return fmt::format("{} bytes, larger than the MTU the kernel checked", p.len);
        std::string text = fmt::format("{} bytes, larger than {}", p.len,
                                       dev.empty() ? std::string("the MTU of its route")
                                                   : fmt::format("the MTU of {}{}, or of its route", dev, mtu));
        return text + fmt::format("{}: the kernel sent {} {} with that MTU", v4 ? ", with DF set" : "",
                                  p.src.to_string(), v4 ? "ICMP fragmentation needed" : "ICMPv6 packet too big");
    }

    // A kfree_skb inside wg_packet_purge_staged_packets, just after a purge was seen in its namespace: that cause.
    static constexpr uint64_t kPurgeWindow = 1'000'000'000;
    Purge* purge_of(const DropStep& d) {
        if (!d.location.starts_with("wg_packet_purge_staged_packets")) return nullptr;
        auto it = purges.find(d.netns);
        if (it == purges.end() || d.t_ns < it->second.t_ns || d.t_ns - it->second.t_ns > kPurgeWindow) return nullptr;
        return &it->second;
    }

    // The purged packets not shown dropped one by one (their timelines went out before, or they were never
    // followed): one record for them, once the kfree_skbs that follow a purge have had their window.
    void purge_record(uint32_t netns, Purge& p) {
        if (p.recorded || p.shown >= p.queued) return;
        p.recorded = true;
        Entry& e = create(netns, 0, p.t_ns);
        add_step(e, purge_step(p.t_ns, p));
        uint32_t rest = p.queued - p.shown;
        e.tl.notes.push_back(fmt::format("{} of the {} packets it dropped {} not shown dropped one by one: seen queued "
                                         "earlier (their timelines went out before; a packet's free is reported only "
                                         "within 2 s of its first sight), or never followed",
                                         rest, p.queued, rest == 1 ? "is" : "are"));
        complete(e, Outcome::dropped);
    }

    void flush_purges(uint64_t now) {
        for (auto& [netns, p] : purges)
            if (now >= p.t_ns && now - p.t_ns > kPurgeWindow) purge_record(netns, p);
    }

    // The newest timeline of a packet id: open, or completed and held for its link.
    Entry* newest_for_packet(uint64_t packet) {
        if (auto it = open.find(packet); it != open.end()) return find(it->second);
        for (auto it = entries.rbegin(); it != entries.rend(); ++it)
            if (it->second.tl.packet_id == packet) return &it->second;
        return nullptr;
    }

    void link_out(uint64_t inner_id, uint64_t outer_id, const WireguardStep& outer_step, uint64_t outer_t) {
        Entry* inner = find(inner_id);
        Entry* outer = find(outer_id);
        if (!inner || !outer) return;
        inner->tl.encapsulated_in = outer->tl.id;
        outer->tl.outer_of = inner->tl.id;
        WireguardStep s = link_step(*inner, *outer, outer_step);
        s.t_ns = std::max(inner->last_ns, outer_t); // after it left through the tunnel device
        add_step(*inner, s);
        release_if_done(inner_id);
        release_if_done(outer_id);
    }

    void link_in(uint64_t outer_id, uint64_t inner_id, const WireguardStep& outer_step, uint64_t inner_t) {
        Entry* inner = find(inner_id);
        Entry* outer = find(outer_id);
        if (!inner || !outer) return;
        inner->tl.decapsulated_from = outer->tl.id;
        outer->tl.outer_of = inner->tl.id;
        if (!outer->open && outer->tl.outcome == Outcome::delivered) outer->tl.outcome = Outcome::decapsulated;
        WireguardStep s = link_step(*inner, *outer, outer_step);
        s.t_ns = inner_t; // decrypted just before it came out of the tunnel device
        add_step(*inner, s, true);
        // The outer packet's step was placed where its message was first read (its arrival); WireGuard took and
        // decrypted it only after its local delivery (route, input chain): it goes where the decryption shows. Only
        // this message's step (an outer packet that is itself another tunnel's inner one carries that one's too).
        bool moved = false;
        if (!has_drop(outer->tl))
            for (TimelineStep& st : outer->tl.steps)
                if (WireguardStep* w = std::get_if<WireguardStep>(&st);
                    w && w->direction == WgDirection::in && w->interface == outer_step.interface &&
                    w->action == outer_step.action && w->receiver_index == outer_step.receiver_index &&
                    w->counter == outer_step.counter && w->t_ns < inner_t) {
                    w->t_ns = inner_t;
                    moved = true;
                }
        if (moved)
            std::stable_sort(outer->tl.steps.begin(), outer->tl.steps.end(),
                             [](const TimelineStep& a, const TimelineStep& b) { return step_time(a) < step_time(b); });
        release_if_done(inner_id);
        release_if_done(outer_id);
    }

    void release_if_done(uint64_t id) {
        Entry* e = find(id);
        if (e && !e->open && !linker.waiting(id)) emit(id);
    }

    void complete(Entry& e, Outcome outcome) {
        e.tl.outcome = outcome;
        e.open = false;
        open_ids.erase(e.tl.id);
        if (auto it = open.find(e.tl.packet_id); it != open.end() && it->second == e.tl.id) open.erase(it);
        bool left = e.tl.outcome == Outcome::sent || e.tl.outcome == Outcome::encapsulated;
        if (left && locally_generated(e) && !has_route(e.tl, RouteDirection::output) && !e.tl.pkt.is_fragment())
            e.tl.gaps.push_back(
                std::string("no route lookup seen for it: a cached route (connected socket, WireGuard's "
                            "per-peer cache) or lost route events") +
                (limits.selective ? ", or the filter did not pick the lookup (it sees the flow only; "
                                    "wireguard-go's outer packets are picked after theirs)"
                                  : ""));
        if (!linker.waiting(e.tl.id)) emit(e.tl.id); // else held until linked or the link window passes
    }

    void emit(uint64_t id) {
        auto it = entries.find(id);
        if (it == entries.end()) return;
        if (it->second.tl.outcome == Outcome::encapsulated && !it->second.tl.encapsulated_in)
            not_encapsulated(it->second);
        if (auto t = in_tunnel_device.find(it->second.tl.packet_id);
            t != in_tunnel_device.end() && t->second.first == id)
            in_tunnel_device.erase(t);
        auto node = entries.extract(it);
        linker.forget(id);
        if (sink) sink(std::move(node.mapped().tl));
    }

    // Handed to a WireGuard device, but no outer packet was linked to it: that it was encrypted and sent is
    // not known. Where the configuration tells why, it was not sent (inferred, and said so).
    void not_encapsulated(Entry& e) {
        e.tl.outcome = Outcome::unknown;
        const DeviceStep* out = nullptr;
        for (const TimelineStep& st : e.tl.steps)
            if (const DeviceStep* d = std::get_if<DeviceStep>(&st); d && d->direction == DeviceDirection::egress)
                out = d;
        const WgInterface* wg = out ? wireguard_interface(e.tl.netns, out->dev) : nullptr;
        std::string why = limits.selective
                              ? "its outer packet was not seen (a handshake first, events lost, or, with wireguard-go, "
                                "not told apart by its length from another packet's: docs/filters.md)"
                              : "its outer packet was not seen (a handshake first, or events lost)";
        if (wg && socket_unplaced(*wg)) { // what the kernel chose changes nothing: the outer packet was not watched
            why = socket_elsewhere(*wg);
            kernel_peers.erase(e.tl.packet_id);
        } else if (auto chosen = kernel_peers.find(e.tl.packet_id); chosen != kernel_peers.end()) {
            // The kernel found the peer (with an endpoint) itself: nothing to infer from a snapshot.
            why = chosen->second.queued
                      ? queued_text(chosen->second) + ", and no handshake completed while wgbpf followed it (still "
                                                      "waiting, or dropped later)"
                      : "WireGuard chose peer " + short_key(chosen->second.peer) + " for it (kernel)" +
                            (chosen->second.session_checked ? ", which had a usable session," : "") +
                            " but its outer packet was not seen in its buffer: segmented (GSO), fragmented into new "
                            "buffers, " +
                            (chosen->second.session_checked ? "" : "queued for a handshake, ") + "or events lost";
            kernel_peers.erase(chosen);
            wg = nullptr;
        }
        if (wg && lost_around(e.tl)) // its outer packet, or the event naming its peer, may be among the lost
            wg = nullptr;
        if (wg) {
            PacketInfo now = current_packet(e);
            const WgPeer* peer = peer_for_address(*wg, now.dst);
            WireguardStep step;
            step.t_ns = e.last_ns;
            step.action = WgAction::encrypt;
            step.direction = WgDirection::out;
            step.interface = wg->name;
            step.inferred = true;
            if (!peer) {
                step.verdict = "no_peer";
                step.dropped = "no peer's allowed IPs contain " + now.dst.to_string() + ": WireGuard drops it";
            } else if (!peer->endpoint) {
                step.peer = peer->public_key;
                step.verdict = "no_endpoint";
                step.dropped = "peer " + short_key(peer->public_key) + " has no endpoint: WireGuard cannot send it";
            } else if (auto apart = initiation_apart(e.tl.netns, wg->name, peer->public_key, e.last_ns)) {
                why = fmt::format("no session with peer {} yet: WireGuard sent it a handshake initiation ({} ms apart) "
                                  "and holds the packet until a handshake completes (inferred)",
                                  short_key(peer->public_key), *apart / 1'000'000);
            }
            if (!step.verdict.empty()) {
                add_step(e, step);
                e.tl.outcome = Outcome::not_sent;
                e.tl.outcome_inferred = true;
                return;
            }
        }
        e.tl.gaps.push_back("handed to WireGuard" + (out ? " (" + out->dev + ")" : std::string()) +
                            ", but no outer packet was linked to it: " + why);
    }

    static std::string socket_elsewhere(const WgInterface& wg) {
        if (wg.socket_netns == kSocketAmbiguous)
            return wg.name + "'s UDP socket could be in several watched namespaces (they bind its port): its outer "
                             "packets are not paired with it";
        return wg.name + "'s UDP socket is in a namespace that is not watched (the one it was created in, or it is "
                         "down): WireGuard's outer packets are there";
    }

    // A user-space WireGuard received this data packet, and no inner packet of its peer came out of the
    // tunnel within the link window: it was dropped inside WireGuard (inferred), and the configuration says
    // what most likely refused it.
    void not_decrypted(const WgLinkEnd& outer) {
        Entry* e = find(outer.timeline);
        if (!e) return;
        WireguardStep* step = last_incoming_step(e->tl);
        if (!step || step->verdict.size()) return;
        if (lost_around(e->tl)) return; // its inner packet may be among the events lost: nothing to infer
        if (limits.selective) return;   // its inner packet may be one the filter did not pick
        // Something of that peer (any peer, when unknown) came out of the tunnel since: the outer's inner may be in
        // it (wireguard-go writes coalesced packets, GRO), or it was paired with another: never claimed dropped.
        const uint32_t tunnel = tunnel_netns(e->tl.netns, step->interface);
        if (auto it = inner_in.find({tunnel, step->interface, step->peer});
            it != inner_in.end() && it->second >= outer.t_ns)
            return;
        if (step->peer.empty())
            for (const auto& [key, t] : inner_in)
                if (std::get<0>(key) == tunnel && std::get<1>(key) == step->interface && t >= outer.t_ns) return;
        const WgInterface* wg = outer_interface(e->tl.netns, step->interface);
        const WgPeer* peer = wg && !step->peer.empty() ? wg_peer(e->tl.netns, step->interface, step->peer) : nullptr;
        std::string likely;
        if (!wg || !peer)
            likely = "a packet from an endpoint no peer has (a key it cannot decrypt), or its inner source outside the "
                     "allowed IPs of the peer that sent it";
        else if (peer->allowed_ips.empty())
            likely = "peer " + short_key(peer->public_key) +
                     " has no allowed IPs, so nothing it sends is accepted (another peer may have taken them)";
        else
            likely = "its inner source is not in the allowed IPs of peer " + short_key(peer->public_key) + " (" +
                     prefixes_text(peer->allowed_ips) + "), or it did not decrypt (an old session, a replayed counter)";
        step->verdict = "not_decrypted";
        step->inferred = true;
        step->dropped = fmt::format("no inner packet came out of {} within {} ms; likely: {}", step->interface,
                                    limits.link_ns / 1'000'000, likely);
        e->tl.outcome = Outcome::dropped;
        e->tl.outcome_inferred = true;
    }

    // Kernel WireGuard decrypted these data messages, and their inner packets never reached the allowed-IPs check
    // within the link window: wg_packet_rx_poll dropped them (it says nothing): the replay counter refused them, or
    // the inner packet was malformed. Inferred from an absence, so not claimed where events were lost.
    void dropped_after_decryption(uint64_t now) {
        for (auto it = decrypted.begin(); it != decrypted.end();) {
            if (now < it->second.t_ns || now - it->second.t_ns < limits.link_ns) {
                ++it;
                continue;
            }
            const uint64_t timeline = it->second.timeline;
            const std::string dev = it->second.dev;
            it = decrypted.erase(it);
            Entry* e = find(timeline);
            if (!e || e->tl.outer_of) continue; // linked: its inner packet came out
            WireguardStep* step = last_incoming_step(e->tl);
            if (!step || !step->verdict.empty() || lost_around(e->tl)) continue;
            step->verdict = "not_delivered";
            step->inferred = true;
            step->dropped = fmt::format("it decrypted, and its inner packet never reached {}'s allowed-IPs check: a "
                                        "replayed or out-of-window counter (the same message twice, or one far too "
                                        "late), a malformed inner packet (rx_length/frame errors), or its peer's "
                                        "receive queue was purged (the peer removed)",
                                        dev);
            e->tl.outcome_inferred = true;
            end_by_wireguard(*e);
        }
    }

    static bool lost_around(const PacketTimeline& tl) {
        return std::any_of(tl.gaps.begin(), tl.gaps.end(),
                           [](const std::string& g) { return g.find("events lost") != std::string::npos; });
    }

    // How far from `t` this host last sent a peer a handshake initiation, if within REKEY_TIMEOUT (5 s), before
    // or after (the packet that needs a session makes WireGuard send one).
    std::optional<uint64_t> initiation_apart(uint32_t netns, const std::string& dev, const std::string& peer,
                                             uint64_t t) {
        auto it = initiations.find({netns, dev, peer});
        if (it == initiations.end()) return std::nullopt;
        uint64_t apart = std::max(t, it->second) - std::min(t, it->second);
        return apart <= 5'000'000'000ull ? std::optional(apart) : std::nullopt;
    }

    // A packet that went quiet: delivered if netfilter's input hook accepted it last (or, without netfilter
    // steps, its route was local delivery), else nobody saw what became of it.
    Outcome idle_outcome(Entry& e) {
        Outcome outcome = last_known_outcome(e);
        if (outcome != Outcome::unknown) return outcome;
        if (!e.fragmented_on.empty()) return locally_generated(e) ? Outcome::sent : Outcome::forwarded;
        if (e.reassembled_here) return Outcome::delivered; // to WireGuard's socket: its inner packet came back
        std::string idle = fmt::format("idle for {} ms", limits.idle_ns / 1'000'000);
        if (e.tl.pkt.is_fragment() && !e.reassembled_here) return fragment_end(e, idle);
        e.tl.gaps.push_back("no delivery, egress or drop seen (" + idle + ")");
        return outcome;
    }

    Outcome last_known_outcome(const Entry& e) const {
        if (const WireguardStep* w = last_step<WireguardStep>(e.tl); w && !w->dropped.empty()) return Outcome::dropped;
        const NetfilterStep* nf = last_step<NetfilterStep>(e.tl);
        if (nf && nf->verdict == NfVerdict::drop) return Outcome::dropped;
        bool delivered = nf ? nf->hook == NfHook::input && nf->verdict == NfVerdict::accept : [&] {
            for (const TimelineStep& s : e.tl.steps)
                if (const RouteDecision* r = std::get_if<RouteDecision>(&s);
                    r && r->direction == RouteDirection::input && r->route_type == RouteType::local)
                    return true;
            return false;
        }();
        if (delivered) return e.tl.outer_of ? Outcome::decapsulated : Outcome::delivered;
        // A received outer packet whose inner packet came out of WireGuard was taken by WireGuard, whatever
        // steps of its local delivery were not observed (no input chain, a lookup the filter did not match).
        if (e.tl.outer_of && !has_drop(e.tl) && incoming_wireguard(e.tl)) return Outcome::decapsulated;
        return Outcome::unknown;
    }

    static bool has_drop(const PacketTimeline& tl) {
        return std::any_of(tl.steps.begin(), tl.steps.end(),
                           [](const TimelineStep& s) { return std::holds_alternative<DropStep>(s); });
    }

    static bool incoming_wireguard(const PacketTimeline& tl) {
        const WireguardStep* w = last_step<WireguardStep>(tl);
        return w && w->direction == WgDirection::in;
    }

    const WgPeer* wg_peer(uint32_t netns, const std::string& dev, const std::string& key) {
        const WgInterface* wg = outer_interface(netns, dev);
        if (!wg) return nullptr;
        for (const WgPeer& p : wg->peers)
            if (p.public_key == key) return &p;
        return nullptr;
    }

    static std::string prefixes_text(const std::vector<IpPrefix>& list) {
        if (list.empty()) return "none";
        std::string out;
        for (size_t i = 0; i < list.size() && i < 4; ++i) out += (i ? ", " : "") + list[i].to_string();
        if (list.size() > 4) out += fmt::format(", and {} more", list.size() - 4);
        return out;
    }

    // What kernel WireGuard's verdict on an inner packet means, with the configuration's numbers.
    std::string kernel_drop_text(const WireguardKernelEvent& ev, const std::string& dev, const std::string& key) {
        switch (ev.verdict) {
        case WgVerdict::no_peer:
            return fmt::format(
                "no peer's allowed IPs contain {} (wg_xmit: -ENOKEY, an ICMP unreachable goes back to the "
                "sender)",
                ev.pkt.dst.to_string());
        case WgVerdict::no_endpoint:
            return fmt::format("peer {} has no endpoint to send to (wg_xmit: -EDESTADDRREQ, an ICMP unreachable goes "
                               "back to the sender)",
                               short_key(key));
        case WgVerdict::src_not_allowed: {
            const WgPeer* sender = wg_peer(ev.netns, dev, key);
            std::string text =
                fmt::format("source {} is not in the allowed IPs of peer {}", ev.pkt.src.to_string(), short_key(key));
            if (sender) text += " (" + prefixes_text(sender->allowed_ips) + ")";
            if (const WgInterface* wg = outer_interface(ev.netns, dev))
                if (const WgPeer* owner = peer_for_address(*wg, ev.pkt.src); owner && owner != sender)
                    text += fmt::format("; it is in peer {}'s", short_key(owner->public_key));
            return text + " (rx_frame_errors)";
        }
        default: return std::string(verdict_name(ev.verdict));
        }
    }

    static bool step_is_send(const Entry& e) {
        const WireguardStep* w = last_step<WireguardStep>(e.tl);
        return w && w->action == WgAction::encrypt;
    }

    // A WireGuard verdict (its step already added) ends the packet: its timeline goes out now, held ones too.
    void end_by_wireguard(Entry& e) {
        linker.forget(e.tl.id);
        if (step_is_send(e)) { // wg_xmit frees what it refused with kfree_skb: that drop is this one
            if (ended_by_wireguard.size() >= limits.max_open) ended_by_wireguard.clear();
            ended_by_wireguard[e.tl.packet_id] = e.last_ns;
        }
        if (e.open) {
            complete(e, Outcome::dropped);
            return;
        }
        e.tl.outcome = Outcome::dropped;
        emit(e.tl.id);
    }

    // Kernel WireGuard judged a received handshake message (the outer packet): its WireGuard step says how.
    void handshake_verdict(const WireguardKernelEvent& ev, const std::string& dev, const std::string& key) {
        Entry* e = newest_for_packet(ev.pkt.id);
        if (!e) { // the outer packet is where the interface's socket is (the event names the interface's namespace)
            const WgInterface* wg = wireguard_interface(ev.netns, dev);
            e = &timeline_for(ev.pkt, wg && wg->socket_netns && !socket_unplaced(*wg) ? wg->socket_netns : ev.netns,
                              ev.t_ns);
            see_packet(*e, ev.pkt);
            e->tl.gaps.push_back("its earlier steps went out in another timeline before WireGuard's verdict came");
        }
        WireguardStep* step = last_incoming_step(e->tl);
        WireguardStep fresh;
        if (!step) {
            fresh.t_ns = ev.t_ns;
            fresh.action = ev.action == WgKernelAction::receive ? WgAction::decrypt
                           : ev.message == 2                    ? WgAction::handshake_response
                                                                : WgAction::handshake_initiation;
            fresh.direction = WgDirection::in;
            fresh.interface = dev;
            step = &fresh;
        }
        if (!key.empty()) step->peer = key;
        step->verdict = ev.verdict == WgVerdict::ok ? "accepted" : std::string(verdict_name(ev.verdict));
        if (ev.verdict != WgVerdict::ok)
            step->dropped = ev.action == WgKernelAction::receive
                                ? receive_drop_text(ev.verdict, dev, step->receiver_index)
                                : handshake_drop_text(ev.verdict, ev.message, dev);
        if (step == &fresh) add_step(*e, fresh);
        if (ev.verdict != WgVerdict::ok) end_by_wireguard(*e);
    }

    // The WireGuard step of a received outer packet (its message), the latest.
    static WireguardStep* last_incoming_step(PacketTimeline& tl) {
        WireguardStep* step = nullptr;
        for (TimelineStep& st : tl.steps)
            if (WireguardStep* w = std::get_if<WireguardStep>(&st); w && w->direction == WgDirection::in) step = w;
        return step;
    }

    // Why WireGuard refused a received data message before its inner packet existed.
    static std::string receive_drop_text(WgVerdict v, const std::string& dev, std::optional<uint32_t> receiver_index) {
        if (v == WgVerdict::invalid)
            return "it did not decrypt with its session's key (decrypt_packet): altered or forged on the way, a late "
                   "packet of a session whose keys expired, or a buffer the kernel could not process";
        return fmt::format(
            "no session of {} has receiver index {}: the sender still uses a session this side no longer "
            "has (restarted, or its keys expired); it will make a new handshake",
            dev, receiver_index ? fmt::format("{:#x}", *receiver_index) : std::string("(not read)"));
    }

    static std::string handshake_drop_text(WgVerdict v, uint8_t message, const std::string& dev) {
        std::string what = message == 2 ? "handshake response" : "handshake initiation";
        switch (v) {
        case WgVerdict::bad_mac:
            return fmt::format("{} with an invalid MAC: it was made for another public key than {}'s (the sender's "
                               "configuration has a wrong public key for this peer), or it was corrupted",
                               what, dev);
        case WgVerdict::ratelimited:
            return fmt::format("{} refused: under load, and its source is over the handshake rate limit", what);
        case WgVerdict::cookie_sent:
            return fmt::format("{} answered with a cookie reply instead (under load): the sender must retry with the "
                               "cookie",
                               what);
        case WgVerdict::unknown_key:
            return fmt::format("handshake initiation refused: the sender's public key is not a peer of {}", dev);
        case WgVerdict::flood:
            return fmt::format("handshake initiation refused by {}: it came within 20 ms of the last initiation "
                               "accepted from that peer (WireGuard takes at most 50 a second from each peer), unless, "
                               "forged, its timestamp did not decrypt",
                               dev);
        case WgVerdict::timestamp_refused:
            return fmt::format("handshake initiation refused by {}: its timestamp is not newer than the last one "
                               "accepted from that peer (replayed, or the sender's clock went back, e.g. a device "
                               "without a real-time clock that restarted: {} accepts it again once the peer is removed "
                               "and added, the interface re-created, or the sender's clock passes its last "
                               "timestamp), or the timestamp did not decrypt (forged with that peer's public key)",
                               dev, dev);
        case WgVerdict::unknown_index:
            return fmt::format("handshake response refused: no initiation of {} has its receiver index (a stale or "
                               "crossed handshake)",
                               dev);
        case WgVerdict::rejected:
            return message == 2 ? fmt::format("handshake response refused by {}: it does not decrypt (the preshared "
                                              "keys differ) or no initiation is in the state to take it",
                                              dev)
                                // (no preshared key takes part in an initiation's checks: a mismatch shows
                                // as the initiator refusing the response)
                                : fmt::format("handshake initiation refused by {}: its timestamp is not newer than "
                                              "the last one accepted from that peer (replayed, or the sender's clock "
                                              "went back), it came within 20 ms of the last one, or it did not "
                                              "decrypt (not told apart: too near the 20 ms limit, the sender "
                                              "not looked up, or recorded by an older wgbpf)",
                                              dev);
        default: return what;
        }
    }

    void flush(uint64_t now) {
        // Output decisions that no packet took in time.
        std::vector<RouteDecision> stale =
            pending.take_all([&](const RouteDecision& d) { return now >= d.t_ns && now - d.t_ns >= limits.route_ns; });
        for (const RouteDecision& d : stale) route_unmatched(d);

        for (auto& [key, outer] : linker.expire(now))
            if (!key.outgoing && !key.by_packet_id) not_decrypted(outer);
        flush_purges(now);
        // flush_all (the end): only the messages whose window passed before the last event are judged.
        dropped_after_decryption(now == UINT64_MAX ? latest_ns : now);
        for (auto it = entries.begin(); it != entries.end();) {
            uint64_t id = it->first;
            Entry& e = it->second;
            ++it; // emitting erases this entry, and only it
            if (!e.open) release_if_done(id);
            else if (now >= e.last_ns && now - e.last_ns >= limits.idle_ns) complete(e, idle_outcome(e));
        }
        contexts.clear(); // configuration may have changed: ask again
    }
};

TimelineBuilder::TimelineBuilder(ContextFor context, Sink sink, TimelineLimits limits)
    : state_(std::make_unique<State>(std::move(context), std::move(sink), limits)) {}

TimelineBuilder::~TimelineBuilder() = default;

void TimelineBuilder::add(const RouteDecision& d) {
    State& s = *state_;
    if (d.direction == RouteDirection::output && d.reroute) {
        // The kernel routed a packet again in the output hook (a chain changed its mark or addresses): the
        // probe named the packet. Never taken for another packet's decision.
        // Its packet's steps may still be on their way (a netfilter step goes out when the next hook has
        // seen the packet): the timeline opens here then, as for input decisions.
        if (const Entry* known = s.open_entry(d.rx_packet);
            known && (known->pkt_seen || known->flow_known) && known->tl.pkt.dst != d.dst) {
            s.route_alone(d, "re-route whose destination is not its packet's");
            return;
        }
        RouteDecision r = d;
        r.notes.push_back("re-route: a chain of the output hook changed the packet (mark or addresses), and the kernel "
                          "routed it again");
        s.add_step(s.timeline_named_by(d), std::move(r));
        return;
    }
    if (d.direction == RouteDirection::output) {
        if (s.attach_late_route(d)) return;
        s.pending.push(d);
        if (s.pending.size() > s.limits.max_open)
            s.route_alone(s.pending.pop_oldest(), fmt::format("route decision not matched: more than {} waiting for "
                                                              "their packets",
                                                              s.limits.max_open));
        return;
    }
    if (d.rx_packet == 0) {
        s.route_alone(d, "route decision for a received packet that was not identified");
        return;
    }
    // The decision's flow must be the packet's: the kernel's receive context on a CPU can be stale (the
    // packet it named is gone, its buffer reused by another), and a step of another packet is fiction.
    if (const Entry* known = s.open_entry(d.rx_packet);
        known && (known->pkt_seen || known->flow_known) &&
        State::another_flow(flow_packet(d, d.rx_packet), known->tl.pkt)) {
        s.route_alone(d, "route decision whose flow is not the packet's the receive context named (events lost?)");
        return;
    }
    Entry& e = s.timeline_named_by(d);
    if (d.direction == RouteDirection::input) {
        RouteDecision r = d;
        // Conntrack's NAT runs in prerouting, before this lookup: the packet arrived with other addresses.
        if (e.pkt_seen) {
            PacketInfo routed = flow_packet(d, d.rx_packet);
            if (routed.dst != e.tl.pkt.dst)
                r.notes.push_back(
                    "dst rewritten before routing: " + e.tl.pkt.dst.to_string() + " -> " + routed.dst.to_string() +
                    " (address translation in prerouting: DNAT, or the reply of a translated connection)");
            if (!routed.src.is_unspecified() && routed.src != e.tl.pkt.src)
                r.notes.push_back("src rewritten before routing: " + e.tl.pkt.src.to_string() + " -> " +
                                  routed.src.to_string());
        }
        s.add_step(e, std::move(r));
        return;
    }
    // Loose mode's second reverse lookup (restricted to the device the packet came in on) is a plain step.
    if (!d.oif.empty() && last_step<RpFilterStep>(e.tl)) {
        RouteDecision second = d;
        second.notes.push_back("rp_filter's second reverse lookup, restricted to " + d.oif);
        s.add_step(e, std::move(second));
        return;
    }
    s.add_step(e, explain_rp_filter(d, RpFilterPacket{s.iif_of(e), e.tl.mark}, s.ctx(d.netns).config));
}

void TimelineBuilder::add(const NetfilterStep& step) {
    State& s = *state_;
    Entry& e = s.timeline_for(step.pkt, step.netns, step.t_ns);
    s.see_packet(e, step.pkt);
    bool leaving = step.hook == NfHook::output || step.hook == NfHook::postrouting;
    bool local = locally_generated(e);
    if (leaving && local && !has_route(e.tl, RouteDirection::output))
        s.attach_pending_route(e, step.pkt, step.mark_before, 0, step.t_ns);
    s.add_step(e, step);
    e.tl.mark = step.mark_after;
    if (leaving ? local : step.hook == NfHook::prerouting || step.hook == NfHook::input)
        s.look_for_wireguard(e, step.pkt, leaving, step.t_ns);
}

// An ICMP packet routed for local delivery (and accepted at the input hook, when a chain is there), then
// freed as NO_SOCKET by the ICMP code.
static bool delivered_to_raw_sockets(const PacketTimeline& tl, const DropStep& d) {
    if (d.reason != "NO_SOCKET" || (d.pkt.proto != 1 && d.pkt.proto != 58)) return false;
    // ping_rcv is reached only by an echo reply delivered locally (raw sockets got theirs before), whatever
    // steps of it were seen.
    if (d.location.starts_with("ping_rcv+")) return true;
    for (auto it = tl.steps.rbegin(); it != tl.steps.rend(); ++it) {
        if (const NetfilterStep* nf = std::get_if<NetfilterStep>(&*it))
            return nf->hook == NfHook::input && nf->verdict == NfVerdict::accept;
        if (const RouteDecision* r = std::get_if<RouteDecision>(&*it))
            return r->direction == RouteDirection::input && r->result == LookupResult::hit &&
                   r->route_type == RouteType::local;
    }
    return false;
}

void TimelineBuilder::add(const DropStep& d) {
    State& s = *state_;
    if (s.dropped_beyond(d)) return;
    // wg_xmit frees the packet it refused right after its verdict ended the timeline: the same drop.
    if (auto it = s.ended_by_wireguard.find(d.pkt.id); it != s.ended_by_wireguard.end() && !s.open.contains(d.pkt.id)) {
        bool same = d.t_ns >= it->second && d.t_ns - it->second <= 1'000'000'000; // not a later packet in that buffer
        s.ended_by_wireguard.erase(it);
        if (same) return;
    }
    // Dropped by the WireGuard device it was just handed to (a TUN device's queue full): not encapsulated.
    if (auto it = s.in_tunnel_device.find(d.pkt.id); it != s.in_tunnel_device.end() && !s.open.contains(d.pkt.id)) {
        auto [timeline, handed] = it->second;
        s.in_tunnel_device.erase(it);
        Entry* e = s.find(timeline);
        // The same packet, unchanged (kernel WireGuard's outer packet is the same buffer, and a freed buffer's
        // address comes back at once as another packet's).
        if (e && !e->tl.encapsulated_in && d.netns == e->tl.netns && d.pkt.is_ip &&
            !State::another_packet(e->tl.pkt, d.pkt) && d.t_ns >= handed && d.t_ns - handed <= 1'000'000) {
            s.add_step(*e, d);
            s.linker.forget(e->tl.id);
            s.kernel_peers.erase(d.pkt.id);
            s.complete(*e, Outcome::dropped);
            return;
        }
    }
    Entry& e = s.timeline_for(d.pkt, d.netns, d.t_ns);
    s.see_packet(e, d.pkt);
    if (auto* purge = s.purge_of(d)) { // WireGuard's queue purge, whose cause its probe read
        s.add_step(e, State::purge_step(d.t_ns, *purge));
        ++purge->shown;
    }
    if (d.reason == "PKT_TOO_BIG" && d.explanation.empty()) {
        DropStep explained = d;
        explained.explanation = s.too_big_text(e, d);
        s.add_step(e, explained);
        s.linker.forget(e.tl.id);
        s.complete(e, Outcome::dropped);
        return;
    }
    if (delivered_to_raw_sockets(e.tl, d)) {
        // Raw sockets (ping's among them) get their copies in raw_local_deliver(), before the ICMP layer frees
        // the original because no ping socket wanted it. Whether a raw socket was listening is not observed.
        e.tl.notes.push_back("no ping socket took it (" + d.reason + (d.location.empty() ? "" : " at " + d.location) +
                             "): delivered to the raw sockets listening for ICMP, if any (ping's is one); the "
                             "kernel freed its own copy");
        s.complete(e, Outcome::delivered);
        return;
    }
    s.add_step(e, d);
    if (d.reason == "IP_RPFILTER") {
        // The reverse-path check failed: make its step say so even when the sysctl snapshot disagreed.
        for (auto it = e.tl.steps.rbegin(); it != e.tl.steps.rend(); ++it) {
            RpFilterStep* rp = std::get_if<RpFilterStep>(&*it);
            if (!rp) continue;
            if (rp->result == RpFilterResult::pass)
                rp->explanation += "; yet the kernel dropped it (IP_RPFILTER): sysctls changed?";
            else if (rp->result == RpFilterResult::unknown) rp->explanation = "dropped: " + rp->explanation;
            rp->result = RpFilterResult::fail;
            break;
        }
    }
    s.linker.forget(e.tl.id); // a dropped packet carries nothing through the tunnel
    s.complete(e, Outcome::dropped);
}

void TimelineBuilder::add(const DeviceEvent& ev) {
    State& s = *state_;
    bool in = ev.direction == DeviceEvent::Direction::ingress;
    // Received a second time with the same id: the kernel's WireGuard decrypts in place and hands the same
    // buffer back in through its device. The first life (the outer packet) was delivered; this is a new packet.
    if (auto it = s.open.find(ev.pkt.id); in && it != s.open.end()) {
        Entry& first = s.entries.at(it->second);
        const std::string dev_in = s.link_name(ev.netns, ev.ifindex);
        // Back in through a WireGuard interface: the kernel decrypted this buffer in place, so the datagram
        // (WireGuard's UDP message) was reassembled in it and delivered to WireGuard.
        // (Not a buffer the device made just now: wireguard-go's TUN device, whose new buffer may sit where the
        // datagram's last fragment was.)
        if (!ev.new_buffer && first.tl.pkt.is_fragment() && first.tl.pkt.proto == 17 && arrival_seen(first.tl) &&
            s.wireguard_interface(ev.netns, dev_in)) {
            first.reassembled_here = true;
            first.tl.notes.push_back("reassembled in this buffer: the whole datagram went on in it to WireGuard (it "
                                     "came back decrypted through " +
                                     dev_in + ")");
            s.put_bounded(s.reassembled_in, fragment_key(first.tl.netns, first.tl.pkt),
                          State::Reassembled{first.tl.id, ev.t_ns});
        }
        if (arrival_seen(first.tl)) s.complete(first, s.idle_outcome(first));
    }
    Entry& e = s.timeline_for(ev.pkt, ev.netns, ev.t_ns, ev.new_buffer);
    s.see_packet(e, ev.pkt);
    std::string dev = s.link_name(ev.netns, ev.ifindex);
    const WgInterface* wg = s.wireguard_interface(ev.netns, dev);
    uint64_t id = e.tl.id;
    // This crossing as a step, with the bytes captured there (--snaplen).
    auto step = [&] {
        return DeviceStep{ev.t_ns, in ? DeviceDirection::ingress : DeviceDirection::egress, dev, ev.bytes, ev.wire_len,
                          ev.netns};
    };

    if (in) {
        if (wg) s.look_for_outer(e, *wg, false, ev.t_ns, ev.pkt.len); // decrypted: came out of the tunnel
        s.add_step(e, step());
        if (!wg) s.look_for_wireguard(e, ev.pkt, false, ev.t_ns);
        return;
    }

    // A fragment first seen here, not into a WireGuard interface (whose buffers the kernel links by id): a new
    // buffer the kernel made, when the whole packet was followed or it is a later fragment (the first fragment may
    // be the original buffer, seen first here). No route, NAT or WireGuard message of its own.
    bool made_here = false; // a new buffer: no route decision, NAT or WireGuard message of its own
    if (ev.pkt.is_fragment() && e.tl.steps.empty() && !s.kernel_peers.contains(ev.pkt.id)) {
        Entry* freed = nullptr; // the original, when its own buffer did not leave (slow path)
        auto origin = s.fragment_origin(e, ev.t_ns, &freed);
        made_here = origin.has_value();
        if (wg) { // into the tunnel: WireGuard carries each fragment as a packet of its own
            if (origin) s.note_made_of(e, *origin, freed, dev);
        } else if (origin || ev.pkt.later_fragment) {
            s.add_step(e, step());
            s.fragment_made_here(e, origin, freed, dev);
            return;
        } else { // a first fragment first seen here: its original buffer (the fast path), the others' origin
            s.fragment_first_seen(e, ev.pkt, ev.t_ns);
        }
    }
    if (ev.pkt.more_fragments && !ev.pkt.later_fragment && e.pkt_seen && !e.tl.pkt.is_fragment()) {
        PacketInfo now = State::current_packet(e);
        if (same_datagram(now, ev.pkt) && ev.pkt.len < now.len) s.fragmented_in_place(e, ev.pkt, dev, ev.t_ns);
    }
    bool local = locally_generated(e);
    if (local && !made_here && !has_route(e.tl, RouteDirection::output))
        s.attach_pending_route(e, ev.pkt, std::nullopt, ev.tgid, ev.t_ns);
    if (!made_here) s.note_source_nat(e, ev.pkt);
    if (const RouteDecision* last = last_output_route(e.tl);
        last && last->result == LookupResult::hit && !last->result_oif.empty() && last->result_oif != dev &&
        (!last->route_type || last->route_type == RouteType::unicast))
        e.tl.gaps.push_back("left on " + dev + ", but its last route decision seen sent it to " + last->result_oif +
                            ": a later re-route was not seen (events lost, or a change wgbpf does not observe)");
    s.add_step(e, step());
    if (wg) {
        s.look_for_outer(e, *wg, true, ev.t_ns, ev.pkt.len);
        if (Entry* still = s.find(id)) {
            s.in_tunnel_device[ev.pkt.id] = {id, ev.t_ns};
            s.complete(*still, Outcome::encapsulated);
        }
        return;
    }
    if (local) s.look_for_wireguard(e, ev.pkt, true, ev.t_ns);
    Entry* still = s.find(id);
    if (!still) return;
    if (!local && !forwarding_seen(still->tl)) {
        still->tl.gaps.push_back("left on " + dev +
                                 ", but neither its sending nor its forwarding was seen (events lost?)");
        s.complete(*still, Outcome::unknown);
        return;
    }
    if (!local && !arrival_seen(still->tl))
        still->tl.gaps.push_back("its arrival was not seen: it matched what wgbpf watches only from its first step "
                                 "here on (e.g. after address translation)");
    s.remember_left(*still, ev.t_ns);
    s.complete(*still, local ? Outcome::sent : Outcome::forwarded);
}

void TimelineBuilder::add(const WireguardKernelEvent& ev) {
    State& s = *state_;
    std::string key = ev.found ? key_to_base64(ev.peer_key.data()) : std::string();
    s.latest_ns = std::max(s.latest_ns, ev.t_ns);
    if (ev.action == WgKernelAction::decrypt) s.decrypted.erase(ev.pkt.id); // it reached the allowed-IPs check
    if (ev.action == WgKernelAction::receive && ev.verdict == WgVerdict::ok) {
        if (s.decrypted.size() >= s.limits.max_open) s.decrypted.clear(); // never claimed: the safe side
        if (const auto* outer = s.newest_for_packet(ev.pkt.id))
            s.decrypted[ev.pkt.id] = {ev.t_ns, outer->tl.id, s.link_name(ev.netns, ev.ifindex)};
    }
    if (ev.action == WgKernelAction::encrypt && ev.verdict == WgVerdict::no_session) { // queued, not dropped
        s.remember_kernel_peer(ev.pkt.id, {key, ev.netns, s.link_name(ev.netns, ev.ifindex), true, ev.queued, true});
        return;
    }
    if (ev.action != WgKernelAction::handshake && ev.action != WgKernelAction::purge && ev.verdict == WgVerdict::ok) {
        if (ev.found)
            s.remember_kernel_peer(ev.pkt.id,
                                   {key, ev.netns, s.link_name(ev.netns, ev.ifindex), false, 0, ev.session_checked});
        return;
    }
    std::string dev = s.link_name(ev.netns, ev.ifindex);
    if (ev.action == WgKernelAction::purge) {
        s.staged_queue_purged(ev, dev, key);
        return;
    }
    if (ev.action == WgKernelAction::handshake || ev.action == WgKernelAction::receive) {
        s.handshake_verdict(ev, dev, key); // both judge a received outer packet
        return;
    }
    // A drop WireGuard decided on an inner packet: on its way out (the inner packet's timeline, held for its
    // link) or after decryption (the outer packet's, the same skb).
    Entry* e = s.newest_for_packet(ev.pkt.id);
    if (!e) return;
    WireguardStep step;
    step.t_ns = ev.t_ns;
    step.action = ev.action == WgKernelAction::encrypt ? WgAction::encrypt : WgAction::decrypt;
    step.direction = ev.action == WgKernelAction::encrypt ? WgDirection::out : WgDirection::in;
    step.interface = dev;
    step.peer = key;
    step.verdict = verdict_name(ev.verdict);
    step.dropped = s.kernel_drop_text(ev, dev, key);
    s.add_step(*e, std::move(step));
    s.end_by_wireguard(*e);
}

void TimelineBuilder::lost(ModuleId module, uint64_t count, uint64_t known_at_ns) {
    State& s = *state_;
    for (auto& [id, e] : s.entries) // open ones, and completed ones still waiting for their link
        e.tl.gaps.push_back(fmt::format("{} {} events lost here", count, name_of(module)));
    // A packet whose first events were lost shows up later: one first seen within a route decision's wait
    // of the loss may miss its beginning.
    s.loss_until_ns = s.latest_ns + s.limits.route_ns;
    // The count is read while events older than the loss may still wait in the ring buffer: their packets, not
    // open yet, may have lost later steps (a ring buffer is full exactly when its reader is behind).
    s.unread_until_ns = std::max(s.unread_until_ns, known_at_ns);
    s.loss_text = fmt::format("{} {} events lost", count, name_of(module));
}

void TimelineBuilder::flush(uint64_t now_ns) { state_->flush(now_ns); }

void TimelineBuilder::flush_all() { state_->flush(UINT64_MAX); }

uint64_t TimelineBuilder::evicted() const { return state_->evicted; }

uint64_t TimelineBuilder::unattached_routes() const { return state_->unattached; }

size_t TimelineBuilder::open() const { return state_->open.size(); }

} // namespace wgbpf
