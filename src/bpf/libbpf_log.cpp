#include "wgbpf/bpf/libbpf_log.hpp"

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
    char buf[1024];
    int n = vsnprintf(buf, sizeof buf, format, args);
    std::string line(buf, n > 0 ? std::min<size_t>(n, sizeof buf - 1) : 0);
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
