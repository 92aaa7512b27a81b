#pragma once
#include <functional>
// Route decisions for people (text) and for programs (JSON lines, docs/json-schema.md).
#include <nlohmann/json.hpp>
#include <string>

#include "render/json_object.hpp"
#include "route/route_decision.hpp"

namespace wgbpf {

struct TextStyle {
    bool colour = false;
    int64_t realtime_offset_ns = 0; // added to t_ns (monotonic) to print wall-clock time; 0 = print t_ns as seconds
    // A namespace's name by inode ("" or unset: the inode alone), shown when several are watched.
    std::function<std::string(uint32_t netns)> netns_name;
};

std::string render_route_text(const RouteDecision& d, const TextStyle& style);
void write_route_json(JsonWriter& w, const RouteDecision& d);

// "default via 192.168.178.1 dev c0": a route as ip-route prints it ("route" when the prefix is unknown).
std::string route_text(const std::optional<IpPrefix>& prefix, const std::optional<IpAddress>& gw,
                       const std::string& oif);

std::string proto_name(uint8_t proto, Family family); // "icmp", "udp", ..., or the number

} // namespace wgbpf
