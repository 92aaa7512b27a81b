#include <catch2/catch_test_macros.hpp>

#include "timeline_fixtures.hpp"
#include "timeline/wireguard_link.hpp"

using namespace wgbpf;
using namespace wgbpf::test;

TEST_CASE("WireGuard messages are read from the UDP payload, little endian, sizes checked") {
    auto data = parse_wg_message(outer_out(1, 128, wg_data(0x9b11b4, 0x0102030405)));
    REQUIRE(data);
    CHECK(data->type == WgMessageType::transport_data);
    CHECK(data->length == 128);
    CHECK(data->receiver_index == 0x9b11b4u);
    CHECK(data->counter == 0x0102030405u);
    CHECK_FALSE(data->sender_index);
    CHECK_FALSE(data->keepalive());

    auto keepalive = parse_wg_message(outer_out(1, 32, wg_data(7, 9)));
    REQUIRE(keepalive);
    CHECK(keepalive->keepalive());

    auto init = parse_wg_message(outer_out(1, 148, wg_initiation(0xabcdef01)));
    REQUIRE(init);
    CHECK(init->type == WgMessageType::handshake_initiation);
    CHECK(init->sender_index == 0xabcdef01u);
    CHECK_FALSE(init->receiver_index);

    auto response = parse_wg_message(outer_in(1, 92, wg_response(0x11, 0xabcdef01)));
    REQUIRE(response);
    CHECK(response->type == WgMessageType::handshake_response);
    CHECK(response->sender_index == 0x11u);
    CHECK(response->receiver_index == 0xabcdef01u);

    auto cookie = parse_wg_message(outer_in(1, 64, wg_header(3, 0x22, 0)));
    REQUIRE(cookie);
    CHECK(cookie->type == WgMessageType::cookie_reply);
    CHECK(cookie->receiver_index == 0x22u);

    // Sizes that do not fit the type, unknown types, reserved bytes, no payload, not UDP.
    CHECK_FALSE(parse_wg_message(outer_out(1, 147, wg_initiation(1))));
    CHECK_FALSE(parse_wg_message(outer_out(1, 93, wg_response(1, 2))));
    CHECK_FALSE(parse_wg_message(outer_out(1, 65, wg_header(3, 1, 0))));
    CHECK_FALSE(parse_wg_message(outer_out(1, 31, wg_data(1, 2))));
    CHECK_FALSE(parse_wg_message(outer_out(1, 128, wg_header(5, 1, 0))));
    auto reserved = wg_data(1, 2);
    reserved[2] = 1;
    CHECK_FALSE(parse_wg_message(outer_out(1, 128, reserved)));
    PacketInfo no_payload = outer_out(1, 128, wg_data(1, 2));
    no_payload.has_udp_payload = false;
    CHECK_FALSE(parse_wg_message(no_payload));
    PacketInfo no_header_length = outer_out(1, 128, wg_data(1, 2));
    no_header_length.l3_len = 0; // the payload length cannot be known
    CHECK_FALSE(parse_wg_message(no_header_length));
    CHECK_FALSE(parse_wg_message(icmp_packet(1, "10.0.0.1", "198.51.100.9", 8)));
}

TEST_CASE("outer packets are WireGuard's by listen port or peer endpoint") {
    std::vector<WgInterface> wg = {client_wg0()};
    auto out = match_outer_packet(outer_out(1, 128, wg_data(1, 2)), true, wg);
    REQUIRE(out);
    CHECK(out->interface->name == "wg0");
    REQUIRE(out->peer);
    CHECK(out->peer->public_key == kServerKey);

    auto in = match_outer_packet(outer_in(1, 128, wg_data(1, 2)), false, wg);
    REQUIRE(in);
    CHECK(in->peer == out->peer);

    // Another host talking to our listen port: ours, peer unknown (roaming, or a new initiator).
    PacketInfo stranger = udp_packet(1, "198.51.100.77", 40000, "192.168.178.48", 51820, 148, wg_initiation(1));
    auto s = match_outer_packet(stranger, false, wg);
    REQUIRE(s);
    CHECK(s->peer == nullptr);

    // From a random local port to the peer's endpoint: still the peer.
    PacketInfo other_port = udp_packet(1, "192.168.178.48", 40000, "203.0.113.123", 51820, 128, wg_data(1, 2));
    auto o = match_outer_packet(other_port, true, wg);
    REQUIRE(o);
    CHECK(o->peer);

    // Neither: DNS.
    CHECK_FALSE(match_outer_packet(udp_packet(1, "192.168.178.48", 40000, "192.168.178.1", 53, 40, {}), true, wg));
    // Direction matters: seen as incoming, the source port 40000 is the remote one.
    CHECK_FALSE(match_outer_packet(udp_packet(1, "192.168.178.48", 51820, "192.168.178.1", 53, 40, {}), false, wg));
    CHECK_FALSE(match_outer_packet(icmp_packet(1, "10.0.0.1", "198.51.100.9", 8), true, wg));
}

