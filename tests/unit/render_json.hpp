#pragma once
// The renderers' JSON objects as values, for tests to look into (the output path writes them straight into
// its writer and never builds one).
#include <nlohmann/json.hpp>

#include "render/json_object.hpp"
#include "render/netfilter_render.hpp"
#include "render/route_render.hpp"
#include "render/timeline_render.hpp"

namespace wgbpf {

inline nlohmann::json route_to_json(const RouteDecision& d) {
    return nlohmann::json::parse(json_text([&](JsonWriter& w) { write_route_json(w, d); }));
}

inline nlohmann::json netfilter_to_json(const NetfilterStep& s, const LinkName& link_name = {}) {
    return nlohmann::json::parse(json_text([&](JsonWriter& w) { write_netfilter_json(w, s, link_name); }));
}

inline nlohmann::json drop_to_json(const DropStep& d, const LinkName& link_name = {}) {
    return nlohmann::json::parse(json_text([&](JsonWriter& w) { write_drop_json(w, d, link_name); }));
}

inline nlohmann::json timeline_to_json(const PacketTimeline& t, const LinkName& link_name = {}) {
    return nlohmann::json::parse(json_text([&](JsonWriter& w) { write_timeline_json(w, t, link_name); }));
}

} // namespace wgbpf
