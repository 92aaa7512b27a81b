#pragma once
// Where everything wgbpf shows goes: text for people (default) or JSON lines, on stdout.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "netfilter/netfilter_step.hpp"
#include "event/module_status.hpp"
#include "render/json_object.hpp"
#include "render/packet_render.hpp"
#include "render/route_render.hpp"
#include "route/route_decision.hpp"
#include "timeline/packet_timeline.hpp"

namespace wgbpf {

// Whether what was written reached its destination: a full disk or a closed descriptor is an error, a
// reader that went away (EPIPE, `| head`) is the end of the output.
enum class WriteState { ok, closed, failed };
struct WriteResult {
    WriteState state = WriteState::ok;
    std::string error; // strerror text when failed
    int err = 0;       // its errno
};
// Flushes `out` and says how it went.
[[nodiscard]] WriteResult flush_output(std::ostream& out);
// Whether the reader of `fd` (a pipe or socket) is gone, without writing to it.
[[nodiscard]] bool reader_gone(int fd);

// `watch --nftrace` at exit: how many trace events came and where they went, or why nftrace was off.
struct NftraceSummary {
    std::string off_reason; // "" when nftrace ran
    uint64_t received = 0;  // trace events of the user's chains
    uint64_t merged = 0;    // attached to netfilter steps
    uint64_t unmatched = 0; // no step took them (not watched by wgbpf, or lost there)
    uint64_t dropped = 0;   // of the unmatched: too many waiting at once
    uint64_t overruns = 0;  // the netlink socket overflowed this often (trace messages lost)
};

class OutputWriter {
public:
    // `link_name`: an interface's name in a namespace, by index.
    using NetnsLinkName = std::function<std::string(uint32_t netns, int ifindex)>;
    OutputWriter(std::ostream& out, bool json, TextStyle style, NetnsLinkName link_name);

    void route(const RouteDecision& d);
    void netfilter(const NetfilterStep& s);
    void drop(const DropStep& d);
    void timeline(const PacketTimeline& t);
    uint64_t records() const { return records_; }
    // A record that went to the caller instead of stdout (`top`, `compare`, `diagnose`): counted all the same.
    void handed_on() { ++records_; }
    // `--count N`: after N records the rest are not written (the watch stops at its next wake-up, and
    // what completes on the way out must not go past N either).
    void limit(uint64_t max_records) { max_records_ = max_records; }
    bool full() const { return records_ >= max_records_; }

    // Records are written without a flush each (a write(2) per record costs more than rendering it at
    // high rates): the watch loop flushes once per wake-up, so nothing waits longer than one poll.
    [[nodiscard]] WriteResult flush();

    // Everything is attached: from here on nothing is missed. With --json also a `"kind": "ready"` line,
    // so that scripts start their traffic after it.
    // `namespaces`: the watched ones, inode and name (the first is the JSON line's "netns").
    void ready(const std::vector<ModuleStatus>& modules,
               const std::vector<std::pair<uint32_t, std::string>>& namespaces);

    // The exit summary: text on stderr always; with --json also the last stdout line.
    // `lone_routes`: route decisions no packet took, not shown as timelines. `not_shown`: what was still in
    // flight when the watch was stopped and could not be shown in the time the way out is given.
    // `undecided`: with an expression, the times it could not decide on a packet (absent: no expression).
    void summary(const std::vector<ModuleStatus>& modules, uint64_t decoder_rejected, double seconds,
                 const std::optional<NftraceSummary>& nftrace = std::nullopt, uint64_t lone_routes = 0,
                 uint64_t not_shown = 0, std::optional<uint64_t> undecided = std::nullopt);

private:
    // A JSON line: written into the one buffer every line reuses, then out with its newline.
    JsonWriter& line();
    void end_line();
    void write(const nlohmann::json& j); // ready and summary lines (once per run)
    void note_failure();                 // keeps the errno of the first write that failed

    std::ostream& out_;
    bool json_;
    TextStyle style_;
    NetnsLinkName link_name_;
    LinkName in_netns(uint32_t netns) const;
    uint64_t records_ = 0;
    uint64_t max_records_ = UINT64_MAX;
    int first_errno_ = 0;
    rapidjson::StringBuffer buffer_;
    JsonWriter writer_;
};

} // namespace wgbpf
