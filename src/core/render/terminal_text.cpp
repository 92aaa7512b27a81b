#include "render/terminal_text.hpp"

#include <fmt/format.h>

namespace wgbpf {
namespace {

// Length of an SGR sequence (ESC [ [0-9;]* m) starting at `at`, else 0.
size_t sgr_length(std::string_view s, size_t at) {
    if (at + 2 >= s.size() || s[at + 1] != '[') return 0;
    size_t i = at + 2;
    while (i < s.size() && ((s[i] >= '0' && s[i] <= '9') || s[i] == ';')) ++i;
    return i < s.size() && s[i] == 'm' ? i + 1 - at : 0;
}

} // namespace

std::string terminal_safe(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size(); ++i) {
        auto c = static_cast<unsigned char>(s[i]);
        if (c == '\x1b') {
            if (size_t n = sgr_length(s, i)) {
                out.append(s.substr(i, n));
                i += n - 1;
                continue;
            }
        }
        if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f) {
            out += fmt::format("\\x{:02x}", c);
        } else if (c == 0xc2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) >= 0x80 &&
                   static_cast<unsigned char>(s[i + 1]) <= 0x9f) {
            out += fmt::format("\\u00{:02x}", static_cast<unsigned char>(s[i + 1])); // a C1 control in UTF-8
            ++i;
        } else {
            out += static_cast<char>(c);
        }
    }
    return out;
}

std::string terminal_field(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size(); ++i) {
        auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x20 || c == 0x7f) out += fmt::format("\\x{:02x}", c);
        else out += static_cast<char>(c);
    }
    return terminal_safe(out); // C1 controls
}

} // namespace wgbpf
