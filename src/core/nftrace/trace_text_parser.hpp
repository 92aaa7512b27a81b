#pragma once
// Saved `nft monitor trace` text (nft 0.9 to 1.1) read into NftraceEvents, grouped by trace id. Accepts what
// people paste: lines wrapped by a terminal or an article (indented continuations), prompts and prose around
// the trace (counted, ignored), a line nft itself never printed (a warning with its line number, skipped).
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <istream>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"
#include "nftrace/trace_event.hpp"
#include "nftrace/trace_fields.hpp"

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

// Reading a trace as it comes (`nft monitor trace | wgbpf compare`, or a file of any size): memory stays
// bounded. nft prints no times, so how long a trace stays open is counted in `trace id` lines.
struct NftraceStreamLimits {
    size_t idle_records = 4096;  // a trace with no event for this many `trace id` lines is complete
    size_t max_open = 16384;     // more traces open at once: the oldest is taken as complete
    size_t max_events = 1024;    // events kept per trace (a loop of jumps cannot grow one forever)
    size_t max_line = 64 * 1024; // longer lines are cut: nft never prints such
    size_t max_warnings = 100;   // kept; all are counted
};

struct NftraceTextStats {
    size_t lines = 0, ignored_lines = 0, trace_lines = 0, traces = 0;
    std::vector<std::string> warnings; // the first ones
    size_t warning_count = 0;
};

class NftraceTextStream {
public:
    using Sink = std::function<void(NftraceTrace&&)>; // each trace once complete, in order of its first line
    NftraceTextStream(Sink sink, std::string source, NftraceStreamLimits limits = {});
    ~NftraceTextStream();
    void feed(std::string_view text); // any piece of the text: lines may be split between calls
    // End of input: every trace goes out. An error when nothing could be read (as parse_nftrace_text).
    [[nodiscard]] Result<void> finish();
    const NftraceTextStats& stats() const { return stats_; }

private:
    struct Open;
    void line(std::string_view line);
    void end_record();
    void release(bool all);
    void warn(std::string text);
    static bool restarts(const NftraceTrace& t, const NftraceEvent& e);

    Sink sink_;
    std::string source_;
    NftraceStreamLimits limits_;
    NftraceTextStats stats_;
    std::string partial_; // a line not ended yet
    bool overlong_ = false;
    std::optional<std::string> record_; // the `trace id` line being read, with its continuations
    size_t record_line_ = 0;
    size_t records_ = 0;
    std::deque<Open> order_;                       // open traces, oldest first (pointers to them stay valid)
    std::map<uint32_t, Open*> open_;               // trace id -> its latest trace
    std::map<uint32_t, NftraceFields> pending_ct_; // conntrack lines waiting for their packet line
};

// An error only when nothing could be read: no `trace id` line at all, or none of them understood.
// `source` names the input in messages ("trace.txt", "stdin").
Result<NftraceLog> parse_nftrace_text(std::string_view text, std::string_view source);
Result<NftraceLog> parse_nftrace_text(std::istream& in, std::string_view source);

} // namespace wgbpf
