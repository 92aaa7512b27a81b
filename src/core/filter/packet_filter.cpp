#include "filter/packet_filter.hpp"

#include "filter/classic_to_ebpf.hpp"
#include "filter/pcap_compile.hpp"
#include "wgbpf/abi/events.h"

namespace wgbpf {

std::string expression_of(const std::vector<std::string>& words) {
    std::string joined;
    for (const std::string& w : words) joined += (joined.empty() ? "" : " ") + w;
    return joined.find_first_not_of(" \t\n") == std::string::npos ? std::string() : joined;
}

Result<EbpfProgram> compile_packet_filter(const std::string& expression) {
    if (expression.empty()) return EbpfProgram{};
    auto classic = compile_pcap_filter(expression);
    if (!classic) return classic;
    auto code = classic_to_ebpf(*classic, WGBPF_PCAP_SLOTS);
    if (!code) return Error{"filter '" + expression + "': " + code.error()};
    return code;
}

} // namespace wgbpf
