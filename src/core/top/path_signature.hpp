#pragma once
// The path a packet took, without what differs from one packet of that path to the next (addresses,
// ports, times, ids): the routing decisions, each chain's verdict and the marks it set, address
// translation, rp_filter's result, WireGuard's action and peer, the devices crossed, the drop and the
// outcome. Packets with equal signatures took the same path: `wgbpf top` counts them together.
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "event/netfilter_events.hpp"
#include "common/ip_address.hpp"
#include "config/netns_config.hpp"
#include "event/route_lookup.hpp"
#include "route/route_decision.hpp"
#include "timeline/timeline_vocabulary.hpp"

namespace wgbpf {

struct PacketTimeline;

struct RouteHop {
    RouteDirection direction = RouteDirection::output;
    bool reroute = false;
    std::optional<uint32_t> rule; // deciding pref (absent: fast path or not known)
    std::optional<uint32_t> table;
    std::string table_name;
    LookupResult result = LookupResult::none;
    std::optional<RouteType> route_type; // local, broadcast, ... (when known)
    std::optional<IpAddress> gateway;
    std::string oif;
    bool complete = true; // false: the rule walk was not seen to its end
    auto operator<=>(const RouteHop&) const = default;
};

// A packet this host sent with no route lookup seen for it: a cached route (a connected socket, WireGuard's
// per-peer cache) or lost route events; which of the two is not known.
struct RouteNotSeenHop {
    auto operator<=>(const RouteNotSeenHop&) const = default;
};

struct ChainHop {
    NfHook hook = NfHook::prerouting;
    std::string chain; // "family table chain", or what the step knew of it
    NfVerdict verdict = NfVerdict::unknown;
    std::optional<uint32_t> mark_set; // the packet mark the chain left, when it changed it
    std::optional<uint32_t> ct_mark_set;
    auto operator<=>(const ChainHop&) const = default;
};

// An address rewritten (a port alone is not: it differs per connection), seen where the next step saw it.
struct NatHop {
    bool source = false; // else the destination
    auto operator<=>(const NatHop&) const = default;
};

struct RpFilterHop {
    RpFilterResult result = RpFilterResult::unknown;
    auto operator<=>(const RpFilterHop&) const = default;
};

struct WireguardHop {
    WgAction action = WgAction::encrypt;
    WgDirection direction = WgDirection::out;
    std::string interface;
    std::string peer;    // base64 public key ("" when unknown)
    std::string verdict; // WireguardStep::verdict
    bool inferred = false;
    bool before_decryption = false; // a data message dropped before WireGuard took it: never decrypted
    auto operator<=>(const WireguardHop&) const = default;
};

struct DeviceHop {
    DeviceDirection direction = DeviceDirection::ingress;
    std::string dev;
    auto operator<=>(const DeviceHop&) const = default;
};

struct DropHop {
    std::string reason; // the kernel's drop reason ("" when it gave none)
    std::string chain;  // the netfilter chain that dropped it, when known
    auto operator<=>(const DropHop&) const = default;
};

using PathHop =
    std::variant<RouteHop, RouteNotSeenHop, ChainHop, NatHop, RpFilterHop, WireguardHop, DeviceHop, DropHop>;

struct PathSignature {
    uint32_t netns = 0;
    std::vector<PathHop> hops; // in time order
    Outcome outcome = Outcome::unknown;
    bool outcome_inferred = false;
    // The story has gaps (lost events, eviction, a buffer reused, a filter's doing): the path shown may lack
    // steps. A route not seen (RouteNotSeenHop) is a hop of its own, not a gap here.
    bool incomplete = false;
    auto operator<=>(const PathSignature&) const = default;

    bool dropped() const { return outcome == Outcome::dropped; }
    bool rp_filter_failed() const;
};

PathSignature path_of(const PacketTimeline& t);

// Roughly what a signature holds in memory (the table's ceiling counts it).
size_t approx_bytes(const PathSignature& p);

} // namespace wgbpf
