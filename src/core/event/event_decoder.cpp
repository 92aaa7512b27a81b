#include "event/event_decoder.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstddef>
#include <cstring>

#include "wgbpf/abi/events.h"

namespace wgbpf {
namespace {

enum class Reject { truncated, unknown_type, bad_version };

struct Rejection {
    Reject why;
    std::string text;
};
using Decoded = std::variant<Event, Rejection>;

Rejection reject(Reject why, std::string text) { return Rejection{why, std::move(text)}; }

template <typename Raw>
bool read_exact(std::span<const std::byte> record, Raw& out) {
    if (record.size() < sizeof(Raw)) return false;
    std::memcpy(&out, record.data(), sizeof(Raw)); // records are not guaranteed aligned in recordings
    return true;
}

// Every decoded event keeps when, where and in which namespace it happened (and the task, where it has one).
template <typename Event>
void take_header(const wgbpf_event_header& h, Event& e) {
    e.t_ns = h.t_ns;
    e.cpu = h.cpu;
    e.netns = h.netns;
    if constexpr (requires { e.tgid; }) e.tgid = h.tgid;
}

RouteLookup to_route_lookup(const wgbpf_route_lookup& r) {
    RouteLookup e;
    take_header(r.hdr, e);
    e.family = r.family == WGBPF_FAMILY_IPV6 ? Family::ipv6 : Family::ipv4;
    e.direction = r.direction == WGBPF_DIR_INPUT     ? RouteDirection::input
                  : r.direction == WGBPF_DIR_REVERSE ? RouteDirection::reverse
                                                     : RouteDirection::output;
    e.table = r.table;
    e.err = r.err;
    e.mark = r.mark;
    e.iif = r.iif;
    e.oif = r.oif;
    e.uid = r.uid;
    e.proto = r.proto;
    e.dscp = r.dscp;
    e.sport = r.sport;
    e.dport = r.dport;
    e.src = IpAddress::from_bytes(e.family, r.src);
    e.dst = IpAddress::from_bytes(e.family, r.dst);
    if (r.flags & WGBPF_LOOKUP_F_NH) e.nh_ifindex = static_cast<int>(r.nh_ifindex);
    if (r.flags & WGBPF_LOOKUP_F_GW) {
        // an IPv4 route may have an IPv6 gateway (RFC 5549): tell by the bytes beyond the first four
        bool v6 = e.family == Family::ipv6;
        for (int i = 4; i < 16 && !v6; ++i) v6 = r.gw[i] != 0;
        e.gateway = IpAddress::from_bytes(v6 ? Family::ipv6 : Family::ipv4, r.gw);
    }
    e.rx_packet = r.rx_packet;
    e.reroute = r.flags & WGBPF_LOOKUP_F_REROUTE;
    return e;
}

RuleResult to_rule_result(const wgbpf_rule_result& r) {
    RuleResult e;
    take_header(r.hdr, e);
    e.family = r.family == WGBPF_FAMILY_IPV6 ? Family::ipv6 : Family::ipv4;
    e.what = r.what == WGBPF_RULE_SUPPRESSED ? RuleResult::What::suppressed : RuleResult::What::decided;
    e.pref = r.pref;
    e.table = r.table;
    e.err = r.err;
    e.prefixlen = r.prefixlen;
    e.suppress_prefixlen = r.suppress_prefixlen;
    return e;
}

PacketInfo to_packet(const wgbpf_packet& p) {
    PacketInfo pkt;
    pkt.id = p.id;
    pkt.is_ip = p.family == WGBPF_FAMILY_IPV4 || p.family == WGBPF_FAMILY_IPV6;
    pkt.family = p.family == WGBPF_FAMILY_IPV6 ? Family::ipv6 : Family::ipv4;
    pkt.proto = p.proto;
    pkt.len = p.len;
    pkt.has_l4 = p.flags & WGBPF_PKT_F_L4;
    pkt.sport = p.sport;
    pkt.dport = p.dport;
    pkt.ip_id = p.ip_id;
    pkt.l3_len = p.l3_len;
    pkt.iif = p.iif;
    pkt.oif = p.oif;
    pkt.src = IpAddress::from_bytes(pkt.family, p.src);
    pkt.dst = IpAddress::from_bytes(pkt.family, p.dst);
    pkt.has_udp_payload = p.flags & WGBPF_PKT_F_PAYLOAD;
    if (pkt.has_udp_payload) std::memcpy(pkt.udp_payload.data(), p.udp_payload, sizeof p.udp_payload);
    pkt.dont_fragment = p.flags & WGBPF_PKT_F_DF;
    pkt.more_fragments = p.flags & WGBPF_PKT_F_MF;
    pkt.later_fragment = p.flags & WGBPF_PKT_F_LATER_FRAG;
    return pkt;
}

NfHook to_hook(uint8_t h) { return h <= 5 ? static_cast<NfHook>(h) : NfHook::prerouting; }

NfBracketEvent to_bracket(const wgbpf_nf_bracket& r) {
    NfBracketEvent e;
    take_header(r.hdr, e);
    e.pkt = to_packet(r.pkt);
    e.bracket = r.bracket;
    e.generation = r.generation;
    e.hook = to_hook(r.hook);
    e.pf = r.pf;
    e.ct_state = r.ct_state;
    e.mark = r.mark;
    e.ct_mark = r.ct_mark;
    return e;
}

NfChainEvent to_chain(const wgbpf_nf_chain& r) {
    NfChainEvent e;
    take_header(r.hdr, e);
    e.pkt = to_packet(r.pkt);
    e.table_handle = r.table_handle;
    e.chain_handle = r.chain_handle;
    e.hook = to_hook(r.hook);
    e.pf = r.pf;
    e.table_family = r.table_family;
    e.ct_state_before = r.ct_state_before;
    e.ct_state_after = r.ct_state_after;
    e.verdict = r.verdict;
    e.mark_before = r.mark_before;
    e.mark_after = r.mark_after;
    e.ct_mark_before = r.ct_mark_before;
    e.ct_mark_after = r.ct_mark_after;
    return e;
}

DropEvent to_drop(const wgbpf_drop& r) {
    DropEvent e;
    take_header(r.hdr, e);
    e.pkt = to_packet(r.pkt);
    e.location = r.location;
    e.reason = r.reason;
    return e;
}

DeviceEvent to_device(const wgbpf_device& r) {
    DeviceEvent e;
    take_header(r.hdr, e);
    e.pkt = to_packet(r.pkt);
    e.ifindex = r.ifindex;
    e.direction = r.direction == WGBPF_DEV_EGRESS ? DeviceEvent::Direction::egress : DeviceEvent::Direction::ingress;
    e.new_buffer = e.direction == DeviceEvent::Direction::ingress && (r.flags & WGBPF_DEV_F_NEW_BUFFER);
    return e;
}

DeviceEvent to_device_capture(const wgbpf_device_capture& r) {
    DeviceEvent e = to_device(r.dev);
    e.wire_len = r.orig_len;
    size_t n = std::min<size_t>(r.cap_len, sizeof r.bytes);
    e.bytes.assign(r.bytes, r.bytes + n);
    return e;
}

WireguardKernelEvent to_wireguard(const wgbpf_wireguard& r) {
    WireguardKernelEvent e;
    take_header(r.hdr, e);
    e.pkt = to_packet(r.pkt);
    e.ifindex = r.ifindex;
    e.action = r.action == WGBPF_WG_RECEIVE     ? WgKernelAction::receive
               : r.action == WGBPF_WG_HANDSHAKE ? WgKernelAction::handshake
               : r.action == WGBPF_WG_DECRYPT   ? WgKernelAction::decrypt
               : r.action == WGBPF_WG_PURGE     ? WgKernelAction::purge
                                                : WgKernelAction::encrypt;
    e.found = r.found != 0;
    e.message = r.message;
    switch (r.verdict) { // recordings of version 1 had zero padding here: ok
    case WGBPF_WGV_NO_PEER: e.verdict = WgVerdict::no_peer; break;
    case WGBPF_WGV_NO_ENDPOINT: e.verdict = WgVerdict::no_endpoint; break;
    case WGBPF_WGV_SRC_NOT_ALLOWED: e.verdict = WgVerdict::src_not_allowed; break;
    case WGBPF_WGV_BAD_MAC: e.verdict = WgVerdict::bad_mac; break;
    case WGBPF_WGV_RATELIMITED: e.verdict = WgVerdict::ratelimited; break;
    case WGBPF_WGV_COOKIE_SENT: e.verdict = WgVerdict::cookie_sent; break;
    case WGBPF_WGV_REJECTED: e.verdict = WgVerdict::rejected; break;
    case WGBPF_WGV_UNKNOWN_INDEX: e.verdict = WgVerdict::unknown_index; break;
    case WGBPF_WGV_UNKNOWN_KEY: e.verdict = WgVerdict::unknown_key; break;
    case WGBPF_WGV_INVALID: e.verdict = WgVerdict::invalid; break;
    case WGBPF_WGV_NO_SESSION: e.verdict = WgVerdict::no_session; break;
    case WGBPF_WGV_FLOOD: e.verdict = WgVerdict::flood; break;
    case WGBPF_WGV_TIMESTAMP: e.verdict = WgVerdict::timestamp_refused; break;
    case WGBPF_WGV_GAVE_UP: e.verdict = WgVerdict::gave_up; break;
    case WGBPF_WGV_PEER_REMOVED: e.verdict = WgVerdict::peer_removed; break;
    case WGBPF_WGV_DEVICE_DOWN: e.verdict = WgVerdict::device_down; break;
    default: e.verdict = WgVerdict::ok; break;
    }
    // Older probes said only "no peer found" for a failed send lookup.
    if (e.action == WgKernelAction::encrypt && !e.found && e.verdict == WgVerdict::ok) e.verdict = WgVerdict::no_peer;
    std::copy(std::begin(r.peer_key), std::end(r.peer_key), e.peer_key.begin());
    e.queued = r.queued;
    return e;
}

template <typename Raw, typename Convert>
Decoded decode_as(std::span<const std::byte> body, const wgbpf_event_header& h, const char* what, uint16_t version,
                  Convert convert) {
    if (h.size != sizeof(Raw))
        return reject(Reject::truncated, fmt::format("{} of {} bytes, expected {}", what, h.size, sizeof(Raw)));
    if (h.version != version)
        return reject(Reject::bad_version, fmt::format("{} version {} (expected {})", what, h.version, version));
    Raw raw;
    std::memcpy(&raw, body.data(), sizeof(Raw)); // records are not guaranteed aligned in recordings
    return Event{convert(raw)};
}

// Version 1 (recordings made before `queued`) is version 2's first 152 bytes.
Decoded decode_wireguard(std::span<const std::byte> body, const wgbpf_event_header& h) {
    constexpr size_t v1_size = offsetof(wgbpf_wireguard, queued);
    static_assert(v1_size == 152);
    if (h.version == 1 && h.size == v1_size) {
        wgbpf_wireguard raw{};
        std::memcpy(&raw, body.data(), v1_size);
        return Event{to_wireguard(raw)}; // no session check then
    }
    if (h.version != WGBPF_WIREGUARD_VERSION)
        return reject(Reject::bad_version,
                      fmt::format("wireguard version {} (expected 1 or {})", h.version, WGBPF_WIREGUARD_VERSION));
    if (h.size != sizeof(wgbpf_wireguard))
        return reject(Reject::truncated,
                      fmt::format("wireguard of {} bytes, expected {}", h.size, sizeof(wgbpf_wireguard)));
    wgbpf_wireguard raw;
    std::memcpy(&raw, body.data(), sizeof raw);
    WireguardKernelEvent e = to_wireguard(raw);
    e.session_checked = e.action == WgKernelAction::encrypt && raw.verdict != WGBPF_WGV_SESSION_UNSURE;
    return Event{e};
}

Decoded decode_record(std::span<const std::byte> record) {
    wgbpf_event_header h;
    if (!read_exact(record, h))
        return reject(Reject::truncated, fmt::format("{} bytes, shorter than a header", record.size()));
    if (h.size > record.size())
        return reject(Reject::truncated, fmt::format("header says {} bytes, have {}", h.size, record.size()));
    auto body = record.first(h.size);
    switch (h.type) {
    case WGBPF_EV_ROUTE_LOOKUP:
        return decode_as<wgbpf_route_lookup>(body, h, "route lookup", WGBPF_ROUTE_LOOKUP_VERSION, to_route_lookup);
    case WGBPF_EV_RULE_RESULT:
        return decode_as<wgbpf_rule_result>(body, h, "rule result", WGBPF_RULE_RESULT_VERSION, to_rule_result);
    case WGBPF_EV_NF_BRACKET:
        return decode_as<wgbpf_nf_bracket>(body, h, "netfilter bracket", WGBPF_NF_BRACKET_VERSION, to_bracket);
    case WGBPF_EV_NF_CHAIN:
        return decode_as<wgbpf_nf_chain>(body, h, "netfilter chain", WGBPF_NF_CHAIN_VERSION, to_chain);
    case WGBPF_EV_DROP: return decode_as<wgbpf_drop>(body, h, "drop", WGBPF_DROP_VERSION, to_drop);
    case WGBPF_EV_DEVICE: return decode_as<wgbpf_device>(body, h, "device", WGBPF_DEVICE_VERSION, to_device);
    case WGBPF_EV_DEVICE_CAPTURE:
        return decode_as<wgbpf_device_capture>(body, h, "device capture", WGBPF_DEVICE_CAPTURE_VERSION,
                                               to_device_capture);
    case WGBPF_EV_WIREGUARD: return decode_wireguard(body, h);
    default: return reject(Reject::unknown_type, fmt::format("unknown event type {}", h.type));
    }
}

} // namespace

Result<Event> decode_event(std::span<const std::byte> record) {
    Decoded d = decode_record(record);
    if (auto* e = std::get_if<Event>(&d)) return std::move(*e);
    return Error{std::get<Rejection>(d).text};
}

Result<Event> EventDecoder::decode(std::span<const std::byte> record) {
    Decoded d = decode_record(record);
    if (auto* e = std::get_if<Event>(&d)) {
        ++stats_.decoded;
        return std::move(*e);
    }
    const Rejection& r = std::get<Rejection>(d);
    switch (r.why) {
    case Reject::truncated: ++stats_.truncated; break;
    case Reject::unknown_type: ++stats_.unknown_type; break;
    case Reject::bad_version: ++stats_.bad_version; break;
    }
    return Error{r.text};
}

} // namespace wgbpf
