#pragma once
// Classic BPF (what libpcap compiles) and eBPF (what the kernel loads) instructions, as plain values: the
// core names neither libpcap's nor libbpf's `struct bpf_insn` (the two clash), only their layouts.
#include <cstdint>
#include <vector>

namespace wgbpf {

// libpcap's struct bpf_insn.
struct ClassicInsn {
    uint16_t code = 0;
    uint8_t jt = 0;
    uint8_t jf = 0;
    uint32_t k = 0;
    bool operator==(const ClassicInsn&) const = default;
};
using ClassicProgram = std::vector<ClassicInsn>;

// linux/bpf.h's struct bpf_insn: 8 bytes, registers in one byte (dst low nibble, src high).
struct EbpfInsn {
    uint8_t code = 0;
    uint8_t regs = 0;
    int16_t off = 0;
    int32_t imm = 0;
    uint8_t dst() const { return regs & 0xf; }
    uint8_t src() const { return regs >> 4; }
    bool operator==(const EbpfInsn&) const = default;
};
static_assert(sizeof(EbpfInsn) == 8, "struct bpf_insn layout");
using EbpfProgram = std::vector<EbpfInsn>;

} // namespace wgbpf
