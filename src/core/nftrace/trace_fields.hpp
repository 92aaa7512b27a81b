#pragma once
// The `FIELD VALUE` runs nft prints after `packet:`, after a verdict or policy (`meta mark 0x...`) and on
// `conntrack:` lines: the ones that identify a packet or that wgbpf also measures are read, the rest
// (`ip dscp cs0`, `@th,64,96 0x...`, `tcp window 501`) are skipped.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.hpp"
#include "nftrace/trace_event.hpp"

namespace wgbpf {

struct NftraceFields {
    NftracePacket packet;
    bool any_packet_field = false; // at least one field of `packet` was present
    std::optional<uint32_t> mark;  // meta mark
    std::optional<uint32_t> ct_mark;
    std::string ct_state; // "new", "established", "established,related", ...
};

// An error names the first field whose value nft would never print ("ip saddr '10.0.0.300' is not an address").
Result<NftraceFields> parse_nftrace_fields(std::string_view text);

} // namespace wgbpf
