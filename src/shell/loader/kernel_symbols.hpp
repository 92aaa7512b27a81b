#pragma once
// Names for kernel addresses (drop locations) from /proc/kallsyms, read once. Addresses are only
// ever turned into "symbol+0xoffset", never shown: they would defeat KASLR for whoever reads the logs.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace wgbpf {

class KernelSymbols {
public:
    static KernelSymbols load();                                // empty when kallsyms hides addresses (not root)
    static KernelSymbols parse(std::string_view kallsyms_text); // pure, for tests
    std::string name(uint64_t address) const;                   // "nft_do_chain+0x3f2", or "unknown"
    size_t size() const { return symbols_.size(); }

private:
    struct Symbol {
        uint64_t address;
        std::string name;
    };
    std::vector<Symbol> symbols_; // sorted by address
};

} // namespace wgbpf
