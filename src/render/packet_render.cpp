#include "wgbpf/render/packet_render.hpp"

#include <fmt/format.h>
#include <netinet/in.h>

#include <ctime>

namespace wgbpf {
namespace {

bool is_icmp(const PacketInfo& p) { return p.proto == IPPROTO_ICMP || p.proto == IPPROTO_ICMPV6; }

// ICMP type and code travel in dport (type << 8 | code), as in the kernel's flow keys.
uint8_t icmp_type(const PacketInfo& p) { return p.dport >> 8; }
uint8_t icmp_code(const PacketInfo& p) { return p.dport & 0xff; }

std::string endpoint(const IpAddress& a, uint16_t port, bool with_port) {
    if (!with_port) return a.to_string();
    return a.family == Family::ipv6 ? fmt::format("[{}]:{}", a.to_string(), port) : fmt::format("{}:{}", a.to_string(), port);
}

nlohmann::json link_json(int ifindex, const LinkName& link_name) {
    if (ifindex == 0) return nullptr;
    std::string name = link_name ? link_name(ifindex) : std::string();
    return name.empty() ? fmt::format("if{}", ifindex) : name; // "if7" as `ip link` names unknown peers
}

} // namespace

std::string icmp_type_text(uint8_t proto, uint8_t type, uint8_t code) {
    if (proto == IPPROTO_ICMP) {
        switch (type) {
        case 0: return "echo-reply";
        case 3: return fmt::format("destination-unreachable code {}", code);
        case 8: return "echo-request";
        case 11: return "time-exceeded";
        }
    } else {
        switch (type) {
        case 1: return fmt::format("destination-unreachable code {}", code);
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
    return s;
}

void add_packet_json(nlohmann::json& j, const PacketInfo& p, const LinkName& link_name) {
    if (p.is_ip) {
        j["src"] = p.src.to_string();
        j["dst"] = p.dst.to_string();
        j["proto"] = proto_name(p.proto, p.family);
        if (p.has_l4 && is_icmp(p)) {
            j["icmp_type"] = icmp_type(p);
            j["icmp_code"] = icmp_code(p);
        } else if (p.has_l4) {
            j["sport"] = p.sport;
            j["dport"] = p.dport;
        }
        j["len"] = p.len;
        if (p.family == Family::ipv4) j["ip_id"] = p.ip_id;
    } else {
        j["src"] = nullptr;
        j["dst"] = nullptr;
    }
    j["iif"] = link_json(p.iif, link_name);
    j["oif"] = link_json(p.oif, link_name);
    j["packet_id"] = fmt::format("{:016x}", p.id);
}

std::string event_clock_text(uint64_t t_ns, const TextStyle& style) {
    if (style.realtime_offset_ns == 0) return fmt::format("{:.6f}", t_ns / 1e9);
    int64_t wall = static_cast<int64_t>(t_ns) + style.realtime_offset_ns;
    time_t secs = wall / 1'000'000'000;
    tm local{};
    localtime_r(&secs, &local);
    return fmt::format("{:02}:{:02}:{:02}.{:06}", local.tm_hour, local.tm_min, local.tm_sec,
                       (wall % 1'000'000'000) / 1000);
}

} // namespace wgbpf
