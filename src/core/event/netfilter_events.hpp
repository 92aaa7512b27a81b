#pragma once
// Decoded netfilter and drop events (wire layouts in abi/events.h).
#include <cstdint>
#include <vector>
#include <string_view>

#include "common/enum_names.hpp"

#include "event/packet_info.hpp"

namespace wgbpf {

// Numbered as the kernel's NF_INET_* hooks.
enum class NfHook : uint8_t { prerouting = 0, input = 1, forward = 2, output = 3, postrouting = 4, ingress = 5 };
std::string_view hook_name(NfHook h); // "prerouting", ...

// NFPROTO_* values used by the kernel for hook families and table families.
constexpr uint8_t kNfprotoInet = 1;
constexpr uint8_t kNfprotoIpv4 = 2;
constexpr uint8_t kNfprotoArp = 3;
constexpr uint8_t kNfprotoNetdev = 5;
constexpr uint8_t kNfprotoBridge = 7;
constexpr uint8_t kNfprotoIpv6 = 10;

// enum ip_conntrack_info, plus "no conntrack entry".
constexpr uint8_t kCtEstablished = 0;      // IP_CT_ESTABLISHED
constexpr uint8_t kCtEstablishedReply = 3; // IP_CT_ESTABLISHED_REPLY
constexpr uint8_t kCtNone = 0xff;
std::string_view ct_state_name(
    uint8_t ctinfo); // "established", "related", "new", "established reply", "related reply", "untracked", "none"

// One of wgbpf's bracket hooks fired (BPF netfilter link at a priority just before/after nft chains).
struct NfBracketEvent {
    uint64_t t_ns = 0;
    uint32_t cpu = 0;
    uint32_t netns = 0;
    PacketInfo pkt;
    uint32_t bracket = 0; // index into the BracketPlan of this generation
    uint32_t generation = 0;
    NfHook hook = NfHook::prerouting;
    uint8_t pf = kNfprotoIpv4;
    uint8_t ct_state = kCtNone;
    uint32_t mark = 0;
    uint32_t ct_mark = 0;
};

// One base chain run, observed exactly (fentry/fexit nft_do_chain).
struct NfChainEvent {
    uint64_t t_ns = 0;
    uint32_t cpu = 0;
    uint32_t netns = 0;
    PacketInfo pkt;
    uint64_t table_handle = 0;
    uint64_t chain_handle = 0;
    NfHook hook = NfHook::prerouting;
    uint8_t pf = kNfprotoIpv4;
    uint8_t table_family = kNfprotoIpv4;
    uint8_t ct_state_before = kCtNone;
    uint8_t ct_state_after = kCtNone;
    uint32_t verdict = 0; // raw return value of nft_do_chain
    uint32_t mark_before = 0;
    uint32_t mark_after = 0;
    uint32_t ct_mark_before = 0;
    uint32_t ct_mark_after = 0;
};

// A watched packet freed with a drop reason.
struct DropEvent {
    uint64_t t_ns = 0;
    uint32_t cpu = 0;
    uint32_t netns = 0;
    PacketInfo pkt;
    uint64_t location = 0; // kernel address: resolve to a symbol, never show it
    uint32_t reason = 0;   // enum skb_drop_reason value of the running kernel
};

// A watched packet received on a device or handed to one.
struct DeviceEvent {
    uint64_t t_ns = 0;
    uint32_t cpu = 0;
    uint32_t netns = 0;
    uint32_t tgid = 0;
    PacketInfo pkt;
    int ifindex = 0;
    enum class Direction : uint8_t { ingress = 0, egress = 1 } direction = Direction::ingress;
    // Received on a device that made the buffer just now (a NIC's driver, a TUN device's reader): a new packet,
    // whatever was seen before under its id (a packet freed without a traced free).
    bool new_buffer = false;
    // --snaplen: the packet's first bytes from its IP header, as tcpdump on this device would have captured them
    // (empty: none asked for, or none readable), and its IP length.
    std::vector<uint8_t> bytes;
    uint32_t wire_len = 0;
};

// What a netfilter chain decided. `unknown`: the packet was not seen after the chain.
enum class NfVerdict : uint8_t { unknown, drop, accept, stolen, queue, repeat, stop };
std::string_view name_of(NfVerdict v);

// From nft_do_chain's return value (since 6.7 a drop inside nft_do_chain returns (EPERM << 16) | NF_STOLEN).
NfVerdict nf_verdict_of(uint32_t verdict);

} // namespace wgbpf
