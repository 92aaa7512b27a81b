#pragma once
// Classic BPF (libpcap's, for raw IP) translated into the eBPF that wgbpf writes over the placeholder of
// bpf/pcap.bpf.h: the window of the packet's first WGBPF_PCAP_WINDOW bytes from its network header in r1,
// the bytes of it captured in r2; the answer, one of WGBPF_PCAP_*, in r0. Loads past the captured bytes
// end the filter: no match when the packet is that short (as libpcap), else "undecided" (wgbpf does not
// see those bytes), never a guess. The semantics are libpcap's (bpf_filter.c): A and X are 32 bits,
// division by X == 0 does not match, shifts by 32 or more give 0.
#include <cstddef>

#include "common/result.hpp"
#include "filter/bpf_code.hpp"

namespace wgbpf {

// At most `slots` - 1 instructions: the code's end lands on the placeholder's next slot, still inside it.
Result<EbpfProgram> classic_to_ebpf(const ClassicProgram& program, size_t slots);

} // namespace wgbpf
