#pragma once
// One thing `wgbpf diagnose` found wrong: what, how sure, the evidence (packet ids, counts, the rule or
// setting involved) and the one change to make. Every kind is documented in docs/diagnose.md with the lab
// fault that produces it.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace wgbpf {

enum class FindingKind : uint8_t {
    // From the configuration alone.
    endpoint_route_loop,     // a peer's endpoint is routed into the WireGuard interface itself
    endpoint_unreachable,    // no route to a peer's endpoint
    rp_filter_drops_replies, // strict rp_filter, src_valid_mark=0: replies from the endpoint fail the check
    peer_without_allowed_ips,
    allowed_ips_not_routed, // a peer's allowed IPs are routed elsewhere than into the interface
    mtu_exceeds_path,       // WireGuard MTU + overhead > the endpoint route's device MTU
    // From the packets watched.
    source_not_allowed,       // decrypted, but its source is not in the sending peer's allowed IPs
    no_peer_for_destination,  // sent into the interface, no peer's allowed IPs hold the destination
    peer_without_endpoint,    // sent to a peer that has no endpoint
    handshake_bad_mac,        // a handshake made for another public key
    handshake_rejected,       // a handshake message WireGuard refused
    handshake_under_load,     // cookie replies or rate limiting
    unknown_session,          // data for a receiver index no session has (the other side restarted)
    data_not_authentic,       // data that did not decrypt: corrupted or forged on the way, or its keys expired
    data_not_delivered,       // decrypted, then dropped before the allowed-IPs check: replayed counter, malformed
                              // inner packet, or the peer's queue purged (inferred)
    dropped_inside_wireguard, // user space: received, nothing came out of the tunnel (inferred)
    queued_packets_dropped,   // kernel: packets queued for a handshake dropped with the queue (gave up, peer
                              // removed, interface down)
    handshake_incomplete,     // initiations sent (or received), never answered
    outer_dropped_by_firewall,
    rp_filter_failed,
    forwarding_off,   // a packet from the tunnel to be forwarded, forwarding disabled
    no_nat_to_uplink, // peers' packets forwarded out with their private tunnel source, no reply (likely)
    outer_too_big,    // an outer packet larger than its device's MTU
    route_differs_from_prediction,
};

std::string_view finding_name(FindingKind k); // "endpoint_route_loop", ...

enum class Certainty : uint8_t {
    certain, // observed, or follows from the configuration as the kernel applies it
    likely,  // inferred: the most likely cause, said as such
};

struct Finding {
    FindingKind kind = FindingKind::endpoint_route_loop;
    Certainty certainty = Certainty::certain;
    bool note = false;                 // worth knowing, not a fault of the host (does not set exit code 5)
    std::string subject;               // the interface, and the peer or device it is about
    std::string interface;             // the WireGuard interface it is about ("" when none)
    std::string peer;                  // base64 public key of the peer it is about ("" when none)
    std::string summary;               // one line: what is wrong
    std::vector<std::string> evidence; // packet ids (#12), counts, the rule or setting involved
    std::string change;                // the one concrete change to make
    uint64_t count = 0;                // packets behind it (0: a configuration finding)
};

} // namespace wgbpf
