#include "common/stderr_text.hpp"

#include <spdlog/spdlog.h>

#include <iostream>

namespace wgbpf {

namespace {
bool g_as_log = false;
}

void set_stderr_as_log(bool on) { g_as_log = on; }

void write_stderr_text(std::string_view text) {
    if (!g_as_log) {
        std::cerr << text;
        return;
    }
    while (!text.empty()) {
        const size_t end = text.find('\n');
        std::string_view line = text.substr(0, end);
        if (line.starts_with("wgbpf: ")) line.remove_prefix(7); // the logger names the program itself
        if (!line.empty()) spdlog::info("{}", line);
        if (end == std::string_view::npos) break;
        text.remove_prefix(end + 1);
    }
}

} // namespace wgbpf
