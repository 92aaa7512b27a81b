// libFuzzer: any text given to `wgbpf compare --nftrace` ends in traces and warnings or an error value, never a
// crash or a hang; whatever parses is also matched against the lab's timelines and rendered both ways.
// Seeds: tests/data/nftrace. Build: cmake -DWGBPF_FUZZ=ON -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "nftrace/trace_matcher.hpp"
#include "nftrace/trace_text_parser.hpp"
#include "render/compare_render.hpp"

namespace {

using namespace wgbpf;

// Two timelines with the chains and packets of the seed's outer packet, so that fuzzed traces can match.
std::vector<PacketTimeline> timelines() {
    PacketInfo p;
    p.is_ip = true;
    p.proto = 17;
    p.len = 156;
    p.has_l4 = true;
    p.sport = p.dport = 51820;
    p.ip_id = 8817;
    p.src = *IpAddress::parse("192.168.178.48");
    p.dst = *IpAddress::parse("123.123.123.123");
    std::vector<PacketTimeline> out(2);
    for (size_t i = 0; i < out.size(); ++i) {
        PacketTimeline& t = out[i];
        t.id = i + 1;
        t.pkt = p;
        t.outcome = i == 0 ? Outcome::encapsulated : Outcome::sent;
        if (i == 0) t.encapsulated_in = 2;
        NetfilterStep output{.t_ns = 10 * i + 1,
                             .pkt = p,
                             .hook = NfHook::output,
                             .family = "inet",
                             .table = "filter",
                             .chain = "output",
                             .verdict = NfVerdict::accept};
        NetfilterStep post{.t_ns = 10 * i + 2,
                           .pkt = p,
                           .hook = NfHook::postrouting,
                           .family = "ip",
                           .table = "wg-quick-wg0",
                           .chain = "postmangle",
                           .shared_with = {"inet filter output"},
                           .verdict = NfVerdict::drop,
                           .mark_after = 0xca6c};
        t.steps = {output, post};
    }
    return out;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const std::vector<PacketTimeline> lab = timelines();
    std::string_view text(reinterpret_cast<const char*>(data), size);
    auto log = parse_nftrace_text(text, "fuzz");
    if (!log) return 0;
    Comparison c = compare_traces(*log, lab, [](int) { return std::string("c0"); });
    size_t sink = render_compare_text(c).size() + render_compare_json(c).size();
    (void)sink;
    return 0;
}
