#include "filter/classic_to_ebpf.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstddef>
#include <limits>
#include <optional>

#include "wgbpf/abi/events.h"

namespace wgbpf {
namespace {

// Classic BPF (pcap/bpf.h): class, size, mode, operation, source, return value.
namespace cbpf {
constexpr uint16_t LD = 0x00, LDX = 0x01, ST = 0x02, STX = 0x03, ALU = 0x04, JMP = 0x05, RET = 0x06, MISC = 0x07;
constexpr uint16_t W = 0x00, H = 0x08, B = 0x10;
constexpr uint16_t IMM = 0x00, ABS = 0x20, IND = 0x40, MEM = 0x60, LEN = 0x80, MSH = 0xa0;
constexpr uint16_t ADD = 0x00, SUB = 0x10, MUL = 0x20, DIV = 0x30, OR = 0x40, AND = 0x50, LSH = 0x60, RSH = 0x70,
                   NEG = 0x80, MOD = 0x90, XOR = 0xa0;
constexpr uint16_t JA = 0x00, JEQ = 0x10, JGT = 0x20, JGE = 0x30, JSET = 0x40;
constexpr uint16_t K = 0x00, X = 0x08, A = 0x10;
constexpr uint16_t TAX = 0x00, TXA = 0x80;
constexpr uint32_t MEMWORDS = 16;
uint16_t cls(uint16_t c) { return c & 0x07; }
uint16_t size(uint16_t c) { return c & 0x18; }
uint16_t mode(uint16_t c) { return c & 0xe0; }
uint16_t op(uint16_t c) { return c & 0xf0; }
uint16_t src(uint16_t c) { return c & 0x08; }
uint16_t rval(uint16_t c) { return c & 0x18; }
} // namespace cbpf

// eBPF (linux/bpf.h).
namespace ebpf {
constexpr uint8_t LDX = 0x01, ST = 0x02, STX = 0x03, ALU = 0x04, JMP = 0x05, JMP32 = 0x06, ALU64 = 0x07;
constexpr uint8_t W = 0x00, H = 0x08, B = 0x10, DW = 0x18, MEM = 0x60;
constexpr uint8_t K = 0x00, X = 0x08;
constexpr uint8_t ADD = 0x00, NEG = 0x80, MOV = 0xb0, END = 0xd0, TO_BE = 0x08;
constexpr uint8_t JA = 0x00, JEQ = 0x10, JGT = 0x20, JGE = 0x30, JSET = 0x40, JNE = 0x50, JLT = 0xa0, JLE = 0xb0;
} // namespace ebpf

// The placeholder's registers (bpf/pcap.bpf.h).
enum Reg : uint8_t { R0 = 0, WINDOW = 1, CAPTURED = 2, A = 3, X = 4, TMP = 5 };

constexpr int16_t kMemOffset = offsetof(wgbpf_pcap_window, mem);
constexpr int16_t kWireLenOffset = offsetof(wgbpf_pcap_window, wire_len);
constexpr uint32_t kWindow = WGBPF_PCAP_WINDOW;

EbpfInsn insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
    return EbpfInsn{code, static_cast<uint8_t>((src << 4) | dst), off, imm};
}

// Where a jump goes before offsets are known: a classic instruction's code, the end, or the
// out-of-window tail.
struct Target {
    enum Kind { classic, end, out_of_window, undecided } kind = end;
    size_t index = 0;
};

class Translator {
public:
    explicit Translator(const ClassicProgram& p) : p_(p), start_(p.size(), 0) {}

