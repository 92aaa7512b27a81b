// tcpdump-syntax filters: libpcap's program translated to eBPF must decide every packet as libpcap's own
// interpreter (bpf_filter) does, and say "undecided" only where it needs bytes it does not see.
#include <catch2/catch_test_macros.hpp>
#include <pcap/pcap.h>

#include <array>
#include <random>
#include <string>
#include <vector>

#include "ebpf_interpreter.hpp"
#include "filter/classic_to_ebpf.hpp"
#include "filter/packet_filter.hpp"
#include "filter/pcap_compile.hpp"

using namespace wgbpf;

namespace {

bool libpcap_match(const ClassicProgram& program, const std::vector<uint8_t>& packet, uint32_t wire_len) {
    std::vector<bpf_insn> insns;
    for (const ClassicInsn& in : program) insns.push_back(bpf_insn{in.code, in.jt, in.jf, in.k});
    return bpf_filter(insns.data(), packet.data(), wire_len, uint32_t(packet.size())) != 0;
}

// Raw IP packets of the kinds the filters look at, with random fields.
class Packets {
public:
    explicit Packets(uint32_t seed) : rng_(seed) {}

    std::vector<uint8_t> next() {
        int kind = pick(6);
        uint8_t proto = std::array<uint8_t, 4>{1, 6, 17, 47}[pick(4)];
        std::vector<uint8_t> p;
        if (kind < 4) { // IPv4, sometimes with options, sometimes a later fragment
            size_t ihl = kind == 3 ? 24 : 20;
            p.resize(ihl);
            p[0] = 0x40 | uint8_t(ihl / 4);
            p[1] = byte();
            p[4] = byte(), p[5] = byte();
            if (kind == 2) p[6] = 0x00, p[7] = 0x10; // offset 16*8
            p[8] = byte();
            p[9] = proto;
            put_addr(p, 12, 4), put_addr(p, 16, 4);
        } else { // IPv6
            p.resize(40);
            p[0] = 0x60;
            p[6] = proto == 1 ? 58 : proto;
            p[7] = byte();
            put_addr(p, 8, 16), put_addr(p, 24, 16);
        }
        add_transport(p, proto);
        size_t payload = std::array<size_t, 5>{0, 8, 40, 120, 1200}[pick(5)];
        for (size_t i = 0; i < payload; ++i) p.push_back(i == 0 && pick(2) ? 4 : byte()); // 4: a WireGuard data message
        size_t len = p.size();
        if (p[0] >> 4 == 4) p[2] = uint8_t(len >> 8), p[3] = uint8_t(len);
        else p[4] = uint8_t((len - 40) >> 8), p[5] = uint8_t(len - 40);
        return p;
    }

private:
    std::mt19937 rng_;
    int pick(int n) { return int(rng_() % n); }
    uint8_t byte() { return uint8_t(rng_()); }
    void put_addr(std::vector<uint8_t>& p, size_t at, size_t n) {
        static const std::vector<std::vector<uint8_t>> v4 = {{10, 0, 0, 1}, {198, 51, 100, 9}, {203, 0, 113, 123}};
        static const std::vector<std::vector<uint8_t>> v6 = {
            {0xfd, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1},
            {0xfd, 0x51, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9}};
        int r = pick(3);
        if (n == 4 && r < 3) return std::copy(v4[r].begin(), v4[r].end(), p.begin() + at), void();
        if (n == 16 && r < 2) return std::copy(v6[r].begin(), v6[r].end(), p.begin() + at), void();
        for (size_t i = 0; i < n; ++i) p[at + i] = byte();
    }
    void add_transport(std::vector<uint8_t>& p, uint8_t proto) {
        static const uint16_t ports[] = {22, 53, 80, 443, 1500, 51820};
        auto port = [&] { return pick(2) ? ports[pick(6)] : uint16_t(rng_()); };
        if (proto == 6 || proto == 17) {
            uint16_t s = port(), d = port();
            p.insert(p.end(), {uint8_t(s >> 8), uint8_t(s), uint8_t(d >> 8), uint8_t(d)});
            size_t rest = proto == 6 ? 16 : 4;
            for (size_t i = 0; i < rest; ++i) p.push_back(byte());
            if (proto == 6) p[p.size() - 7] = std::array<uint8_t, 4>{0x02, 0x12, 0x10, 0x18}[pick(4)]; // flags
        } else if (proto == 1) {
            p.insert(p.end(), {std::array<uint8_t, 3>{0, 8, 3}[pick(3)], 0, byte(), byte()});
        }
    }
};

const char* const kExpressions[] = {
    "icmp",
    "icmp and host 198.51.100.9",
    "tcp port 443 or udp port 51820",
    "ip6 and udp",
    "src net 10.0.0.0/8 and not dst port 22",
    "tcp[tcpflags] & tcp-syn != 0",
    "tcp[tcpflags] & (tcp-syn|tcp-ack) == (tcp-syn|tcp-ack)",
    "udp[8] = 4",
    "ip[8] < 64",
    "len > 100",
    "greater 200",
    "less 60",
    "icmp[icmptype] == icmp-echo",
    "ip6 and tcp dst port 80",
    "portrange 1000-2000",
    "ip[2:2] / 2 > 40",
    "ip[4] / ip[5] > 1",
    "ip[4] % ip[5] = 0",
    "ip[4] << ip[5] > 1000",
    "ip[4] >> 3 = 1",
    "host fd10::1 or host 203.0.113.123",
    "net fd00::/8",
    "proto 47",
    "ip[0] & 0xf > 5",
    "ip[6:2] & 0x1fff != 0",
    "ip6[6] = 17 and ip6[44:2] > 100",
    "(tcp or udp) and not port 53",
    "ip[1] - ip[8] + 3 * ip[4] ^ 7 | 1 & 255 = 9",
    "tcp[20:4] = 0x01020304",
    "udp[110] = 1",
};

} // namespace

