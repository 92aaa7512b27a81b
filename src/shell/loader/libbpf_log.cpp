#include "loader/libbpf_log.hpp"

#include <bpf/libbpf.h>
#include <spdlog/spdlog.h>

#include <cstdarg>
#include <cstdio>
#include <string>

namespace wgbpf {
namespace {

bool g_verbose = false;

int print_to_spdlog(enum libbpf_print_level level, const char* format, va_list args) {
    if (level == LIBBPF_DEBUG && !g_verbose) return 0;
    // The verifier log arrives as one message of any length: size it first.
    va_list copy;
    va_copy(copy, args);
    int n = vsnprintf(nullptr, 0, format, copy);
    va_end(copy);
    if (n <= 0) return 0;
    std::string line(static_cast<size_t>(n) + 1, '\0');
    vsnprintf(line.data(), line.size(), format, args);
    line.resize(n);
    while (!line.empty() && line.back() == '\n') line.pop_back();
    switch (level) {
    case LIBBPF_WARN: spdlog::debug("libbpf: {}", line); break; // failures are reported by the caller, with context
    case LIBBPF_INFO: spdlog::debug("libbpf: {}", line); break;
    case LIBBPF_DEBUG: spdlog::trace("libbpf: {}", line); break;
    }
    return 0;
}

} // namespace

void route_libbpf_log_to_spdlog(bool verbose) {
    g_verbose = verbose;
    libbpf_set_print(print_to_spdlog);
}

} // namespace wgbpf
