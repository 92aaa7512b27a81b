// Its own file: libpcap's <pcap.h> defines a struct bpf_insn of its own.
#include "filter/pcap_compile.hpp"

#include <pcap/pcap.h>

#include <memory>

namespace wgbpf {
namespace {

constexpr int kSnaplen = 262144; // tcpdump's default: no filter reads past it

struct PcapCloser {
    void operator()(pcap_t* p) const { pcap_close(p); }
};

} // namespace

Result<ClassicProgram> compile_pcap_filter(const std::string& expression) {
    std::unique_ptr<pcap_t, PcapCloser> dead(pcap_open_dead(DLT_RAW, kSnaplen));
    if (!dead) return Error{"libpcap cannot open a raw-IP handle to compile the filter"};
    bpf_program compiled{};
    if (pcap_compile(dead.get(), &compiled, expression.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0)
        return Error{std::string("bad filter expression: ") + pcap_geterr(dead.get())};
    ClassicProgram program;
    program.reserve(compiled.bf_len);
    for (u_int i = 0; i < compiled.bf_len; ++i) {
        const bpf_insn& in = compiled.bf_insns[i];
        program.push_back(ClassicInsn{in.code, in.jt, in.jf, in.k});
    }
    pcap_freecode(&compiled);
    return program;
}

} // namespace wgbpf
