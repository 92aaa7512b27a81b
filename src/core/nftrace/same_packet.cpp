#include "nftrace/trace_event.hpp"

namespace wgbpf {

namespace {
template <typename T, typename U>
bool agrees(const std::optional<T>& traced, U seen) {
    return !traced || *traced == seen;
}
bool is_icmp(uint8_t proto) { return proto == 1 || proto == 58; }
} // namespace

bool same_packet(const NftracePacket& t, const PacketInfo& p) {
    if (!p.is_ip) return false;
    if (t.family && *t.family != p.family) return false;
    if (!agrees(t.saddr, p.src) || !agrees(t.daddr, p.dst)) return false;
    if (p.family == Family::ipv4 && !agrees(t.ip_id, p.ip_id)) return false;
    if (!agrees(t.length, p.len) || !agrees(t.l4proto, p.proto)) return false;
    if (p.has_l4 && !is_icmp(p.proto)) {
        if (!agrees(t.sport, p.sport) || !agrees(t.dport, p.dport)) return false;
    }
    if (p.has_l4 && is_icmp(p.proto)) {
        if (!agrees(t.icmp_type, static_cast<uint8_t>(p.dport >> 8))) return false;
        if (!agrees(t.icmp_code, static_cast<uint8_t>(p.dport & 0xff))) return false;
    }
    return true;
}

namespace {
uint64_t index_key(const IpAddress& daddr, uint32_t which) {
    uint64_t h = 1469598103934665603ull; // FNV-1a
    for (uint8_t b : daddr.bytes) h = (h ^ b) * 1099511628211ull;
    return (h ^ which) * 1099511628211ull;
}
} // namespace

std::optional<uint64_t> packet_index_key(const NftracePacket& t) {
    if (!t.daddr) return std::nullopt;
    if (t.ip_id) return index_key(*t.daddr, *t.ip_id);
    if (t.family == Family::ipv6 && t.length) return index_key(*t.daddr, 0x10000u + *t.length);
    return std::nullopt;
}

uint64_t packet_index_key(const PacketInfo& p) {
    return index_key(p.dst, p.family == Family::ipv4 ? p.ip_id : 0x10000u + p.len);
}

} // namespace wgbpf
