#pragma once
// UTF-8 from the kernel or a file is not guaranteed: formats that require it (Prometheus labels, pcapng strings)
// check each sequence before taking it.
#include <cstddef>
#include <string_view>

namespace wgbpf {

// The length of the well-formed UTF-8 sequence starting at `i` (1 for ASCII), or 0 when the bytes there are not one
// (a stray continuation byte, a truncated sequence, a lead byte UTF-8 never uses).
size_t utf8_sequence_at(std::string_view s, size_t i);

} // namespace wgbpf
