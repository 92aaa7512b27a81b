#pragma once
// The user's expression, translated to eBPF (src/core/filter), written over the placeholders that
// bpf/pcap.bpf.h compiles into every program that picks packets. Before load: the instruction count stays the
// same, so libbpf's relocations, line and function info still hold.
#include <bpf/libbpf.h>

#include "common/result.hpp"
#include "filter/bpf_code.hpp"

namespace wgbpf {

// Every placeholder of the object's programs; nothing for empty code. Fails when a placeholder is not the
// one this build expects (a stale object).
[[nodiscard]] Result<void> inject_packet_filter(bpf_object* object, const EbpfProgram& code);

} // namespace wgbpf
