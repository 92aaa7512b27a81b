#pragma once
// The user's tcpdump-syntax expression, ready for the programs' placeholders: libpcap's classic BPF for raw IP
// (pcap_compile), translated to eBPF (classic_to_ebpf).
#include <string>
#include <vector>

#include "common/result.hpp"
#include "filter/bpf_code.hpp"

namespace wgbpf {

// The words after the options, joined as tcpdump joins them; blank: no expression.
std::string expression_of(const std::vector<std::string>& words);

// Empty code for a blank expression; libpcap's message, or why wgbpf cannot run it, when it cannot.
Result<EbpfProgram> compile_packet_filter(const std::string& expression);

} // namespace wgbpf
