#pragma once
// `wgbpf compare --nftrace FILE RECORDING [--json]`: lines up a saved `nft monitor trace` with the packets of a
// recording made at the same time (`wgbpf watch -w RECORDING`). Without RECORDING it watches live while the
// trace text arrives on stdin (`nft monitor trace | wgbpf compare --nftrace -`), until stdin ends, Ctrl-C or
// --duration. Exit codes: 0 compared (disagreements are
// output, not failures); 1 the trace or the recording cannot be read, or the recording is cut short (after
// printing what was compared); 2 usage; 4 a file does not exist. Compared as both come, in a bounded window
// (nftrace/compare_stream.hpp): memory stays bounded whatever the input size.
#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "watch_command.hpp"
#include "nftrace/trace_text_parser.hpp"
#include "timeline/packet_timeline.hpp"

namespace wgbpf {

struct CompareOptions {
    std::string nftrace_path; // "-" = stdin
    std::string recording;    // "" = live: watch while `nft monitor trace` output arrives on stdin
    bool json = false;
    WatchOptions watch; // live: what to watch (namespace, interface, duration, --no-fexit)
};

int run_compare(const CompareOptions& options);

} // namespace wgbpf
