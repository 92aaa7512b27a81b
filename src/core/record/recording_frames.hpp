#pragma once
// What the JSON frames of a recording say (docs/recording-format.md), and their encoding. Decoding never
// throws: a payload that is not what its kind promises is an error naming the field.
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "config/netns_config.hpp"
#include "netfilter/bracket_plan.hpp"
#include "nftrace/trace_event.hpp"
#include "event/module_status.hpp"
#include "wireguard/wg_config.hpp"

namespace wgbpf {

// The first frame: enough to tell what a recording is and to print times as the recording host saw them.
struct RecordingHeader {
    std::string wgbpf_version; // of the wgbpf that recorded
    int64_t created_unix_s = 0;
    std::string kernel_release; // uname -r of the recording host
    std::vector<std::string> command_line;
    int64_t realtime_offset_ns = 0; // CLOCK_REALTIME - CLOCK_MONOTONIC there: event times -> wall clock
    uint32_t snaplen = 0;           // --snaplen: packet bytes captured per device crossing (0: none, or not said)

    // This process on this host, now.
    static RecordingHeader for_this_process(std::vector<std::string> command_line);
};

struct ConfigSnapshot {
    uint32_t netns = 0; // inode; config.netns_inode is the same
    NetnsConfig config;
    std::vector<WgInterface> wireguard;
    std::string name; // as the user named the namespace; written only when several were watched
    // Set: config.routes is not in the frame; these changes apply to the namespace's previous routes.
    std::optional<RouteChanges> route_changes;
};

struct PlanSnapshot {
    uint32_t netns = 0;
    BracketPlan plan;
};

// Names frames add to what earlier ones said (a later name for the same number wins).
struct RecordingNames {
    std::map<uint32_t, std::string> drop_reasons; // enum skb_drop_reason value -> name, of the recording kernel
    std::map<uint32_t, std::string> symbols;      // index (in rewritten drop records) -> "symbol+0xoff"
};

struct LostEvents {
    ModuleId module = ModuleId::route;
    uint64_t count = 0;
    // When the kernel's counter was read (bpf_ktime_get_ns's clock): every one of them was lost before then. 0:
    // not recorded (older recordings).
    uint64_t known_at_ns = 0;
};

struct RecordingEnd {
    double seconds = 0;
    uint64_t events = 0;               // event frames written
    uint64_t unrecordable = 0;         // records left out (layouts this build cannot make address-free)
    std::vector<ModuleStatus> modules; // as watch's summary shows them, with events and lost per module
};

std::string encode_frame(const RecordingHeader& h);
std::string encode_frame(const ConfigSnapshot& c);
// `c` with its routes given as `route_changes` (when not null) instead of c.config.routes: no copy of the rest.
std::string encode_config_frame(const ConfigSnapshot& c, const RouteChanges* route_changes);
std::string encode_frame(const PlanSnapshot& p);
std::string encode_frame(const RecordingNames& n);
std::string encode_frame(const LostEvents& l);
std::string encode_frame(const RecordingEnd& e);
std::string encode_frame(const NftraceEvent& e); // one nftrace event, names and rule text resolved

Result<RecordingHeader> decode_header_frame(std::span<const std::byte> payload);
Result<ConfigSnapshot> decode_config_frame(std::span<const std::byte> payload);
Result<PlanSnapshot> decode_plan_frame(std::span<const std::byte> payload);
Result<RecordingNames> decode_names_frame(std::span<const std::byte> payload);
Result<LostEvents> decode_lost_frame(std::span<const std::byte> payload);
Result<RecordingEnd> decode_end_frame(std::span<const std::byte> payload);
Result<NftraceEvent> decode_nftrace_frame(std::span<const std::byte> payload);

} // namespace wgbpf
