#include "wgbpf/event/packet_info.hpp"

namespace wgbpf {

uint16_t PacketInfo::udp_payload_len() const {
    if (!is_ip || proto != 17 || l3_len == 0) return 0;
    return len > l3_len + 8u ? static_cast<uint16_t>(len - l3_len - 8) : 0;
}

} // namespace wgbpf
