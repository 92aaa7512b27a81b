#pragma once
// A small eBPF interpreter for the instructions classic_to_ebpf emits, so that the translation can be run
// against libpcap's own interpreter without a kernel. Memory is the window only: any other address fails.
#include <cstdint>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <vector>

#include "filter/bpf_code.hpp"
#include "wgbpf/abi/events.h"

namespace wgbpf::test {

// Whether every instruction is reached by some path from the first (the verifier refuses code that is not),
// with every jump inside the program or to its end.
inline bool all_reachable(const EbpfProgram& p) {
    std::vector<bool> seen(p.size() + 1, false);
    std::vector<size_t> todo{0};
    while (!todo.empty()) {
        size_t i = todo.back();
        todo.pop_back();
        if (i > p.size()) return false;
        if (i == p.size() || seen[i]) continue;
        seen[i] = true;
        const EbpfInsn& in = p[i];
        uint8_t cls = in.code & 7;
        if (cls == 0x05 || cls == 0x06) {
            long to = long(i) + 1 + in.off;
            if (to < 0) return false;
            todo.push_back(size_t(to));
            if ((in.code & 0xf0) != 0x00) todo.push_back(i + 1); // conditional: falls through too
        } else {
            todo.push_back(i + 1);
        }
    }
    for (size_t i = 0; i < p.size(); ++i)
        if (!seen[i]) return false;
    return true;
}

// Runs `p` with r1 = the window and r2 = `captured` until it reaches its end; r0.
inline uint64_t run_ebpf(const EbpfProgram& p, wgbpf_pcap_window& w, uint64_t captured) {
    uint64_t r[11] = {};
    r[0] = WGBPF_PCAP_MARKER;
    r[1] = reinterpret_cast<uint64_t>(&w);
    r[2] = captured;
    auto* base = reinterpret_cast<uint8_t*>(&w);
    auto at = [&](uint64_t address, size_t n) -> uint8_t* {
        if (address < r[1] || address + n > r[1] + sizeof(w)) throw std::runtime_error("access outside the window");
        return base + (address - r[1]);
    };
    size_t pc = 0, steps = 0;
    while (pc < p.size()) {
        if (++steps > 100000) throw std::runtime_error("no end");
        const EbpfInsn& in = p[pc++];
        uint8_t cls = in.code & 7, op = in.code & 0xf0, dst = in.dst(), src = in.src();
        bool x = in.code & 0x08;
        if (cls == 0x04 || cls == 0x07) { // ALU, ALU64
            bool wide = cls == 0x07;
            if (op == 0xd0) { // END
                uint64_t v = r[dst];
                if (in.imm == 16) v = uint16_t(((v & 0xff) << 8) | ((v >> 8) & 0xff));
                else if (in.imm == 32) v = __builtin_bswap32(uint32_t(v));
                else throw std::runtime_error("END width");
                r[dst] = v;
                continue;
            }
            uint64_t a = wide ? r[dst] : uint32_t(r[dst]);
            uint64_t b = x ? (wide ? r[src] : uint32_t(r[src])) : (wide ? uint64_t(int64_t(in.imm)) : uint32_t(in.imm));
            uint64_t v = 0;
            switch (op) {
            case 0x00: v = a + b; break;
            case 0x10: v = a - b; break;
            case 0x20: v = a * b; break;
            case 0x30: v = b ? a / b : 0; break;
            case 0x40: v = a | b; break;
            case 0x50: v = a & b; break;
            case 0x60: v = a << (b & (wide ? 63 : 31)); break;
            case 0x70: v = a >> (b & (wide ? 63 : 31)); break;
            case 0x80: v = -a; break;
            case 0x90: v = b ? a % b : a; break;
            case 0xa0: v = a ^ b; break;
            case 0xb0: v = b; break;
            default: throw std::runtime_error("ALU op");
            }
            r[dst] = wide ? v : uint32_t(v);
        } else if (cls == 0x01) { // LDX MEM
            size_t n = (in.code & 0x18) == 0x00 ? 4 : (in.code & 0x18) == 0x08 ? 2 : (in.code & 0x18) == 0x10 ? 1 : 8;
            uint64_t v = 0;
            std::memcpy(&v, at(r[src] + in.off, n), n);
            r[dst] = v;
        } else if (cls == 0x02) { // ST MEM imm
            if ((in.code & 0x18) != 0x18) throw std::runtime_error("ST width");
            uint64_t v = uint64_t(int64_t(in.imm));
            std::memcpy(at(r[dst] + in.off, 8), &v, 8);
        } else if (cls == 0x03) { // STX MEM W
            if ((in.code & 0x18) != 0x00) throw std::runtime_error("STX width");
            uint32_t v = uint32_t(r[src]);
            std::memcpy(at(r[dst] + in.off, 4), &v, 4);
        } else if (cls == 0x05 || cls == 0x06) { // JMP, JMP32
            bool narrow = cls == 0x06;
            uint64_t a = narrow ? uint32_t(r[dst]) : r[dst];
            uint64_t b = x ? (narrow ? uint32_t(r[src]) : r[src])
                           : (narrow ? uint32_t(in.imm) : uint64_t(int64_t(in.imm)));
            bool take = false;
            switch (op) {
            case 0x00: take = true; break;
            case 0x10: take = a == b; break;
            case 0x20: take = a > b; break;
            case 0x30: take = a >= b; break;
            case 0x40: take = (a & b) != 0; break;
            case 0x50: take = a != b; break;
            case 0xa0: take = a < b; break;
            case 0xb0: take = a <= b; break;
            default: throw std::runtime_error("JMP op");
            }
            if (take) pc = size_t(long(pc) + in.off);
        } else {
            throw std::runtime_error("instruction class");
        }
        for (int reg = 6; reg <= 10; ++reg)
            if (reg != 10 && r[reg]) throw std::runtime_error("r6-r9 are the program's, not the filter's");
    }
    return r[0];
}

} // namespace wgbpf::test
