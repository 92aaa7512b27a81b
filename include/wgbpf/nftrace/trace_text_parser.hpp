#pragma once
// Saved `nft monitor trace` text (nft 0.9 to 1.1) read into NftraceEvents, grouped by trace id. Accepts what
// people paste: lines wrapped by a terminal or an article (indented continuations), prompts and prose around
// the trace (counted, ignored), a line nft itself never printed (a warning with its line number, skipped).
#include <cstddef>
#include <cstdint>
#include <istream>
#include <string>
#include <string_view>
#include <vector>

#include "wgbpf/common/result.hpp"
#include "wgbpf/nftrace/trace_event.hpp"

namespace wgbpf {

// One packet's trace: its events in order of appearance. The kernel reuses trace ids (another packet, another
// namespace), so a `packet:` event for a chain this trace already has starts a new trace with the same id.
struct NftraceTrace {
    uint32_t id = 0;
    std::vector<NftraceEvent> events;
};

struct NftraceLog {
    std::vector<NftraceTrace> traces;
    std::vector<std::string> warnings; // "line 12: ..." for `trace id` lines that were skipped
    size_t lines = 0;                  // physical lines read
    size_t ignored_lines = 0;          // blank lines and text that is not part of a trace
};

// An error only when nothing could be read: no `trace id` line at all, or none of them understood.
// `source` names the input in messages ("trace.txt", "stdin").
Result<NftraceLog> parse_nftrace_text(std::string_view text, std::string_view source);
Result<NftraceLog> parse_nftrace_text(std::istream& in, std::string_view source);

} // namespace wgbpf
