#pragma once
// Where everything wgbpf shows goes: text for people (default) or JSON lines, on stdout.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <iosfwd>
#include <vector>

#include "wgbpf/netfilter/netfilter_step.hpp"
#include "wgbpf/probe/module_status.hpp"
#include "wgbpf/render/json_object.hpp"
#include "wgbpf/render/packet_render.hpp"
#include "wgbpf/render/route_render.hpp"
#include "wgbpf/route/route_decision.hpp"
#include "wgbpf/timeline/packet_timeline.hpp"

namespace wgbpf {

class OutputWriter {
public:
    OutputWriter(std::ostream& out, bool json, TextStyle style, LinkName link_name);

    void route(const RouteDecision& d);
    void netfilter(const NetfilterStep& s);
    void drop(const DropStep& d);
    void timeline(const PacketTimeline& t);
    uint64_t records() const { return records_; }

    // Everything is attached: from here on nothing is missed. With --json also a `"kind": "ready"` line,
    // so that scripts start their traffic after it.
    void ready(const std::vector<ModuleStatus>& modules, uint32_t netns);

    // The exit summary: text on stderr always; with --json also the last stdout line.
    void summary(const std::vector<ModuleStatus>& modules, uint64_t decoder_rejected, double seconds);

private:
    // A JSON line: written into the one buffer every line reuses, then out with its newline.
    JsonWriter& line();
    void end_line();
    void write(const nlohmann::json& j); // ready and summary lines (once per run)

    std::ostream& out_;
    bool json_;
    TextStyle style_;
    LinkName link_name_;
    uint64_t records_ = 0;
    rapidjson::StringBuffer buffer_;
    JsonWriter writer_;
};

} // namespace wgbpf
