#pragma once
// The words of a timeline as types: how a packet's story ended, which way it crossed a device or
// WireGuard, what rp_filter decided. Strings only at the edges (text, JSON): name_of gives today's words.
#include <cstdint>
#include <string_view>

#include "common/enum_names.hpp"

namespace wgbpf {

enum class Outcome : uint8_t {
    unknown,
    sent,      // left this host on a device
    delivered, // to a local socket
    forwarded,
    dropped,
    encapsulated, // became a WireGuard outer packet (encapsulated_in)
    decapsulated, // an outer packet whose inner packet came out (outer_of)
    not_sent,     // a user-space WireGuard kept it (inferred)
    reassembled,  // a fragment whose datagram went on in another buffer (reassembled_into)
};
std::string_view name_of(Outcome o);

enum class DeviceDirection : uint8_t { ingress, egress };
std::string_view name_of(DeviceDirection d);

enum class WgAction : uint8_t { encrypt, decrypt, handshake_initiation, handshake_response, cookie_reply, keepalive };
std::string_view name_of(WgAction a);
bool is_handshake(WgAction a); // initiation or response

enum class WgDirection : uint8_t { out, in }; // out: sent by this host
std::string_view name_of(WgDirection d);

// How an inner packet and its outer packet were paired.
enum class WgLinkedBy : uint8_t {
    none,              // not linked
    skb,               // kernel WireGuard: the same buffer, exact
    peer_order_length, // user space: the peer, the order and the length
};
std::string_view name_of(WgLinkedBy l); // "" for none

enum class RpFilterMode : uint8_t { unknown, off, strict, loose }; // max(conf/all, conf/<iif>)
std::string_view name_of(RpFilterMode m);

enum class RpFilterResult : uint8_t { unknown, pass, fail };
std::string_view name_of(RpFilterResult r);

} // namespace wgbpf