TEST_CASE("cryptokey routing: the peer with the longest allowed prefix") {
    WgInterface wg = client_wg0();
    WgPeer lan;
    lan.public_key = "LANpeerLANpeerLANpeerLANpeerLANpeerLANpeer0=";
    lan.allowed_ips = {net("10.0.0.0/24"), net("fd00::/64")};
    wg.peers.push_back(lan);
    CHECK(peer_for_address(wg, ip("198.51.100.9"))->public_key == kServerKey);
    CHECK(peer_for_address(wg, ip("10.0.0.254"))->public_key == lan.public_key);
    CHECK(peer_for_address(wg, ip("fd00::9"))->public_key == lan.public_key);
    CHECK(peer_for_address(wg, ip("2001:db8::1")) == nullptr);
}

TEST_CASE("outer payload = 32 + inner length padded to 16, at most") {
    CHECK(carries_inner(128, 84)); // the seed's ping: 84 -> 96
    CHECK(carries_inner(128, 96));
    CHECK(carries_inner(128, 81));
    CHECK_FALSE(carries_inner(128, 80)); // 80 pads to 80
    CHECK_FALSE(carries_inner(128, 97));
    CHECK(carries_inner(1452, 1420)); // MTU 1420: padding stops at the MTU
    CHECK_FALSE(carries_inner(32, 0));
    CHECK_FALSE(carries_inner(20, 10));
}

TEST_CASE("WireGuard steps name the action, peer and indexes") {
    std::vector<WgInterface> wg = {client_wg0()};
    PacketInfo out = outer_out(1, 128, wg_data(kServerIndex, 2));
    WireguardStep s = wireguard_step(*parse_wg_message(out), *match_outer_packet(out, true, wg), out, true, 5);
    CHECK(s.action == WgAction::encrypt);
    CHECK(s.direction == WgDirection::out);
    CHECK(s.interface == "wg0");
    CHECK(s.peer == kServerKey);
    CHECK(s.endpoint == "203.0.113.123:51820");
    CHECK(s.receiver_index == kServerIndex);
    CHECK(s.counter == 2u);
    CHECK(s.t_ns == 5);

    PacketInfo in = outer_in(1, 128, wg_data(kClientIndex, 9));
    CHECK(wireguard_step(*parse_wg_message(in), *match_outer_packet(in, false, wg), in, false, 5).action ==
          WgAction::decrypt);
    PacketInfo ka = outer_in(1, 32, wg_data(kClientIndex, 10));
    CHECK(wireguard_step(*parse_wg_message(ka), *match_outer_packet(ka, false, wg), ka, false, 5).action ==
          WgAction::keepalive);
    PacketInfo init = outer_out(1, 148, wg_initiation(0x42));
    WireguardStep i = wireguard_step(*parse_wg_message(init), *match_outer_packet(init, true, wg), init, true, 5);
    CHECK(i.action == WgAction::handshake_initiation);
    CHECK(i.sender_index == 0x42u);
    CHECK_FALSE(i.counter);
}

TEST_CASE("the linker pairs by peer, order and length, in either order, within its window") {
    WireguardLinker linker(50);
    WgLinkKey key{kNs, "wg0", kServerKey, true};
    WgLinkKey other{kNs, "wg0", "other", true};

    // Inner first (the usual order), two waiting: the outer takes the oldest that fits.
    CHECK_FALSE(linker.add_inner(key, {1, 10, 84, {}}));
    CHECK_FALSE(linker.add_inner(key, {2, 11, 1000, {}}));
    CHECK_FALSE(linker.add_inner(key, {3, 12, 84, {}}));
    CHECK(linker.waiting(1));
    auto big = linker.add_outer(key, {4, 20, outer_payload(1000), {}});
    REQUIRE(big);
    CHECK(big->timeline == 2);
    auto small = linker.add_outer(key, {5, 21, outer_payload(84), {}});
    REQUIRE(small);
    CHECK(small->timeline == 1);
    CHECK_FALSE(linker.waiting(1));
    CHECK(linker.waiting(3));

    // Another peer's queue is another queue.
    CHECK_FALSE(linker.add_outer(other, {6, 22, outer_payload(84), {}}));
    CHECK(linker.waiting(6));

    // Outer first: the inner finds it.
    CHECK_FALSE(linker.add_outer(WgLinkKey{kNs, "wg0", kServerKey, false}, {7, 30, outer_payload(84), {}}));
    auto outer = linker.add_inner(WgLinkKey{kNs, "wg0", kServerKey, false}, {8, 31, 84, {}});
    REQUIRE(outer);
    CHECK(outer->timeline == 7);

    // Too old: not paired, and expired.
    CHECK_FALSE(linker.add_outer(key, {9, 100, outer_payload(84), {}})); // #3 (t 12) is past the window
    CHECK_FALSE(linker.waiting(3));
    linker.expire(200);
    CHECK(linker.queued() == 0);

    // A dropped packet is forgotten.
    CHECK_FALSE(linker.add_inner(key, {10, 300, 84, {}}));
    linker.forget(10);
    CHECK_FALSE(linker.add_outer(key, {11, 301, outer_payload(84), {}}));
    CHECK(linker.waiting(11));
}
