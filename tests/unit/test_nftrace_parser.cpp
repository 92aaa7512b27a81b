#include <catch2/catch_test_macros.hpp>

#include <sstream>

#include "test_data.hpp"
#include "nftrace/trace_text_parser.hpp"

using namespace wgbpf;

namespace {

std::string sample(const std::string& name) { return test::read_test_data("nftrace/" + name); }

NftraceLog parse(std::string_view text) {
    auto log = parse_nftrace_text(text, "test");
    INFO((log ? std::string() : log.error()));
    REQUIRE(log);
    return std::move(log.value());
}

IpAddress addr(std::string_view s) { return *IpAddress::parse(s); }

} // namespace

TEST_CASE("nftrace text: the seed article's appendix, wrapped lines and all") {
    NftraceLog log = parse(sample("seed_appendix.txt"));
    CHECK(log.lines == 80);
    CHECK(log.ignored_lines == 1); // the `$ sudo nft monitor` prompt
    CHECK(log.warnings.empty());
    REQUIRE(log.traces.size() == 4);
    CHECK(log.traces[0].id == 0x6ca3695d);
    CHECK(log.traces[1].id == 0x2988acd2);
    CHECK(log.traces[2].id == 0xae8f7320);
    CHECK(log.traces[3].id == 0x8f0cd96a);
    CHECK(log.traces[0].events.size() == 8);
    CHECK(log.traces[1].events.size() == 9);
    CHECK(log.traces[2].events.size() == 13);
    CHECK(log.traces[3].events.size() == 12);

    const NftraceEvent& first = log.traces[0].events[0];
    CHECK(first.line == 2);
    CHECK(first.family == "inet");
    CHECK(first.table == "filter");
    CHECK(first.chain == "output");
    CHECK(first.kind == NftraceKind::packet);
    REQUIRE(first.packet);
    const NftracePacket& p = *first.packet;
    CHECK(p.oif == "wg0");
    CHECK(p.iif.empty());
    CHECK(p.family == Family::ipv4);
    CHECK(p.saddr == addr("10.0.0.1"));
    CHECK(p.daddr == addr("9.9.9.9"));
    CHECK(p.ip_id == 44121);
    CHECK(p.length == 84);
    CHECK(p.l4proto == 1);
    CHECK_FALSE(p.icmp_type); // nft left it out: the trace rule matched on it
    CHECK(p.icmp_code == 0);  // net-unreachable
    CHECK(p.icmp_id == 29717);
    CHECK(p.icmp_sequence == 1);

    // `rule icmp type { echo-reply, echo-request } meta nftrace` + `    set 1 (verdict continue)`
    const NftraceEvent& rule = log.traces[0].events[1];
    CHECK(rule.kind == NftraceKind::rule);
    CHECK(rule.line == 5);
    CHECK(rule.rule == "icmp type { echo-reply, echo-request } meta nftrace set 1");
    CHECK(rule.verdict == "continue");
    CHECK_FALSE(rule.rule_handle);
    CHECK(log.traces[0].events[2].kind == NftraceKind::verdict);
    CHECK(log.traces[0].events[3].kind == NftraceKind::policy);
    CHECK(log.traces[0].events[3].verdict == "accept");
    CHECK_FALSE(log.traces[0].events[3].mark);

    // The outer packet: udp fields imply the protocol, the verdict lines carry the mark.
    const NftraceTrace& outer = log.traces[1];
    REQUIRE(outer.events[4].packet);
    CHECK(outer.events[4].chain == "postmangle");
    CHECK(outer.events[4].packet->iif == "wg0");
    CHECK(outer.events[4].packet->oif == "wlp4s0");
    CHECK(outer.events[4].packet->l4proto == 17);
    CHECK(outer.events[4].packet->sport == 51820);
    CHECK(outer.events[4].packet->dport == 51820);
    CHECK(outer.events[4].packet->length == 156);
    CHECK(outer.events[6].rule == "meta l4proto udp meta mark 0x0000ca6c ct mark set meta mark");
    CHECK(outer.events[7].kind == NftraceKind::verdict);
    CHECK(outer.events[7].mark == 0xca6c);
    CHECK(outer.events[8].mark == 0xca6c);

    // Jumps: the verdict names the chain, the next event is in the regular chain.
    const NftraceTrace& in = log.traces[2];
    CHECK(in.events[11].verdict == "jump global");
    CHECK(in.events[12].chain == "global");
    CHECK(in.events[12].verdict == "accept");
    CHECK(in.events[12].rule == "ct state established,related accept comment \"Accept traffic originated from us\"");
}