TEST_CASE("translated filters decide as libpcap's interpreter does, on every packet kind") {
    Packets packets(20261207);
    std::vector<std::vector<uint8_t>> sample;
    for (int i = 0; i < 600; ++i) sample.push_back(packets.next());
    for (const char* expression : kExpressions) {
        INFO(expression);
        auto classic = compile_pcap_filter(expression);
        REQUIRE(classic.ok());
        auto code = classic_to_ebpf(*classic, WGBPF_PCAP_SLOTS);
        REQUIRE(code.ok());
        REQUIRE(test::all_reachable(*code));
        size_t matched = 0, undecided = 0;
        for (const std::vector<uint8_t>& packet : sample) {
            wgbpf_pcap_window w{};
            size_t captured = std::min<size_t>(packet.size(), WGBPF_PCAP_WINDOW);
            std::copy(packet.begin(), packet.begin() + captured, w.bytes);
            w.wire_len = uint32_t(packet.size());
            uint64_t ours = test::run_ebpf(*code, w, captured);
            bool theirs = libpcap_match(*classic, packet, uint32_t(packet.size()));
            if (ours == WGBPF_PCAP_UNDECIDED) {
                ++undecided;
                CHECK(packet.size() > WGBPF_PCAP_WINDOW); // only bytes it has and wgbpf does not see
                continue;
            }
            REQUIRE((ours == WGBPF_PCAP_MATCH || ours == WGBPF_PCAP_NO_MATCH));
            CHECK((ours == WGBPF_PCAP_MATCH) == theirs);
            matched += theirs;
        }
        // the sample exercises both answers of most expressions (not a tautology: checked above per packet)
        const std::string e = expression;
        if (e != "udp[110] = 1" && e != "tcp[20:4] = 0x01020304" && e.find('^') == std::string::npos)
            CHECK(matched > 0);
        if (e == "udp[110] = 1") CHECK(undecided > 0); // byte 131 and on: past the window
    }
}

