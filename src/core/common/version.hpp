#pragma once
// wgbpf's version, from the project's CMake version.
#include <string_view>

namespace wgbpf {

std::string_view wgbpf_version();

} // namespace wgbpf
