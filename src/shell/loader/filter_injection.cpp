#include "loader/filter_injection.hpp"

#include <linux/bpf.h>

#include <fmt/format.h>

#include <cstring>
#include <vector>

#include "wgbpf/abi/events.h"

namespace wgbpf {
namespace {

bool is_marker(const bpf_insn& in) {
    return in.code == (BPF_ALU64 | BPF_MOV | BPF_K) && in.dst_reg == BPF_REG_0 && in.imm == WGBPF_PCAP_MARKER;
}

static_assert(sizeof(bpf_insn) == sizeof(EbpfInsn), "one instruction layout");

bool is_free_slot(const bpf_insn& in) { return in.code == (BPF_JMP | BPF_JA) && in.off == 0; }

} // namespace

Result<void> inject_packet_filter(bpf_object* object, const EbpfProgram& code) {
    if (code.empty()) return {};
    if (code.size() >= WGBPF_PCAP_SLOTS) return Error{"the filter does not fit the programs' placeholder"};
    bpf_program* prog = nullptr;
    bpf_object__for_each_program(prog, object) {
        const bpf_insn* insns = bpf_program__insns(prog);
        size_t n = bpf_program__insn_cnt(prog);
        std::vector<bpf_insn> patched;
        for (size_t i = 0; i < n; ++i) {
            if (!is_marker(insns[i])) continue;
            if (i + WGBPF_PCAP_SLOTS > n)
                return Error{fmt::format("program {}: a filter placeholder is cut short", bpf_program__name(prog))};
            for (size_t s = 1; s < WGBPF_PCAP_SLOTS; ++s)
                if (!is_free_slot(insns[i + s]))
                    return Error{fmt::format("program {}: a filter placeholder is not {} slots long",
                                             bpf_program__name(prog), WGBPF_PCAP_SLOTS)};
            if (patched.empty()) patched.assign(insns, insns + n);
            std::memcpy(&patched[i], code.data(), code.size() * sizeof(bpf_insn));
            i += WGBPF_PCAP_SLOTS - 1;
        }
        if (patched.empty()) continue;
        if (int err = bpf_program__set_insns(prog, patched.data(), patched.size()))
            return Error{fmt::format("cannot place the filter into program {}: {}", bpf_program__name(prog),
                                     std::strerror(-err))};
    }
    return {};
}

} // namespace wgbpf