    Result<EbpfProgram> run(size_t slots) {
        auto reachable = reachable_insns();
        if (!reachable) return reachable;
        prologue();
        for (size_t i = 0; i < p_.size(); ++i) {
            start_[i] = out_.size();
            if (!(*reachable)[i]) continue; // the verifier refuses code no path reaches
            if (auto r = translate(i); !r) return r;
        }
        size_t out_of_window = out_.size();
        if (uses_out_of_window_) out_of_window_tail();
        size_t undecided = out_.size();
        if (uses_undecided_) {
            result(WGBPF_PCAP_UNDECIDED);
            jump_to_end();
        }
        size_t end = out_.size();
        if (end + 1 > slots)
            return Error{fmt::format("the filter is too long for wgbpf: {} instructions once translated, room for {} "
                                     "(a shorter expression, or fewer alternatives)",
                                     end, slots - 1)};
        for (const auto& [at, target] : jumps_) {
            size_t to = target.kind == Target::classic       ? start_[target.index]
                        : target.kind == Target::end         ? end
                        : target.kind == Target::undecided   ? undecided
                                                             : out_of_window;
            out_[at].off = static_cast<int16_t>(static_cast<long>(to) - static_cast<long>(at) - 1);
        }
        return out_;
    }

private:
    const ClassicProgram& p_;
    std::vector<size_t> start_;
    EbpfProgram out_;
    std::vector<std::pair<size_t, Target>> jumps_;
    bool uses_out_of_window_ = false;
    bool uses_undecided_ = false;

    // Which instructions some path reaches; fails on a jump out of the program or a path that runs off its
    // end (libpcap never makes either).
    Result<std::vector<bool>> reachable_insns() const {
        if (p_.empty()) return Error{"the filter program is empty"};
        if (p_.size() > 4096) return Error{"the filter program has more than 4096 instructions"};
        std::vector<bool> seen(p_.size(), false);
        std::vector<size_t> todo{0};
        while (!todo.empty()) {
            size_t i = todo.back();
            todo.pop_back();
            if (i >= p_.size()) return Error{"the filter program runs off its end"};
            if (seen[i]) continue;
            seen[i] = true;
            const ClassicInsn& in = p_[i];
            if (cbpf::cls(in.code) == cbpf::RET) continue;
            if (cbpf::cls(in.code) != cbpf::JMP) {
                todo.push_back(i + 1);
            } else if (cbpf::op(in.code) == cbpf::JA) {
                if (in.k >= p_.size()) return Error{"the filter program jumps out of itself"};
                todo.push_back(i + 1 + in.k);
            } else {
                todo.push_back(i + 1 + in.jt);
                todo.push_back(i + 1 + in.jf);
            }
        }
        return seen;
    }

    void emit(EbpfInsn e) { out_.push_back(e); }
    void jump(EbpfInsn e, Target t) {
        jumps_.emplace_back(out_.size(), t);
        out_.push_back(e);
    }
    void jump_to_end() { jump(insn(ebpf::JMP | ebpf::JA, 0, 0, 0, 0), Target{Target::end}); }
    void result(int32_t r) { emit(insn(ebpf::ALU64 | ebpf::MOV | ebpf::K, R0, 0, 0, r)); }

    // The captured length bounded for the verifier (user space caps it already); A and X start at 0.
    void prologue() {
        emit(insn(ebpf::JMP | ebpf::JLE | ebpf::K, CAPTURED, 0, 1, static_cast<int32_t>(kWindow)));
        emit(insn(ebpf::ALU64 | ebpf::MOV | ebpf::K, CAPTURED, 0, 0, static_cast<int32_t>(kWindow)));
        emit(insn(ebpf::ALU64 | ebpf::MOV | ebpf::K, A, 0, 0, 0));
        emit(insn(ebpf::ALU64 | ebpf::MOV | ebpf::K, X, 0, 0, 0));
        bool scratch = std::any_of(p_.begin(), p_.end(), [](const ClassicInsn& in) {
            uint16_t c = cbpf::cls(in.code);
            return ((c == cbpf::LD || c == cbpf::LDX) && cbpf::mode(in.code) == cbpf::MEM);
        });
        if (scratch) // M[] starts at 0, not at the last packet's values
            for (int16_t off = kMemOffset; off < kMemOffset + int16_t(cbpf::MEMWORDS * 4); off += 8)
                emit(insn(ebpf::ST | ebpf::MEM | ebpf::DW, WINDOW, 0, off, 0));
    }