TEST_CASE("nftrace text: nft 0.9 spellings, IPv6 and unknown rule handles") {
    NftraceLog log = parse(sample("nft_0.9.txt"));
    CHECK(log.warnings.empty());
    CHECK(log.ignored_lines == 2);
    REQUIRE(log.traces.size() == 2);
    const NftracePacket& tcp = *log.traces[0].events[0].packet;
    CHECK(tcp.l4proto == 6);
    CHECK(tcp.sport == 45678);
    CHECK(tcp.dport == 22);
    CHECK(tcp.length == 60);
    const NftraceEvent& unknown = log.traces[0].events[2];
    CHECK(unknown.kind == NftraceKind::rule);
    CHECK(unknown.rule_handle == 7u);
    CHECK(unknown.rule.empty());
    CHECK(unknown.verdict == "accept");

    const NftracePacket& v6 = *log.traces[1].events[0].packet;
    CHECK(log.traces[1].id == 0xbeef);
    CHECK(v6.family == Family::ipv6);
    CHECK(v6.saddr == addr("fe80::5054:ff:fe12:3456"));
    CHECK(v6.length == 72); // payload 32 + the 40-byte header
    CHECK(v6.l4proto == 58);
    CHECK(v6.icmp_type == 135);
    CHECK(v6.icmp_code == 0);
    CHECK(log.traces[1].events[2].verdict == "drop");
}

TEST_CASE("nftrace text: nft 1.0 with -a: handles, jumps, returns, several tables") {
    NftraceLog log = parse(sample("nft_1.0.txt"));
    CHECK(log.warnings.empty());
    CHECK(log.ignored_lines == 2); // prompt and ^C
    REQUIRE(log.traces.size() == 1);
    const auto& ev = log.traces[0].events;
    REQUIRE(ev.size() == 8);
    CHECK(ev[1].rule == "iifname \"wg0\" meta nftrace set 1");
    CHECK(ev[1].rule_handle == 4u);
    CHECK(ev[2].verdict == "jump from_wg");
    CHECK(ev[3].rule == "udp dport 53 counter packets 1 bytes 76");
    CHECK(ev[3].rule_handle == 12u);
    CHECK(ev[4].kind == NftraceKind::verdict);
    CHECK(ev[4].verdict == "return");
    CHECK(ev[4].mark == 0x42);
    CHECK(ev[5].rule == "ct state new accept");
    CHECK(ev[5].rule_handle == 6u);
    CHECK(ev[6].family == "ip");
    CHECK(ev[6].table == "nat");
    CHECK(ev[6].packet->oif == "eth0");
}

TEST_CASE("nftrace text: nft 1.1 conntrack lines and inline ct fields") {
    NftraceLog log = parse(sample("nft_1.1.txt"));
    CHECK(log.warnings.empty());
    REQUIRE(log.traces.size() == 2);
    const NftraceEvent& in = log.traces[0].events[0];
    CHECK(in.kind == NftraceKind::packet); // the conntrack line is not an event of its own
    CHECK(in.ct_state == "new");
    CHECK(in.packet->icmp_type == 8);
    CHECK(in.packet->icmp_code == 0);
    CHECK(log.traces[0].events.size() == 3);
    CHECK(log.traces[0].events[2].mark == 1u);
    const NftraceEvent& out = log.traces[1].events[0];
    CHECK(out.ct_state == "established");
    CHECK(out.ct_mark == 0xca6cu);
    CHECK(out.packet->icmp_type == 0);
    CHECK(log.traces[1].events[1].ct_mark == 0xca6cu);
}

