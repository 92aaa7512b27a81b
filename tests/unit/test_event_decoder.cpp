#include <catch2/catch_test_macros.hpp>

#include <cstring>
#include <vector>

#include "wgbpf/abi/events.h"
#include "event/event_decoder.hpp"

using namespace wgbpf;

namespace {

wgbpf_route_lookup sample_lookup() {
    wgbpf_route_lookup r{};
    r.hdr = {WGBPF_EV_ROUTE_LOOKUP, 1, sizeof(r), 123456789, 1, 4026532000u, 42, 0};
    r.table = 51820;
    r.err = 0;
    r.mark = 0xca6c;
    r.iif = 1;
    r.nh_ifindex = 5;
    r.family = WGBPF_FAMILY_IPV4;
    r.proto = 17;
    r.direction = WGBPF_DIR_OUTPUT;
    r.flags = WGBPF_LOOKUP_F_NH | WGBPF_LOOKUP_F_GW;
    r.sport = 51820;
    r.dport = 51820;
    const uint8_t src[4] = {192, 168, 178, 48}, dst[4] = {203, 0, 113, 123}, gw[4] = {192, 168, 178, 1};
    std::memcpy(r.src, src, 4);
    std::memcpy(r.dst, dst, 4);
    std::memcpy(r.gw, gw, 4);
    return r;
}

template <typename T>
std::vector<std::byte> bytes_of(const T& v) {
    std::vector<std::byte> b(sizeof v);
    std::memcpy(b.data(), &v, sizeof v);
    return b;
}

} // namespace

TEST_CASE("a route lookup record decodes to its typed form") {
    auto rec = bytes_of(sample_lookup());
    auto ev = decode_event(rec);
    REQUIRE(ev.ok());
    const auto& l = std::get<RouteLookup>(ev.value());
    CHECK(l.table == 51820);
    CHECK(l.mark == 0xca6c);
    CHECK(l.netns == 4026532000u);
    CHECK(l.tgid == 42);
    CHECK(l.src.to_string() == "192.168.178.48");
    CHECK(l.dst.to_string() == "203.0.113.123");
    REQUIRE(l.gateway);
    CHECK(l.gateway->to_string() == "192.168.178.1");
    CHECK(l.nh_ifindex == 5);
    CHECK(l.sport == 51820);
    CHECK(l.direction == RouteDirection::output);
}

