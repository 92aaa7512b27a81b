#pragma once
// Packet timelines for people (a header line per packet, then one line per step, at the seed article's
// level of explanation) and for programs (one `"kind": "timeline"` object per packet, whose steps reuse
// the route, netfilter and drop objects; docs/json-schema.md).
#include <nlohmann/json.hpp>

#include <string>

#include "render/packet_render.hpp"
#include "render/route_render.hpp"
#include "timeline/packet_timeline.hpp"

namespace wgbpf {

// #1 icmp 10.0.0.1 -> 198.51.100.9 echo-request  netns 4026532247  => encapsulated in #2  at 19:41:07.112233
//    route    output: rule 0 local: miss; rule 32764 main: default via 192.168.178.1 dev c0 suppressed (...); ...
//    nf       output      inet filter output (prio 0): accept
//    dev      egress wg0
//    wg       encrypt -> peer IoYF4p... endpoint 203.0.113.123:51820, receiver 0x9b11b4, counter 2  => #2
std::string render_timeline_text(const PacketTimeline& t, const TextStyle& style);
void write_timeline_json(JsonWriter& w, const PacketTimeline& t, const LinkName& link_name = {});

// A route decision on one line: "output mark 0xca6c: rule 0 local: miss; rule 32765 skipped (...); ..."
std::string route_summary_text(const RouteDecision& d);

} // namespace wgbpf
