#pragma once
// Kernel WireGuard's peer lookup for one packet (bpf/wireguard.bpf.c): the inner packet it is about to
// encrypt, or has just decrypted, and the peer cryptokey routing chose. The skb is encrypted and
// decrypted in place, so the packet id is the outer packet's too.
#include <array>
#include <cstdint>

#include "wgbpf/event/packet_info.hpp"

namespace wgbpf {

struct WireguardKernelEvent {
    uint64_t t_ns = 0;
    uint32_t cpu = 0;
    uint32_t netns = 0;
    uint32_t tgid = 0;
    PacketInfo pkt;                       // the inner (cleartext) packet
    int ifindex = 0;                      // the WireGuard device
    bool encrypt = true;                  // false: decrypted
    bool found = false;                   // false: no peer's allowed IPs cover the address (the kernel drops it)
    std::array<uint8_t, 32> peer_key{};   // the peer's public key, when found
};

} // namespace wgbpf
