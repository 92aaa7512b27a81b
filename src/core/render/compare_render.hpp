#pragma once
// `wgbpf compare` for people (per trace a header line, then one line per chain: both / only nftrace /
// only wgbpf / DISAGREE, with each side's verdict and mark) and for programs (one `"kind": "compare"`
// object per trace or unmatched wgbpf packet, then a `"kind": "summary"` line; docs/json-schema.md).
#include <nlohmann/json.hpp>

#include <string>

#include "nftrace/compare_stream.hpp"
#include "nftrace/trace_matcher.hpp"

namespace wgbpf {

// trace 6ca3695d (line 2) <-> #1 icmp 10.0.0.1 -> 198.51.100.9 echo-request
//    both          inet filter output             nftrace accept              wgbpf accept
//    only wgbpf    ip wg-quick-wg0 postmangle                                 wgbpf accept  mark 0xca6c  (#2)
//    note: nftrace lost the packet at WireGuard encapsulation; wgbpf follows it as outer packet #2
std::string render_compare_text(const Comparison& c);
// The same in pieces, for a comparison made as the input comes (CompareStream): each chunk's blocks, then the
// summary of the totals.
std::string render_compare_blocks_text(const Comparison& c);
std::string render_compare_summary_text(const CompareTotals& totals);

nlohmann::json compare_match_json(const TraceMatch& m);
nlohmann::json compare_summary_json(const Comparison& c);
nlohmann::json compare_totals_json(const CompareTotals& totals);
std::string render_compare_blocks_json(const Comparison& c);
std::string compare_json_line(const nlohmann::json& j); // one object, one line, U+FFFD for invalid bytes

// Every object, one per line, the summary last. Text from the trace file need not be UTF-8 (a comment in a
// rule): invalid bytes become U+FFFD rather than making the output fail.
std::string render_compare_json(const Comparison& c);

// The packet as nftrace printed it: "icmp 10.0.0.1 -> 9.9.9.9", "udp 192.168.178.48:51820 -> ...".
std::string nftrace_packet_text(const NftracePacket& p);

} // namespace wgbpf
