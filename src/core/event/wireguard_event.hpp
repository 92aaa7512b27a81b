#pragma once
// Kernel WireGuard's decisions on one packet (bpf/wireguard.bpf.c): the peer cryptokey routing chose for an
// inner packet it is about to encrypt or has just decrypted, and its verdicts on received handshake
// messages. The kernel frees what WireGuard rejects as consumed, with no drop reason: these events are the
// only exact record of those drops. The skb is encrypted and decrypted in place, so the packet id is the
// outer packet's too.
#include <array>
#include <cstdint>
#include <string_view>

#include "event/packet_info.hpp"

namespace wgbpf {

enum class WgKernelAction : uint8_t {
    encrypt,   // wg_xmit's peer lookup for an inner packet
    decrypt,   // the receive path's source check of a decrypted inner packet
    handshake, // a received handshake message (the outer packet) judged
    receive,   // a received data message (the outer packet) refused before decryption
    purge,     // the packets queued for a peer's handshake dropped (no packet: the peer and how many)
};

enum class WgVerdict : uint8_t {
    ok,
    no_peer,           // encrypt: no peer's allowed IPs hold the destination (-ENOKEY, ICMP unreachable)
    no_endpoint,       // encrypt: the peer has no endpoint (-EDESTADDRREQ, ICMP unreachable)
    src_not_allowed,   // decrypt: the source is not in the allowed IPs of the peer that sent it
    bad_mac,           // handshake: MAC1 invalid (made for another public key)
    ratelimited,       // handshake: under load, over the per-source rate limit
    cookie_sent,       // handshake: under load, no cookie: a cookie reply went back instead
    rejected,          // handshake: the Noise message was refused
    unknown_index,     // receive/response: no session (or waiting initiation) has its receiver index
    unknown_key,       // initiation: the sender's public key is not a peer
    invalid,           // receive: the data message did not decrypt (failed authentication, or expired keys)
    no_session,        // encrypt: the peer has no usable session: queued for a handshake (not a drop)
    flood,             // initiation: within 20 ms of the last one accepted from its peer
    timestamp_refused, // initiation from a known peer: timestamp not newer than the last accepted, or undecryptable
    gave_up,           // purge: the handshake did not complete after WireGuard's retries
    peer_removed,      // purge: the peer was removed (or its interface deleted)
    device_down,       // purge: the interface was brought down
};

struct WireguardKernelEvent {
    uint64_t t_ns = 0;
    uint32_t cpu = 0;
    uint32_t netns = 0; // the WireGuard device's (a handshake's packet may be in another)
    uint32_t tgid = 0;
    PacketInfo pkt;  // encrypt/decrypt: the inner packet; handshake: the outer packet
    int ifindex = 0; // the WireGuard device
    WgKernelAction action = WgKernelAction::encrypt;
    WgVerdict verdict = WgVerdict::ok;
    bool found = false;                 // a peer is named in peer_key
    uint8_t message = 0;                // handshake: 1 initiation, 2 response
    std::array<uint8_t, 32> peer_key{}; // the chosen peer; src_not_allowed: the sending peer
    uint32_t queued = 0;                // no_session: packets already queued for the peer; purge: packets dropped
    bool session_checked = false;       // encrypt: the probe checked the peer's session (record version 2)
};

} // namespace wgbpf

namespace wgbpf {
// "no_peer", "src_not_allowed", ... ("" for ok): the names JSON and recordings use.
std::string_view verdict_name(WgVerdict v);
} // namespace wgbpf
