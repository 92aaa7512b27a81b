#pragma once
// What every step line and object carries besides the step: when, and which packet. Shared by the
// step renderers (netfilter, drops, later timelines) so a packet reads the same everywhere.
#include <nlohmann/json.hpp>

#include <functional>
#include <string>

#include "wgbpf/event/packet_info.hpp"
#include "wgbpf/render/route_render.hpp"

namespace wgbpf {

using LinkName = std::function<std::string(int ifindex)>; // "" when unknown

// "udp 192.168.178.48:51820 -> 203.0.113.123:51820", "icmp 10.0.0.1 -> 198.51.100.9 echo-request"
std::string packet_text(const PacketInfo& p);

// "src", "dst", "proto", "sport"/"dport" or "icmp_type"/"icmp_code", "len", "ip_id" (IPv4), "iif", "oif",
// "packet_id" (16 hex digits: a keyed hash, as a string so no JSON reader rounds it).
void add_packet_json(nlohmann::json& j, const PacketInfo& p, const LinkName& link_name);

std::string icmp_type_text(uint8_t proto, uint8_t type, uint8_t code); // "echo-request", "type 5 code 1"

// Wall-clock time (style.realtime_offset_ns) or monotonic seconds, as route lines print it.
std::string event_clock_text(uint64_t t_ns, const TextStyle& style);

} // namespace wgbpf