    // Needed bytes past the captured ones (TMP: the offset just past them): no match when the packet ends
    // before, else undecided.
    void out_of_window_tail() {
        emit(insn(ebpf::LDX | ebpf::MEM | ebpf::W, R0, WINDOW, kWireLenOffset, 0));
        emit(insn(ebpf::JMP | ebpf::JGT | ebpf::X, TMP, R0, 2, 0));
        result(WGBPF_PCAP_UNDECIDED);
        jump_to_end();
        result(WGBPF_PCAP_NO_MATCH);
    }

    static uint8_t load_size(uint16_t classic_size) {
        return classic_size == cbpf::W ? ebpf::W : classic_size == cbpf::H ? ebpf::H : ebpf::B;
    }
    static uint32_t bytes_of(uint16_t classic_size) {
        return classic_size == cbpf::W ? 4 : classic_size == cbpf::H ? 2 : 1;
    }
    // TMP = the offset just past the bytes a load needs (within the window).
    void set_needed(uint64_t needed) {
        emit(insn(ebpf::ALU64 | ebpf::MOV | ebpf::K, TMP, 0, 0, static_cast<int32_t>(needed)));
    }
    void out_of_window_if_past_captured() {
        uses_out_of_window_ = true;
        jump(insn(ebpf::JMP | ebpf::JGT | ebpf::X, TMP, CAPTURED, 0, 0), Target{Target::out_of_window});
    }
    // A load no window reaches: the filter could never decide (and the code after it would be unreachable,
    // which the verifier refuses).
    static Error past_the_window(uint64_t needed) {
        return Error{fmt::format("it reads up to byte {} from the network header; wgbpf sees the first {} bytes of "
                                 "each packet",
                                 needed, kWindow)};
    }
    void to_big_endian(uint8_t reg, uint32_t bytes) {
        if (bytes > 1) emit(insn(ebpf::ALU | ebpf::END | ebpf::TO_BE, reg, 0, 0, static_cast<int32_t>(bytes * 8)));
    }

    // ld [k]: packet bytes at a constant offset.
    Result<void> load_absolute(uint16_t size, uint32_t k) {
        uint32_t bytes = bytes_of(size);
        uint64_t needed = uint64_t(k) + bytes;
        if (needed > kWindow) return past_the_window(needed);
        set_needed(needed);
        out_of_window_if_past_captured();
        emit(insn(ebpf::LDX | ebpf::MEM | load_size(size), A, WINDOW, static_cast<int16_t>(k), 0));
        to_big_endian(A, bytes);
        return {};
    }

    // ld [x + k]. The constant bound is for the verifier (it does not learn from comparing two registers on
    // every kernel); R0 is free until the result.
    Result<void> load_indirect(uint16_t size, uint32_t k) {
        uint32_t bytes = bytes_of(size);
        uint64_t needed = uint64_t(k) + bytes;
        if (needed > kWindow) return past_the_window(needed);
        emit(insn(ebpf::ALU64 | ebpf::MOV | ebpf::X, TMP, X, 0, 0));
        emit(insn(ebpf::ALU64 | ebpf::ADD | ebpf::K, TMP, 0, 0, static_cast<int32_t>(needed)));
        out_of_window_if_past_captured();
        jump(insn(ebpf::JMP | ebpf::JGT | ebpf::K, TMP, 0, 0, static_cast<int32_t>(kWindow)),
             Target{Target::out_of_window});
        emit(insn(ebpf::ALU64 | ebpf::MOV | ebpf::X, R0, WINDOW, 0, 0));
        emit(insn(ebpf::ALU64 | ebpf::ADD | ebpf::X, R0, TMP, 0, 0));
        emit(insn(ebpf::LDX | ebpf::MEM | load_size(size), A, R0, static_cast<int16_t>(-int32_t(bytes)), 0));
        to_big_endian(A, bytes);
        return {};
    }

