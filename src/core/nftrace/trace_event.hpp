#pragma once
// nftables tracing in one vocabulary, whether it comes from the text of `nft monitor trace` (a saved log)
// or from NFT_MSG_TRACE messages on NFNLGRP_NFTRACE (live): the same facts either way, so one matcher
// pairs them with wgbpf's packets.
#include <cstdint>
#include <optional>
#include <string>

#include "common/ip_address.hpp"
#include "event/packet_info.hpp"

namespace wgbpf {

// The packet as nftrace shows it: a `packet:` line, or the headers a trace message carries.
// Every field is optional because nft prints what it could decode and versions differ.
struct NftracePacket {
    std::string iif, oif;         // interface names
    std::optional<Family> family; // from "ip"/"ip6" fields or the network header
    std::optional<IpAddress> saddr, daddr;
    std::optional<uint16_t> ip_id;        // IPv4 only
    std::optional<uint16_t> length;       // IPv4 total length; IPv6 payload length + 40
    std::optional<uint8_t> l4proto;       // IPPROTO_*
    std::optional<uint16_t> sport, dport; // TCP/UDP
    std::optional<uint8_t> icmp_type, icmp_code;
    std::optional<uint16_t> icmp_id, icmp_sequence;
};

enum class NftraceKind : uint8_t {
    packet,  // "packet: ..." (text) - the first event of a trace in each chain
    rule,    // a rule matched: "rule ... (verdict X)"
    verdict, // NFT_TRACETYPE_RETURN: "verdict continue|return ..." at the end of a (non-base) chain
    policy,  // the base chain's policy applied: "policy accept|drop"
    unknown,
};

struct NftraceEvent {
    uint32_t trace_id = 0;
    std::string family; // table family: "ip" | "ip6" | "inet" | "bridge" | "arp" | "netdev"
    std::string table;
    std::string chain;
    NftraceKind kind = NftraceKind::unknown;
    std::optional<uint64_t> rule_handle; // netlink always has it for rules; text only with `nft -a monitor trace`
    std::string rule;                    // rule text (text: as printed; netlink: from the ruleset by handle)
    std::string verdict;             // "continue" | "accept" | "drop" | "return" | "jump CHAIN" | "goto CHAIN" | ...
    std::optional<uint32_t> mark;    // "meta mark 0x..." / NFTA_TRACE_MARK (only when non-zero)
    std::optional<uint32_t> ct_mark; // conntrack lines / NFTA_TRACE_CT_MARK (6.16+)
    std::string ct_state;            // "new" | "established" | ... when shown
    std::optional<NftracePacket> packet; // text: on `packet:` events; netlink: on every message with headers
    size_t line = 0;                     // text: first line of the event (1-based); 0 for netlink
    uint64_t t_ns = 0;                   // netlink: CLOCK_MONOTONIC arrival; text: 0 (nft prints no time)
};

// Whether nftrace's view of a packet and wgbpf's are the same packet: every field nftrace shows must
// agree with what wgbpf read (fields it does not show are not held against it). Interface names are
// not compared here (wgbpf keeps ifindexes); callers compare them when they can resolve names.
bool same_packet(const NftracePacket& traced, const PacketInfo& seen);

// What tells one packet from the next, for indexes of traces and steps: the destination with the IPv4 id (IPv6:
// the length). Whenever same_packet(traced, seen) holds and the traced packet has a key, the keys are equal; a
// traced packet without those fields has none (it must be looked at with every packet).
std::optional<uint64_t> packet_index_key(const NftracePacket& traced);
uint64_t packet_index_key(const PacketInfo& seen);

} // namespace wgbpf
