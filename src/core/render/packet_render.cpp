#include "render/packet_render.hpp"

#include <fmt/format.h>
#include <netinet/in.h>

#include <cstdint>
#include <ctime>

namespace wgbpf {
namespace {

bool is_icmp(const PacketInfo& p) { return p.proto == IPPROTO_ICMP || p.proto == IPPROTO_ICMPV6; }

// ICMP type and code travel in dport (type << 8 | code), as in the kernel's flow keys.
uint8_t icmp_type(const PacketInfo& p) { return p.dport >> 8; }
uint8_t icmp_code(const PacketInfo& p) { return p.dport & 0xff; }

std::string endpoint(const IpAddress& a, uint16_t port, bool with_port) {
    if (!with_port) return a.to_string();
    return a.family == Family::ipv6 ? fmt::format("[{}]:{}", a.to_string(), port)
                                    : fmt::format("{}:{}", a.to_string(), port);
}

} // namespace

std::string icmp_type_text(uint8_t proto, uint8_t type, uint8_t code) {
    if (proto == IPPROTO_ICMP) {
        switch (type) {
        case 0: return "echo-reply";
        case 3:
            return code == 4 ? std::string("fragmentation-needed")
                             : fmt::format("destination-unreachable code {}", code);
        case 8: return "echo-request";
        case 11: return "time-exceeded";
        }
    } else {
        switch (type) {
        case 1: return fmt::format("destination-unreachable code {}", code);
        case 2: return "packet-too-big";
        case 3: return "time-exceeded";
        case 128: return "echo-request";
        case 129: return "echo-reply";
        case 135: return "neighbor-solicitation";
        case 136: return "neighbor-advertisement";
        }
    }
    return fmt::format("type {} code {}", type, code);
}

std::string packet_text(const PacketInfo& p) {
    if (!p.is_ip) return "not IP";
    bool ports = p.has_l4 && !is_icmp(p);
    std::string s = fmt::format("{} {} -> {}", proto_name(p.proto, p.family), endpoint(p.src, p.sport, ports),
                                endpoint(p.dst, p.dport, ports));
    if (p.has_l4 && is_icmp(p)) s += " " + icmp_type_text(p.proto, icmp_type(p), icmp_code(p));
    if (uint32_t mtu = p.icmp_mtu()) s += fmt::format(" mtu {}", mtu);
    if (p.is_fragment()) s += p.later_fragment ? " (later fragment)" : " (first fragment)";
    return s;
}

PacketJsonFields::PacketJsonFields(const PacketInfo& p, const LinkName& link_name) {
    auto add = [&](std::string_view key, JsonScalar::Type type, uint64_t number, std::string_view text) {
        fields_[size_++] = JsonScalar{key, type, number, text};
    };
    auto add_uint = [&](std::string_view key, uint64_t v) { add(key, JsonScalar::Type::uint, v, {}); };
    auto add_text = [&](std::string_view key, std::string_view v) { add(key, JsonScalar::Type::string, 0, v); };
    auto add_null = [&](std::string_view key) { add(key, JsonScalar::Type::null, 0, {}); };
    auto add_link = [&](std::string_view key, int ifindex, std::string& name) {
        if (ifindex == 0) return add_null(key);
        if (link_name) name = link_name(ifindex);
        if (name.empty()) name = fmt::format("if{}", ifindex); // "if7" as `ip link` names unknown peers
        add_text(key, name);
    };
    bool icmp = p.is_ip && p.has_l4 && is_icmp(p);
    bool ports = p.is_ip && p.has_l4 && !icmp;
    if (p.is_ip) {
        src_ = p.src.to_string();
        dst_ = p.dst.to_string();
        proto_ = proto_name(p.proto, p.family);
    }
    fmt::format_to_n(packet_id_, sizeof packet_id_, "{:016x}", p.id);

    // In key order.
    if (ports) add_uint("dport", p.dport);
    if (p.is_ip) add_text("dst", dst_);
    else add_null("dst");
    if (p.is_ip && p.is_fragment()) add_text("fragment", p.later_fragment ? "later" : "first");
    if (icmp) {
        add_uint("icmp_code", icmp_code(p));
        if (uint32_t mtu = p.icmp_mtu()) add_uint("icmp_mtu", mtu);
        add_uint("icmp_type", icmp_type(p));
    }
    add_link("iif", p.iif, iif_);
    if (p.is_ip && p.family == Family::ipv4) add_uint("ip_id", p.ip_id);
    if (p.is_ip) add_uint("len", p.len);
    add_link("oif", p.oif, oif_);
    add_text("packet_id", std::string_view(packet_id_, sizeof packet_id_));
    if (p.is_ip) add_text("proto", proto_);
    if (ports) add_uint("sport", p.sport);
    if (p.is_ip) add_text("src", src_);
    else add_null("src");
}

std::string event_clock_text(uint64_t t_ns, const TextStyle& style) {
    if (style.realtime_offset_ns == 0) return fmt::format("{:.6f}", t_ns / 1e9);
    // The offset comes from a recording: a crafted one must not overflow or print a negative time.
    int64_t wall = 0;
    if (t_ns > uint64_t(INT64_MAX) || __builtin_add_overflow(int64_t(t_ns), style.realtime_offset_ns, &wall) ||
        wall < 0)
        return fmt::format("{:.6f}", t_ns / 1e9);
    time_t secs = wall / 1'000'000'000;
    tm local{};
    localtime_r(&secs, &local);
    return fmt::format("{:02}:{:02}:{:02}.{:06}", local.tm_hour, local.tm_min, local.tm_sec,
                       (wall % 1'000'000'000) / 1000);
}

} // namespace wgbpf