    // ldx 4*([k]&0xf): the IPv4 header's length.
    Result<void> load_header_length(uint32_t k) {
        uint64_t needed = uint64_t(k) + 1;
        if (needed > kWindow) return past_the_window(needed);
        set_needed(needed);
        out_of_window_if_past_captured();
        emit(insn(ebpf::LDX | ebpf::MEM | ebpf::B, X, WINDOW, static_cast<int16_t>(k), 0));
        emit(insn(ebpf::ALU | 0x50 /* AND */ | ebpf::K, X, 0, 0, 0xf));
        emit(insn(ebpf::ALU | 0x60 /* LSH */ | ebpf::K, X, 0, 0, 2));
        return {};
    }

    Result<void> load(const ClassicInsn& in, uint8_t reg) {
        uint16_t mode = cbpf::mode(in.code);
        if (mode == cbpf::IMM) {
            emit(insn(ebpf::ALU | ebpf::MOV | ebpf::K, reg, 0, 0, static_cast<int32_t>(in.k)));
        } else if (mode == cbpf::MEM) {
            if (in.k >= cbpf::MEMWORDS) return Error{"the filter program uses scratch memory out of range"};
            emit(insn(ebpf::LDX | ebpf::MEM | ebpf::W, reg, WINDOW, static_cast<int16_t>(kMemOffset + 4 * in.k), 0));
        } else if (mode == cbpf::LEN) {
            emit(insn(ebpf::LDX | ebpf::MEM | ebpf::W, reg, WINDOW, kWireLenOffset, 0));
            uses_undecided_ = true; // a length the header does not give (a route lookup's flow, BIG TCP)
            jump(insn(ebpf::JMP32 | ebpf::JEQ | ebpf::K, reg, 0, 0, static_cast<int32_t>(WGBPF_PCAP_LEN_UNKNOWN)),
                 Target{Target::undecided});
        } else if (reg == A && mode == cbpf::ABS) {
            return load_absolute(cbpf::size(in.code), in.k);
        } else if (reg == A && mode == cbpf::IND) {
            return load_indirect(cbpf::size(in.code), in.k);
        } else if (reg == X && mode == cbpf::MSH && cbpf::size(in.code) == cbpf::B) {
            return load_header_length(in.k);
        } else {
            return unsupported(in);
        }
        return {};
    }

    Result<void> alu(const ClassicInsn& in) {
        uint16_t op = cbpf::op(in.code);
        if (op == cbpf::NEG) {
            emit(insn(ebpf::ALU | ebpf::NEG, A, 0, 0, 0));
            return {};
        }
        static constexpr uint16_t kOps[] = {cbpf::ADD, cbpf::SUB, cbpf::MUL, cbpf::DIV, cbpf::OR,
                                            cbpf::AND, cbpf::LSH, cbpf::RSH, cbpf::MOD, cbpf::XOR};
        if (std::find(std::begin(kOps), std::end(kOps), op) == std::end(kOps)) return unsupported(in);
        uint8_t eop = static_cast<uint8_t>(op); // classic and eBPF share these operation codes
        if (cbpf::src(in.code) == cbpf::K) {
            if ((op == cbpf::DIV || op == cbpf::MOD) && in.k == 0)
                return Error{"the filter program divides by zero"};
            if ((op == cbpf::LSH || op == cbpf::RSH) && in.k >= 32)
                return Error{"the filter program shifts by 32 or more"};
            emit(insn(ebpf::ALU | eop | ebpf::K, A, 0, 0, static_cast<int32_t>(in.k)));
            return {};
        }
        if (op == cbpf::DIV || op == cbpf::MOD) { // by X == 0: libpcap's filter returns 0
            emit(insn(ebpf::JMP32 | ebpf::JNE | ebpf::K, X, 0, 2, 0));
            result(WGBPF_PCAP_NO_MATCH);
            jump_to_end();
        }
        if (op == cbpf::LSH || op == cbpf::RSH) { // by X >= 32: libpcap gives 0
            emit(insn(ebpf::JMP32 | ebpf::JLT | ebpf::K, X, 0, 2, 32));
            emit(insn(ebpf::ALU | ebpf::MOV | ebpf::K, A, 0, 0, 0));
            emit(insn(ebpf::JMP | ebpf::JA, 0, 0, 1, 0));
        }
        emit(insn(ebpf::ALU | eop | ebpf::X, A, X, 0, 0));
        return {};
    }

