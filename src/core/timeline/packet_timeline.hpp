#pragma once
// One packet's story: every step the kernel took with it, in order, with the inner and outer packets of
// WireGuard linked both ways. The `--json` object of docs/json-schema.md ("timeline").
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "event/netfilter_events.hpp"
#include "event/packet_info.hpp"
#include "netfilter/netfilter_step.hpp"
#include "route/route_decision.hpp"
#include "timeline/timeline_vocabulary.hpp"

namespace wgbpf {

// The reverse-path check of a received packet, explained.
struct RpFilterStep {
    uint64_t t_ns = 0;
    RpFilterMode mode = RpFilterMode::unknown;
    RpFilterResult result = RpFilterResult::unknown;
    std::string iif;             // where the packet came in
    std::string reverse_oif;     // where the reverse route points
    uint32_t mark = 0;           // the mark the reverse lookup used
    bool src_valid_mark = false; // whether the packet's mark entered the lookup
    std::string explanation;     // one line a person can act on
    RouteDecision reverse;       // the reverse lookup itself
};

struct WireguardStep {
    uint64_t t_ns = 0;
    WgAction action = WgAction::encrypt;
    WgDirection direction = WgDirection::out;
    std::string interface;
    std::string peer;                     // base64 public key ("" when unknown)
    std::string endpoint;                 // "ip:port" of the remote end
    std::optional<uint32_t> sender_index; // handshake initiation and response
    std::optional<uint32_t> receiver_index;
    std::optional<uint64_t> counter;
    WgLinkedBy linked_by = WgLinkedBy::none; // how inner and outer were paired
    // WireGuard's own verdict: "" (none seen) | "accepted" (a handshake message) | a drop: "no_peer" |
    // "no_endpoint" | "src_not_allowed" | "bad_mac" | "ratelimited" | "cookie_sent" | "rejected" (kernel,
    // exact) | "not_sent" | "not_decrypted" (user space: inferred).
    std::string verdict;
    std::string dropped;   // why WireGuard dropped the packet, a sentence ("" when it did not)
    bool inferred = false; // the verdict is inferred from the configuration, not observed
    // Linked packets: each length against the MTU of the device it crossed (0: not known).
    uint16_t inner_len = 0;  // IP length of the inner packet
    uint32_t tunnel_mtu = 0; // the WireGuard interface's MTU
    uint16_t outer_len = 0;  // IP length of the outer packet
    uint32_t device_mtu = 0; // the MTU of the device the outer packet crossed
    std::string device;      // that device
};

struct DeviceStep {
    uint64_t t_ns = 0;
    DeviceDirection direction = DeviceDirection::ingress;
    std::string dev;
    // --snaplen: the packet's first bytes from its IP header on this device (empty: not captured), and its IP
    // length (--pcapng writes them).
    std::vector<uint8_t> bytes;
    uint32_t wire_len = 0;
    uint32_t netns = 0; // the device's namespace (0: the timeline's): a packet crosses veths between namespaces
};

using TimelineStep = std::variant<RouteDecision, NetfilterStep, DropStep, RpFilterStep, WireguardStep, DeviceStep>;

uint64_t step_time(const TimelineStep& s);

struct PacketTimeline;
// A received WireGuard message whose packet was dropped before WireGuard took it (an input chain, rp_filter, no
// socket): its step names the message, never something WireGuard did with it. Not an inner packet's copy of its
// outer packet's step (WireGuard took that one).
bool not_taken_by_wireguard(const WireguardStep& w, const PacketTimeline& t);
// ... a data message: never decrypted.
bool dropped_before_decryption(const WireguardStep& w, const PacketTimeline& t);

struct PacketTimeline {
    uint64_t id = 0;        // sequence number shown to people (#1, #2, ...), never a kernel address
    uint64_t packet_id = 0; // the keyed skb hash, for correlation with step objects
    uint32_t netns = 0;
    PacketInfo pkt;    // as first seen
    uint32_t mark = 0; // as last seen
    Outcome outcome = Outcome::unknown;
    bool outcome_inferred = false;           // the outcome is inferred from the configuration (a user-space WireGuard's
                                             // drops), not observed
    std::optional<uint64_t> encapsulated_in; // id of the outer packet
    std::optional<uint64_t> decapsulated_from; // id of the outer packet it came out of
    std::optional<uint64_t> outer_of;          // for an outer packet: the inner packet's id
    std::optional<uint64_t> reassembled_into;  // a fragment: the timeline that carried the reassembled packet on
    std::vector<TimelineStep> steps;           // in time order
    std::vector<std::string> gaps;             // "12 route events lost around here", "evicted before completion"
    std::vector<std::string> notes;            // what wgbpf cannot know about the outcome, said as such
};

} // namespace wgbpf
