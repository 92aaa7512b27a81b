#include "loader/kernel_symbols.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <sstream>

namespace wgbpf {

KernelSymbols KernelSymbols::load() {
    std::ifstream in("/proc/kallsyms");
    std::stringstream text;
    text << in.rdbuf();
    return parse(text.str());
}

KernelSymbols KernelSymbols::parse(std::string_view text) {
    KernelSymbols ks;
    while (!text.empty()) {
        size_t eol = text.find('\n');
        std::string_view line = text.substr(0, eol);
        text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
        // "ffffffff81000000 T _text" or "... t name\t[module]"
        size_t sp1 = line.find(' ');
        if (sp1 == std::string_view::npos || sp1 + 3 > line.size()) continue;
        char type = line[sp1 + 1];
        if (type != 't' && type != 'T' && type != 'w' && type != 'W') continue; // code only
        uint64_t address = 0;
        auto [end, ec] = std::from_chars(line.data(), line.data() + sp1, address, 16);
        if (ec != std::errc() || address == 0) continue; // zeros: addresses hidden (kptr_restrict)
        std::string_view name = line.substr(sp1 + 3);
        name = name.substr(0, name.find_first_of("\t "));
        ks.symbols_.push_back({address, std::string(name)});
    }
    std::sort(ks.symbols_.begin(), ks.symbols_.end(),
              [](const Symbol& a, const Symbol& b) { return a.address < b.address; });
    return ks;
}

std::string KernelSymbols::name(uint64_t address) const {
    auto it = std::upper_bound(symbols_.begin(), symbols_.end(), address,
                               [](uint64_t a, const Symbol& s) { return a < s.address; });
    if (it == symbols_.begin()) return "unknown";
    --it;
    uint64_t offset = address - it->address;
    if (offset > 0x100000) return "unknown"; // past the last symbol of a region
    return fmt::format("{}+{:#x}", it->name, offset);
}

} // namespace wgbpf
