#include "common/version.hpp"

#ifndef WGBPF_VERSION
#error "WGBPF_VERSION is set by CMake"
#endif

namespace wgbpf {

std::string_view wgbpf_version() { return WGBPF_VERSION; }

} // namespace wgbpf
