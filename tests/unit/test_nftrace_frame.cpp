// nftrace events in recordings: a frame kind of their own that reads back as written.
#include <catch2/catch_test_macros.hpp>

#include <span>

#include "record/recording_format.hpp"
#include "record/recording_frames.hpp"

using namespace wgbpf;

namespace {
std::span<const std::byte> bytes(const std::string& s) { return std::as_bytes(std::span(s.data(), s.size())); }
} // namespace

TEST_CASE("an nftrace frame reads back as the event it was written from") {
    NftraceEvent e;
    e.trace_id = 0x6ca3695d;
    e.family = "ip";
    e.table = "wg-quick-wg0";
    e.chain = "postmangle";
    e.kind = NftraceKind::rule;
    e.rule_handle = 12;
    e.rule = "meta l4proto udp meta mark 0x0000ca6c ct mark set meta mark";
    e.verdict = "continue";
    e.mark = 0xca6c;
    e.ct_state = "established reply";
    e.t_ns = 123456789;
    NftracePacket p;
    p.oif = "c0";
    p.family = Family::ipv4;
    p.saddr = *IpAddress::parse("192.168.178.48");
    p.daddr = *IpAddress::parse("203.0.113.123");
    p.ip_id = 7238;
    p.length = 148;
    p.l4proto = 17;
    p.sport = 51820;
    p.dport = 51820;
    e.packet = p;

    auto back = decode_nftrace_frame(bytes(encode_frame(e)));
    REQUIRE(back);
    CHECK(back->trace_id == e.trace_id);
    CHECK(back->family == "ip");
    CHECK(back->table == "wg-quick-wg0");
    CHECK(back->chain == "postmangle");
    CHECK(back->kind == NftraceKind::rule);
    CHECK(back->rule_handle == 12u);
    CHECK(back->rule == e.rule);
    CHECK(back->verdict == "continue");
    CHECK(back->mark == 0xca6cu);
    CHECK_FALSE(back->ct_mark);
    CHECK(back->ct_state == "established reply");
    CHECK(back->t_ns == 123456789u);
    REQUIRE(back->packet);
    CHECK(back->packet->oif == "c0");
    CHECK(back->packet->saddr == p.saddr);
    CHECK(back->packet->daddr == p.daddr);
    CHECK(back->packet->ip_id == 7238);
    CHECK(back->packet->sport == 51820);
    CHECK_FALSE(back->packet->icmp_type);
}

TEST_CASE("the nftrace frame kind is known to this reader; a malformed one is an error naming the field") {
    CHECK(known_frame_kind(uint32_t(FrameKind::nftrace)));
    CHECK(frame_kind_name(uint32_t(FrameKind::nftrace)) == "nftrace");
    auto bad = decode_nftrace_frame(bytes(R"({"trace_id": "x"})"));
    REQUIRE_FALSE(bad);
    CHECK(bad.error().find("trace_id") != std::string::npos);
}
