#pragma once
// tcpdump-syntax expressions (pcap-filter(7)) compiled by libpcap into classic BPF for raw IP packets
// (DLT_RAW): the programs see a packet from its network header, inner or outer alike.
#include <string>

#include "common/result.hpp"
#include "filter/bpf_code.hpp"

namespace wgbpf {

// libpcap's program for `expression`, optimized; its own message when it cannot compile it.
Result<ClassicProgram> compile_pcap_filter(const std::string& expression);

} // namespace wgbpf
