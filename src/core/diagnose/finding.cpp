#include "diagnose/finding.hpp"

namespace wgbpf {

std::string_view finding_name(FindingKind k) {
    switch (k) {
    case FindingKind::endpoint_route_loop: return "endpoint_route_loop";
    case FindingKind::endpoint_unreachable: return "endpoint_unreachable";
    case FindingKind::rp_filter_drops_replies: return "rp_filter_drops_replies";
    case FindingKind::peer_without_allowed_ips: return "peer_without_allowed_ips";
    case FindingKind::allowed_ips_not_routed: return "allowed_ips_not_routed";
    case FindingKind::mtu_exceeds_path: return "mtu_exceeds_path";
    case FindingKind::source_not_allowed: return "source_not_allowed";
    case FindingKind::no_peer_for_destination: return "no_peer_for_destination";
    case FindingKind::peer_without_endpoint: return "peer_without_endpoint";
    case FindingKind::handshake_bad_mac: return "handshake_bad_mac";
    case FindingKind::handshake_rejected: return "handshake_rejected";
    case FindingKind::handshake_under_load: return "handshake_under_load";
    case FindingKind::unknown_session: return "unknown_session";
    case FindingKind::data_not_authentic: return "data_not_authentic";
    case FindingKind::data_not_delivered: return "data_not_delivered";
    case FindingKind::dropped_inside_wireguard: return "dropped_inside_wireguard";
    case FindingKind::queued_packets_dropped: return "queued_packets_dropped";
    case FindingKind::handshake_incomplete: return "handshake_incomplete";
    case FindingKind::outer_dropped_by_firewall: return "outer_dropped_by_firewall";
    case FindingKind::rp_filter_failed: return "rp_filter_failed";
    case FindingKind::forwarding_off: return "forwarding_off";
    case FindingKind::no_nat_to_uplink: return "no_nat_to_uplink";
    case FindingKind::outer_too_big: return "outer_too_big";
    case FindingKind::route_differs_from_prediction: return "route_differs_from_prediction";
    }
    return "unknown";
}

} // namespace wgbpf
