#include "event/packet_info.hpp"

namespace wgbpf {

uint16_t PacketInfo::udp_payload_len() const {
    if (!is_ip || proto != 17 || l3_len == 0) return 0;
    return len > l3_len + 8u ? static_cast<uint16_t>(len - l3_len - 8) : 0;
}

uint32_t PacketInfo::icmp_mtu() const {
    if (!is_ip || !has_l4 || !has_udp_payload) return 0;
    const auto& b = udp_payload; // from the ICMP header's fifth byte
    if (proto == 1 && dport == (3 << 8 | 4)) return uint32_t(b[2]) << 8 | b[3];
    if (proto == 58 && (dport >> 8) == 2)
        return uint32_t(b[0]) << 24 | uint32_t(b[1]) << 16 | uint32_t(b[2]) << 8 | b[3];
    return 0;
}

} // namespace wgbpf