    Result<void> branch(size_t i, const ClassicInsn& in) {
        uint16_t op = cbpf::op(in.code);
        if (op == cbpf::JA) {
            jump(insn(ebpf::JMP | ebpf::JA, 0, 0, 0, 0), Target{Target::classic, i + 1 + in.k});
            return {};
        }
        uint8_t cond = op == cbpf::JEQ ? ebpf::JEQ : op == cbpf::JGT ? ebpf::JGT : op == cbpf::JGE ? ebpf::JGE
                       : op == cbpf::JSET                           ? ebpf::JSET
                                                                    : 0;
        if (!cond) return unsupported(in);
        // 32-bit comparisons: k is unsigned 32 bits, as the immediate's bits.
        EbpfInsn test = cbpf::src(in.code) == cbpf::K
                            ? insn(ebpf::JMP32 | cond | ebpf::K, A, 0, 0, static_cast<int32_t>(in.k))
                            : insn(ebpf::JMP32 | cond | ebpf::X, A, X, 0, 0);
        size_t when_true = i + 1 + in.jt, when_false = i + 1 + in.jf;
        if (when_true == i + 1) {
            if (when_false == i + 1) return {};
            test.off = 1; // over the jump to `when_false`
            emit(test);
        } else {
            jump(test, Target{Target::classic, when_true});
        }
        if (when_false != i + 1)
            jump(insn(ebpf::JMP | ebpf::JA, 0, 0, 0, 0), Target{Target::classic, when_false});
        return {};
    }

    void ret(const ClassicInsn& in) {
        uint16_t r = cbpf::rval(in.code);
        if (r == cbpf::K) {
            result(in.k ? WGBPF_PCAP_MATCH : WGBPF_PCAP_NO_MATCH);
        } else {
            result(WGBPF_PCAP_NO_MATCH);
            emit(insn(ebpf::JMP32 | ebpf::JEQ | ebpf::K, r == cbpf::X ? X : A, 0, 1, 0));
            result(WGBPF_PCAP_MATCH);
        }
        jump_to_end();
    }

    Result<void> translate(size_t i) {
        const ClassicInsn& in = p_[i];
        switch (cbpf::cls(in.code)) {
        case cbpf::LD: return load(in, A);
        case cbpf::LDX: return load(in, X);
        case cbpf::ST:
        case cbpf::STX:
            if (in.k >= cbpf::MEMWORDS) return Error{"the filter program uses scratch memory out of range"};
            emit(insn(ebpf::STX | ebpf::MEM | ebpf::W, WINDOW, cbpf::cls(in.code) == cbpf::ST ? A : X,
                      static_cast<int16_t>(kMemOffset + 4 * in.k), 0));
            return {};
        case cbpf::ALU: return alu(in);
        case cbpf::JMP: return branch(i, in);
        case cbpf::RET: ret(in); return {};
        case cbpf::MISC:
            if ((in.code & 0xf8) == cbpf::TAX) emit(insn(ebpf::ALU | ebpf::MOV | ebpf::X, X, A, 0, 0));
            else if ((in.code & 0xf8) == cbpf::TXA) emit(insn(ebpf::ALU | ebpf::MOV | ebpf::X, A, X, 0, 0));
            else return unsupported(in);
            return {};
        }
        return unsupported(in);
    }

    static Error unsupported(const ClassicInsn& in) {
        return Error{fmt::format("the filter uses a classic BPF instruction wgbpf does not translate (code {:#06x}, "
                                 "k {:#x}): Linux-only extensions are not supported",
                                 in.code, in.k)};
    }
};

} // namespace

Result<EbpfProgram> classic_to_ebpf(const ClassicProgram& program, size_t slots) {
    return Translator(program).run(slots);
}

} // namespace wgbpf