TEST_CASE("nftrace text: a reused trace id starts a new trace, interleaved ids stay apart") {
    std::string text = "trace id 0000000a ip t c packet: ip saddr 10.0.0.1 ip daddr 10.0.0.2\n"
                       "trace id 0000000b ip t c packet: ip saddr 10.0.0.3 ip daddr 10.0.0.4\n"
                       "trace id 0000000a ip t c policy accept\n"
                       "trace id 0000000b ip t c policy drop\n"
                       "trace id 0000000a ip t c packet: ip saddr 10.9.9.9 ip daddr 10.0.0.2\n"
                       "trace id 0000000a ip t d packet: ip saddr 10.9.9.9 ip daddr 10.0.0.2\n";
    NftraceLog log = parse(text);
    REQUIRE(log.traces.size() == 3);
    CHECK(log.traces[0].id == 0xa);
    CHECK(log.traces[0].events.size() == 2);
    CHECK(log.traces[1].id == 0xb);
    CHECK(log.traces[1].events[1].verdict == "drop");
    CHECK(log.traces[2].id == 0xa);
    CHECK(log.traces[2].events.size() == 2); // chain d is new to this trace
    CHECK(log.traces[2].events[0].packet->saddr == addr("10.9.9.9"));
}

TEST_CASE("nftrace text: CRLF line ends, a family left out, a verdict wrapped onto its own line") {
    std::string text = "trace id 1 t c packet: ip saddr 10.0.0.1\r\n"
                       "trace id 1 t c rule ip saddr 10.0.0.1 meta nftrace set 1\r\n"
                       "(verdict continue)\r\n";
    NftraceLog log = parse(text);
    REQUIRE(log.traces.size() == 1);
    const auto& ev = log.traces[0].events;
    REQUIRE(ev.size() == 2);
    CHECK(ev[0].family.empty());
    CHECK(ev[0].table == "t");
    CHECK(ev[0].packet->saddr == addr("10.0.0.1"));
    CHECK(ev[1].verdict == "continue");
    CHECK(ev[1].rule == "ip saddr 10.0.0.1 meta nftrace set 1");
}

TEST_CASE("nftrace text: truncated and garbled lines are warnings with their line number, never fatal") {
    NftraceLog log = parse(sample("garbled.txt"));
    CHECK(log.lines == 15);
    CHECK(log.ignored_lines == 3);
    REQUIRE(log.traces.size() == 1);
    CHECK(log.traces[0].id == 0x11111111);
    REQUIRE(log.traces[0].events.size() == 2);
    CHECK(log.traces[0].events[1].line == 10);
    REQUIRE(log.warnings.size() == 10);
    CHECK(log.warnings[0] == "line 4: rule without '(verdict ...)': cut short?");
    CHECK(log.warnings[1] == "line 5: trace id 'zzzz' is not 1 to 8 hexadecimal digits");
    CHECK(log.warnings[2] == "line 6: ip saddr '192.0.2.300' is not an IPv4 address");
    CHECK(log.warnings[3].starts_with("line 7: not an event nft prints"));
    CHECK(log.warnings[4] == "line 8: policy without a value");
    CHECK(log.warnings[5].starts_with("line 9: trace id ''"));
    CHECK(log.warnings[6] == "line 11: ip id '99999999' is not a 16-bit number");
    CHECK(log.warnings[7].starts_with("line 12: trace id '123456789'"));
    CHECK(log.warnings[8] == "line 14: expected 'unknown rule handle N (verdict V)'");
    CHECK(log.warnings[9] == "line 15: icmp type 'no-such-type' is not an ICMP type");
}

TEST_CASE("nftrace text: errors only when nothing could be read") {
    auto empty = parse_nftrace_text("", "empty.txt");
    REQUIRE_FALSE(empty);
    CHECK(empty.error() == "no `trace id` lines in empty.txt");
    auto prose = parse_nftrace_text("hello\nworld\n", "prose.txt");
    REQUIRE_FALSE(prose);
    CHECK(prose.error() == "no `trace id` lines in prose.txt");
    auto garbled = parse_nftrace_text("x\ntrace id 1 inet filter output policy\n", "bad.txt");
    REQUIRE_FALSE(garbled);
    CHECK(garbled.error() == "none of the 1 `trace id` lines in bad.txt could be read; line 2: policy without a value");

    std::istringstream stream("trace id 00c0ffee inet filter output policy accept\n");
    auto from_stream = parse_nftrace_text(stream, "stdin");
    REQUIRE(from_stream);
    CHECK(from_stream->traces.at(0).id == 0xc0ffee);
}
