#pragma once
// What every step line and object carries besides the step: when, and which packet. Shared by the
// step renderers (netfilter, drops, later timelines) so a packet reads the same everywhere.
#include <array>
#include <functional>
#include <span>
#include <string>

#include "event/packet_info.hpp"
#include "render/json_object.hpp"
#include "render/route_render.hpp"

namespace wgbpf {

using LinkName = std::function<std::string(int ifindex)>; // "" when unknown

// "udp 192.168.178.48:51820 -> 203.0.113.123:51820", "icmp 10.0.0.1 -> 198.51.100.9 echo-request"
std::string packet_text(const PacketInfo& p);

// A packet's fields in a step's object, for JsonObject::merge: "src", "dst", "proto", "sport"/"dport" or
// "icmp_type"/"icmp_code", "len", "ip_id" (IPv4), "iif", "oif", "packet_id" (16 hex digits: a keyed hash, as
// a string so no JSON reader rounds it). The fields point into it: it is neither copied nor moved.
class PacketJsonFields {
public:
    PacketJsonFields(const PacketInfo& p, const LinkName& link_name);
    PacketJsonFields(const PacketJsonFields&) = delete;
    PacketJsonFields& operator=(const PacketJsonFields&) = delete;
    std::span<const JsonScalar> fields() const { return {fields_.data(), size_}; } // in key order

private:
    std::string src_, dst_, proto_, iif_, oif_;
    char packet_id_[16];
    std::array<JsonScalar, 14> fields_;
    size_t size_ = 0;
};

std::string icmp_type_text(uint8_t proto, uint8_t type, uint8_t code); // "echo-request", "type 5 code 1"

// Wall-clock time (style.realtime_offset_ns) or monotonic seconds, as route lines print it.
std::string event_clock_text(uint64_t t_ns, const TextStyle& style);

} // namespace wgbpf