TEST_CASE("an IPv4 route with an IPv6 gateway keeps the gateway's family") {
    auto r = sample_lookup();
    const uint8_t gw6[16] = {0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    std::memcpy(r.gw, gw6, 16);
    auto ev = decode_event(bytes_of(r));
    REQUIRE(ev.ok());
    CHECK(std::get<RouteLookup>(ev.value()).gateway->to_string() == "fe80::1");
}

TEST_CASE("a lookup without nexthop has no device and no gateway") {
    auto r = sample_lookup();
    r.flags = 0;
    r.err = -11;
    auto ev = decode_event(bytes_of(r));
    REQUIRE(ev.ok());
    const auto& l = std::get<RouteLookup>(ev.value());
    CHECK(l.nh_ifindex == 0);
    CHECK_FALSE(l.gateway);
    CHECK(l.err == -11);
}

TEST_CASE("a rule result record decodes") {
    wgbpf_rule_result r{};
    r.hdr = {WGBPF_EV_RULE_RESULT, 1, sizeof(r), 5, 0, 7, 0, 0};
    r.pref = 32764;
    r.table = 254;
    r.what = WGBPF_RULE_SUPPRESSED;
    r.prefixlen = 0;
    r.suppress_prefixlen = 0;
    r.family = WGBPF_FAMILY_IPV4;
    auto ev = decode_event(bytes_of(r));
    REQUIRE(ev.ok());
    const auto& rr = std::get<RuleResult>(ev.value());
    CHECK(rr.pref == 32764);
    CHECK(rr.what == RuleResult::What::suppressed);
    CHECK(rr.prefixlen == 0);
}

TEST_CASE("malformed records are rejected and counted, never crash") {
    EventDecoder decoder;
    auto good = bytes_of(sample_lookup());

    SECTION("shorter than a header") {
        std::vector<std::byte> tiny(good.begin(), good.begin() + 10);
        CHECK_FALSE(decoder.decode(tiny).ok());
        CHECK(decoder.stats().truncated == 1);
    }
    SECTION("shorter than the header says") {
        std::vector<std::byte> cut(good.begin(), good.end() - 1);
        CHECK_FALSE(decoder.decode(cut).ok());
        CHECK(decoder.stats().truncated == 1);
    }
    SECTION("a size that does not match the type") {
        auto r = sample_lookup();
        r.hdr.size = 64;
        CHECK_FALSE(decoder.decode(bytes_of(r)).ok());
        CHECK(decoder.stats().truncated == 1);
    }
    SECTION("unknown type") {
        auto r = sample_lookup();
        r.hdr.type = 999;
        auto res = decoder.decode(bytes_of(r));
        CHECK_FALSE(res.ok());
        CHECK(res.error().find("unknown event type 999") != std::string::npos);
        CHECK(decoder.stats().unknown_type == 1);
    }
    SECTION("unknown version") {
        auto r = sample_lookup();
        r.hdr.version = 2;
        CHECK_FALSE(decoder.decode(bytes_of(r)).ok());
        CHECK(decoder.stats().bad_version == 1);
    }
    SECTION("empty") {
        CHECK_FALSE(decoder.decode({}).ok());
        CHECK(decoder.stats().rejected() == 1);
    }
    CHECK(decoder.stats().decoded == 0);
}

TEST_CASE("every byte-length prefix of a valid record is handled") {
    EventDecoder decoder;
    auto good = bytes_of(sample_lookup());
    for (size_t n = 0; n < good.size(); ++n) CHECK_FALSE(decoder.decode(std::span(good).first(n)).ok());
    CHECK(decoder.decode(good).ok());
    CHECK(decoder.stats().decoded == 1);
    CHECK(decoder.stats().rejected() == good.size());
}

TEST_CASE("a kernel WireGuard peer lookup decodes, and its prefixes are rejected") {
    wgbpf_wireguard r{};
    r.hdr = {WGBPF_EV_WIREGUARD, WGBPF_WIREGUARD_VERSION, sizeof(r), 777, 0, 4026532000u, 0, 0};
    r.pkt.id = 0xabc;
    r.pkt.family = WGBPF_FAMILY_IPV4;
    r.ifindex = 9;
    r.action = WGBPF_WG_DECRYPT;
    r.found = 1;
    for (int i = 0; i < 32; ++i) r.peer_key[i] = uint8_t(0xa0 + i);
    auto record = bytes_of(r);
    auto e = decode_event(record);
    REQUIRE(e.ok());
    const auto* wg = std::get_if<WireguardKernelEvent>(&e.value());
    REQUIRE(wg);
    CHECK(wg->pkt.id == 0xabc);
    CHECK(wg->ifindex == 9);
    CHECK(wg->action == WgKernelAction::decrypt);
    CHECK(wg->verdict == WgVerdict::ok);
    CHECK(wg->found);
    CHECK(wg->peer_key[31] == 0xa0 + 31);
    CHECK(wg->netns == 4026532000u);
    for (size_t n = 0; n < record.size(); ++n) CHECK_FALSE(decode_event(std::span(record).first(n)).ok());
}

TEST_CASE("a version 1 WireGuard record (recordings before `queued`) decodes with nothing queued; other sizes and "
          "versions are rejected") {
    wgbpf_wireguard r{};
    r.hdr = {WGBPF_EV_WIREGUARD, 1, 152, 777, 0, 4026532000u, 0, 0};
    r.action = WGBPF_WG_ENCRYPT;
    r.found = 1;
    r.queued = 99; // beyond a version 1 record: never read
    auto record = bytes_of(r);
    auto e = decode_event(std::span(record).first(152));
    REQUIRE(e.ok());
    CHECK(std::get<WireguardKernelEvent>(e.value()).queued == 0);
    CHECK(std::get<WireguardKernelEvent>(e.value()).verdict == WgVerdict::ok);
    CHECK_FALSE(std::get<WireguardKernelEvent>(e.value()).session_checked); // version 1: no session check
    r.hdr.size = sizeof(r);                                                 // version 1 never had 160 bytes
    CHECK_FALSE(decode_event(bytes_of(r)).ok());
    r.hdr.version = 3;
    CHECK_FALSE(decode_event(bytes_of(r)).ok());
    r.hdr.version = WGBPF_WIREGUARD_VERSION;
    r.hdr.size = 152;
    auto v2short = bytes_of(r);
    CHECK_FALSE(decode_event(std::span(v2short).first(152)).ok());
}

TEST_CASE("the staged queue and its purge decode: a send with no session and how many wait, a purge and its cause") {
    wgbpf_wireguard r{};
    r.hdr = {WGBPF_EV_WIREGUARD, WGBPF_WIREGUARD_VERSION, sizeof(r), 777, 0, 4026532000u, 0, 0};
    r.action = WGBPF_WG_ENCRYPT;
    r.found = 1;
    r.verdict = WGBPF_WGV_NO_SESSION;
    r.queued = 130;
    auto e = decode_event(bytes_of(r));
    REQUIRE(e.ok());
    CHECK(std::get<WireguardKernelEvent>(e.value()).verdict == WgVerdict::no_session);
    CHECK(std::get<WireguardKernelEvent>(e.value()).queued == 130);
    CHECK(std::get<WireguardKernelEvent>(e.value()).session_checked);
    r.verdict = WGBPF_WGV_SESSION_UNSURE; // a key about to expire: not told
    e = decode_event(bytes_of(r));
    REQUIRE(e.ok());
    CHECK(std::get<WireguardKernelEvent>(e.value()).verdict == WgVerdict::ok);
    CHECK_FALSE(std::get<WireguardKernelEvent>(e.value()).session_checked);
    r.action = WGBPF_WG_PURGE;
    r.verdict = WGBPF_WGV_GAVE_UP;
    r.queued = 7;
    e = decode_event(bytes_of(r));
    REQUIRE(e.ok());
    const auto& purge = std::get<WireguardKernelEvent>(e.value());
    CHECK(purge.action == WgKernelAction::purge);
    CHECK(purge.verdict == WgVerdict::gave_up);
    CHECK(purge.queued == 7);
    for (auto [raw, verdict] : {std::pair{WGBPF_WGV_PEER_REMOVED, WgVerdict::peer_removed},
                                {WGBPF_WGV_DEVICE_DOWN, WgVerdict::device_down},
                                {WGBPF_WGV_FLOOD, WgVerdict::flood},
                                {WGBPF_WGV_TIMESTAMP, WgVerdict::timestamp_refused}}) {
        r.verdict = uint8_t(raw);
        e = decode_event(bytes_of(r));
        REQUIRE(e.ok());
        CHECK(std::get<WireguardKernelEvent>(e.value()).verdict == verdict);
    }
}

TEST_CASE("kernel WireGuard verdicts decode: a source outside the sender's allowed IPs, a refused handshake, and a "
          "failed send lookup of an older probe (no verdict byte) as no peer") {
    wgbpf_wireguard r{};
    r.hdr = {WGBPF_EV_WIREGUARD, WGBPF_WIREGUARD_VERSION, sizeof(r), 777, 0, 4026532000u, 0, 0};
    r.action = WGBPF_WG_DECRYPT;
    r.found = 1;
    r.verdict = WGBPF_WGV_SRC_NOT_ALLOWED;
    auto e = decode_event(bytes_of(r));
    REQUIRE(e.ok());
    CHECK(std::get<WireguardKernelEvent>(e.value()).verdict == WgVerdict::src_not_allowed);

    r.action = WGBPF_WG_HANDSHAKE;
    r.found = 0;
    r.verdict = WGBPF_WGV_REJECTED;
    r.message = 1;
    e = decode_event(bytes_of(r));
    REQUIRE(e.ok());
    const auto& hs = std::get<WireguardKernelEvent>(e.value());
    CHECK(hs.action == WgKernelAction::handshake);
    CHECK(hs.verdict == WgVerdict::rejected);
    CHECK(hs.message == 1);

    r.action = WGBPF_WG_ENCRYPT;
    r.verdict = 0;
    r.message = 0;
    e = decode_event(bytes_of(r));
    REQUIRE(e.ok());
    CHECK(std::get<WireguardKernelEvent>(e.value()).verdict == WgVerdict::no_peer);
    CHECK(verdict_name(WgVerdict::no_peer) == "no_peer");

    r.action = WGBPF_WG_RECEIVE;
    r.verdict = WGBPF_WGV_UNKNOWN_INDEX;
    e = decode_event(bytes_of(r));
    REQUIRE(e.ok());
    CHECK(std::get<WireguardKernelEvent>(e.value()).action == WgKernelAction::receive);
    CHECK(std::get<WireguardKernelEvent>(e.value()).verdict == WgVerdict::unknown_index);
}

TEST_CASE("a device record with the packet's first bytes (--snaplen) decodes to a device event carrying them; a "
          "plain one carries none") {
    wgbpf_device_capture r{};
    r.dev.hdr = {WGBPF_EV_DEVICE_CAPTURE, WGBPF_DEVICE_CAPTURE_VERSION, sizeof(r), 555, 0, 4026532000u, 0, 0};
    r.dev.pkt.id = 0xdef;
    r.dev.pkt.family = WGBPF_FAMILY_IPV4;
    r.dev.pkt.len = 84;
    r.dev.ifindex = 4;
    r.dev.direction = WGBPF_DEV_EGRESS;
    r.orig_len = 84;
    r.cap_len = 3;
    r.bytes[0] = 0x45;
    r.bytes[2] = 0x54;
    r.bytes[3] = 0xff; // past cap_len: not the packet's
    auto record = bytes_of(r);
    auto e = decode_event(record);
    REQUIRE(e.ok());
    const auto* d = std::get_if<DeviceEvent>(&e.value());
    REQUIRE(d);
    CHECK(d->pkt.id == 0xdef);
    CHECK(d->ifindex == 4);
    CHECK(d->direction == DeviceEvent::Direction::egress);
    CHECK(d->wire_len == 84);
    CHECK(d->bytes == std::vector<uint8_t>{0x45, 0, 0x54});
    r.cap_len = 9999; // more than the record holds: only what it holds
    auto big = decode_event(bytes_of(r));
    REQUIRE(big.ok());
    CHECK(std::get<DeviceEvent>(big.value()).bytes.size() == WGBPF_SNAPLEN_MAX);
    for (size_t n = 0; n < record.size(); ++n) CHECK_FALSE(decode_event(std::span(record).first(n)).ok());

    wgbpf_device plain = r.dev;
    plain.hdr = {WGBPF_EV_DEVICE, WGBPF_DEVICE_VERSION, sizeof(plain), 555, 0, 4026532000u, 0, 0};
    auto p = decode_event(bytes_of(plain));
    REQUIRE(p.ok());
    CHECK(std::get<DeviceEvent>(p.value()).bytes.empty());
    CHECK_FALSE(std::get<DeviceEvent>(p.value()).new_buffer);

    // A buffer a device made: said only of an arrival (the flag means nothing on a departure).
    plain.flags = WGBPF_DEV_F_NEW_BUFFER;
    CHECK_FALSE(std::get<DeviceEvent>(decode_event(bytes_of(plain)).value()).new_buffer);
    plain.direction = WGBPF_DEV_INGRESS;
    CHECK(std::get<DeviceEvent>(decode_event(bytes_of(plain)).value()).new_buffer);
}
