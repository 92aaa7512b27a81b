#pragma once
// Raw ring-buffer records -> typed events. Pure: the same code decodes live streams and recordings.
// Anything whose type, version or size is not what this build knows is rejected and counted.
#include <cstddef>
#include <cstdint>
#include <span>
#include <variant>

#include "common/result.hpp"
#include "event/netfilter_events.hpp"
#include "event/route_lookup.hpp"
#include "event/wireguard_event.hpp"

namespace wgbpf {

using Event =
    std::variant<RouteLookup, RuleResult, NfBracketEvent, NfChainEvent, DropEvent, DeviceEvent, WireguardKernelEvent>;

struct DecodeStats {
    uint64_t decoded = 0;
    uint64_t truncated = 0; // shorter than its header says, or than the header itself
    uint64_t unknown_type = 0;
    uint64_t bad_version = 0;
    uint64_t rejected() const { return truncated + unknown_type + bad_version; }
};

Result<Event> decode_event(std::span<const std::byte> record);

// Decodes and counts.
class EventDecoder {
public:
    Result<Event> decode(std::span<const std::byte> record);
    const DecodeStats& stats() const { return stats_; }

private:
    DecodeStats stats_;
};

} // namespace wgbpf