TEST_CASE("a packet shorter than the window is decided on what it has, as libpcap does") {
    auto classic = compile_pcap_filter("udp[110] = 1");
    REQUIRE(classic.ok());
    auto code = classic_to_ebpf(*classic, WGBPF_PCAP_SLOTS);
    REQUIRE(code.ok());
    wgbpf_pcap_window w{};
    w.bytes[0] = 0x45, w.bytes[3] = 60, w.bytes[9] = 17; // a 60-byte UDP packet
    w.wire_len = 60;
    CHECK(test::run_ebpf(*code, w, 60) == WGBPF_PCAP_NO_MATCH);
    w.wire_len = 1400; // the same bytes from a long packet: wgbpf does not know byte 128
    w.bytes[3] = 0x78, w.bytes[2] = 0x05;
    CHECK(test::run_ebpf(*code, w, WGBPF_PCAP_WINDOW) == WGBPF_PCAP_UNDECIDED);
}

TEST_CASE("a length the header does not give leaves `len` undecided, and every byte may exist") {
    // A route lookup's flow: an IPv4 header and its ports (24 bytes), the length not known.
    auto on_flow = [](const char* expression, uint8_t proto) {
        INFO(expression);
        auto code = compile_packet_filter(expression);
        REQUIRE(code.ok());
        wgbpf_pcap_window w{};
        w.bytes[0] = 0x45, w.bytes[9] = proto;
        w.wire_len = WGBPF_PCAP_LEN_UNKNOWN;
        return test::run_ebpf(*code, w, 24);
    };
    for (const char* expression : {"greater 200", "less 60", "len > 100"})
        CHECK(on_flow(expression, 17) == WGBPF_PCAP_UNDECIDED);
    CHECK(on_flow("tcp[13] & 2 != 0", 6) == WGBPF_PCAP_UNDECIDED); // past the ports the flow carries
    CHECK(on_flow("udp", 17) == WGBPF_PCAP_MATCH);
    CHECK(on_flow("udp", 6) == WGBPF_PCAP_NO_MATCH);
}

TEST_CASE("bad or unusable expressions fail with a reason, blank means none") {
    auto bad = compile_packet_filter("icmp and hots 1.2.3.4");
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().find("syntax error") != std::string::npos);
    auto l2 = compile_packet_filter("ether host 1:2:3:4:5:6");
    REQUIRE_FALSE(l2.ok());
    CHECK(l2.error().find("ethernet") != std::string::npos);
    auto deep = compile_packet_filter("ip[200] = 1");
    REQUIRE_FALSE(deep.ok());
    CHECK(deep.error().find("first 128 bytes") != std::string::npos);
    auto none = compile_packet_filter(expression_of({"", "  "}));
    REQUIRE(none.ok());
    CHECK(none->empty());
    CHECK(expression_of({"icmp", "and", "host", "10.0.0.1"}) == "icmp and host 10.0.0.1");
}

TEST_CASE("a filter longer than the placeholder is refused, not cut") {
    std::string many = "host 10.0.0.1";
    for (int i = 2; i < 200; ++i) many += " or host 10.0." + std::to_string(i / 250) + "." + std::to_string(i % 250);
    auto classic = compile_pcap_filter(many);
    REQUIRE(classic.ok());
    auto small = classic_to_ebpf(*classic, 64);
    REQUIRE_FALSE(small.ok());
    CHECK(small.error().find("too long") != std::string::npos);
    auto fits = classic_to_ebpf(*classic, WGBPF_PCAP_SLOTS);
    REQUIRE(fits.ok());
    CHECK(fits->size() < WGBPF_PCAP_SLOTS);
}

TEST_CASE("instructions libpcap never makes for raw IP are refused") {
    ClassicProgram extension{{0x20, 0, 0, 0xfffff000}, {0x06, 0, 0, 1}}; // ld [SKF_AD_OFF]: a Linux extension
    CHECK_FALSE(classic_to_ebpf(extension, WGBPF_PCAP_SLOTS).ok());
    ClassicProgram runs_off{{0x00, 0, 0, 1}}; // ld #1, then nothing
    CHECK_FALSE(classic_to_ebpf(runs_off, WGBPF_PCAP_SLOTS).ok());
    ClassicProgram jumps_out{{0x05, 0, 0, 7}, {0x06, 0, 0, 1}};
    CHECK_FALSE(classic_to_ebpf(jumps_out, WGBPF_PCAP_SLOTS).ok());
    CHECK_FALSE(classic_to_ebpf({}, WGBPF_PCAP_SLOTS).ok());
}
