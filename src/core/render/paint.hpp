#pragma once
// Terminal colour for the text renderers: on only when writing to a terminal (or asked).
#include <string>

namespace wgbpf::paint {

inline constexpr const char* reset = "\033[0m";
inline constexpr const char* bold = "\033[1m";
inline constexpr const char* dim = "\033[2m";
inline constexpr const char* green = "\033[32m";
inline constexpr const char* yellow = "\033[33m";
inline constexpr const char* red = "\033[31m";

struct Paint {
    bool on;
    std::string operator()(const char* code, const std::string& text) const {
        return on ? std::string(code) + text + reset : text;
    }
};

} // namespace wgbpf::paint
