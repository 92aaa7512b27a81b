#include "wgbpf/event/event_decoder.hpp"

#include <fmt/format.h>

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

RouteLookup to_route_lookup(const wgbpf_route_lookup& r) {
    RouteLookup e;
    e.t_ns = r.hdr.t_ns;
    e.cpu = r.hdr.cpu;
    e.netns = r.hdr.netns;
    e.tgid = r.hdr.tgid;
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
    e.rx_seq = r.rx_seq;
    return e;
}

RuleResult to_rule_result(const wgbpf_rule_result& r) {
    RuleResult e;
    e.t_ns = r.hdr.t_ns;
    e.cpu = r.hdr.cpu;
    e.netns = r.hdr.netns;
    e.tgid = r.hdr.tgid;
    e.family = r.family == WGBPF_FAMILY_IPV6 ? Family::ipv6 : Family::ipv4;
    e.what = r.what == WGBPF_RULE_SUPPRESSED ? RuleResult::What::suppressed : RuleResult::What::decided;
    e.pref = r.pref;
    e.table = r.table;
    e.err = r.err;
    e.prefixlen = r.prefixlen;
    e.suppress_prefixlen = r.suppress_prefixlen;
    return e;
}

template <typename Raw, typename Convert>
Decoded decode_as(std::span<const std::byte> record, uint16_t version, uint16_t want_version,
                        Convert convert) {
    if (version != want_version) return reject(Reject::bad_version, fmt::format("version {} (expected {})", version, want_version));
    Raw raw;
    if (!read_exact(record, raw)) return reject(Reject::truncated, fmt::format("{} bytes, expected {}", record.size(), sizeof(Raw)));
    return Event{convert(raw)};
}

Decoded decode_record(std::span<const std::byte> record) {
    wgbpf_event_header h;
    if (!read_exact(record, h)) return reject(Reject::truncated, fmt::format("{} bytes, shorter than a header", record.size()));
    if (h.size > record.size()) return reject(Reject::truncated, fmt::format("header says {} bytes, have {}", h.size, record.size()));
    auto body = record.first(h.size);
    switch (h.type) {
    case WGBPF_EV_ROUTE_LOOKUP:
        if (h.size != sizeof(wgbpf_route_lookup)) return reject(Reject::truncated, fmt::format("route lookup of {} bytes", h.size));
        return decode_as<wgbpf_route_lookup>(body, h.version, 1, to_route_lookup);
    case WGBPF_EV_RULE_RESULT:
        if (h.size != sizeof(wgbpf_rule_result)) return reject(Reject::truncated, fmt::format("rule result of {} bytes", h.size));
        return decode_as<wgbpf_rule_result>(body, h.version, 1, to_rule_result);
    default:
        return reject(Reject::unknown_type, fmt::format("unknown event type {}", h.type));
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
